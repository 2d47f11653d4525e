"""Inside Pyodide: run test snippets and dispatch requests the way workerd does.

workerd finds a ``WorkerEntrypoint`` subclass in the main module by its ``__name__``,
constructs it with ``(ctx, env)`` for each request, converts the JS ``Request`` with the
SDK's ``python_from_rpc`` and the result back with ``python_to_rpc``. ``dispatch`` does
the same, so the real SDK's wrapping is what the adapter meets.
"""

import importlib.util
import inspect
import json
import sys

from workers import WorkerEntrypoint, python_from_rpc, python_to_rpc

MAIN_DIR = "/session/metadata"
_isolates: dict[tuple[str, str], object] = {}


async def run_json(code: str) -> str:
    """Execute ``code`` (which defines ``async def main()``) and return its result as JSON."""
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    exec(compile(code, "<snippet>", "exec"), namespace)
    return json.dumps(await namespace["main"]())


def _load(module_name: str, isolate: str) -> object:
    # A fresh module object per isolate: its entrypoint class (and the app it caches)
    # is new, as in a newly started Worker isolate.
    key = (module_name, isolate)
    if key not in _isolates:
        path = f"{MAIN_DIR}/{module_name.replace('.', '/')}.py"
        unique = f"{module_name}__isolate_{len(_isolates)}"
        spec = importlib.util.spec_from_file_location(unique, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
        _isolates[key] = module
    return _isolates[key]


def _entrypoint_class(module: object, name: str) -> type:
    cls = getattr(module, name)
    if not (inspect.isclass(cls) and issubclass(cls, WorkerEntrypoint)):
        raise TypeError(f"{name} is not a WorkerEntrypoint subclass")
    if getattr(module, cls.__name__, None) is not cls:
        raise TypeError(f"workerd looks classes up by __name__; {cls.__name__!r} is not {name}")
    return cls


async def dispatch(entry: str, isolate: str, request, env, ctx):
    """Serve one JS Request with ``module:Class`` from the isolate named ``isolate``.

    ``module:on_fetch`` is the older module-level handler form, which gets the raw JS
    ``Request``, ``env`` and ``ctx``.
    """
    module_name, _, name = entry.partition(":")
    module = _load(module_name, isolate)
    if name == "on_fetch":
        return await module.on_fetch(request, env, ctx)
    instance = _entrypoint_class(module, name)(ctx, env)
    result = instance.fetch(python_from_rpc(request))
    if inspect.isawaitable(result):
        result = await result
    return python_to_rpc(result)
