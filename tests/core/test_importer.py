"""The package finder (``daloy_edge._importer``): the same modules as the standard import
system gives, read from the bytecode cache with fewer steps, and the standard machinery
for everything outside the plain case.

Every test runs a fresh interpreter on a package written to a temporary folder, served
by ``install(["pkg"])`` as the core serves its own packages.
"""

from __future__ import annotations

import ast
import os
import py_compile
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import sys
events = []
def hook(event, args):
    if event == "open" and isinstance(args[0], str):
        events.append((event, args[0]))
    elif event == "compile" and isinstance(args[1], str):  # (source, filename)
        events.append((event, args[1]))
sys.addaudithook(hook)
from daloy_edge._importer import PackageFinder, _CachedSourceLoader, install
install(["pkg"])
def served(module):
    return type(module.__spec__.loader) is _CachedSourceLoader
"""


def run(folder: Path, code: str, *flags: str, env: dict[str, str] | None = None) -> object:
    """Run ``code`` after :data:`PRELUDE` in a fresh interpreter; what it assigned to
    ``result`` (a Python literal)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    child_env.pop("DALOY_STANDARD_IMPORTS", None)
    child_env.update(env or {}, PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]))
    script = PRELUDE + textwrap.dedent(code) + "\nprint(repr(result))\n"
    done = subprocess.run(
        [sys.executable, *flags, "-c", script],
        cwd=folder,
        env=child_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """``pkg`` with two modules, a subpackage and a data file."""
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "a.py", "VALUE = 1\ndef where():\n    raise RuntimeError('here')\n")
    write(tmp_path / "pkg" / "b.py", "from pkg.a import VALUE\nDOUBLE = VALUE * 2\n")
    write(tmp_path / "pkg" / "sub" / "__init__.py", "NAME = 'sub'\n")
    write(tmp_path / "pkg" / "sub" / "c.py", "from pkg.b import DOUBLE\nTRIPLE = DOUBLE + 1\n")
    write(tmp_path / "pkg" / "data.txt", "payload")
    return tmp_path


IMPORT_ALL = """
import pkg.a, pkg.b, pkg.sub, pkg.sub.c
mods = [pkg.a, pkg.b, pkg.sub, pkg.sub.c]
"""


def test_served_modules_are_read_from_the_cache_without_compiling(package: Path) -> None:
    first = run(package, IMPORT_ALL + "result = [served(m) for m in mods]")
    # No cache files yet: the standard loader compiled the sources and wrote them.
    assert first == [True, True, True, True]
    caches = sorted(p.name for p in package.rglob("*.pyc"))
    assert [name.split(".")[0] for name in caches] == ["__init__", "__init__", "a", "b", "c"]

    second = run(
        package,
        IMPORT_ALL
        + """
result = {
    "values": [pkg.a.VALUE, pkg.b.DOUBLE, pkg.sub.NAME, pkg.sub.c.TRIPLE],
    "served": [served(m) for m in mods],
    "files": [m.__file__ for m in mods],
    "cached": [m.__cached__ for m in mods],
    "path": pkg.sub.__path__,
    "compiled": [p for e, p in events if e == "compile" and "pkg" in p],
    "opened": sorted(p.rsplit("/", 1)[-1] for e, p in events if e == "open" and "pkg" in p),
}
""",
    )
    assert isinstance(second, dict)
    assert second["values"] == [1, 2, "sub", 3]
    assert second["served"] == [True, True, True, True]
    sub = package / "pkg" / "sub"
    assert second["files"] == [
        str(package / "pkg" / "a.py"),
        str(package / "pkg" / "b.py"),
        str(sub / "__init__.py"),
        str(sub / "c.py"),
    ]
    tag = sys.implementation.cache_tag
    assert second["cached"][0] == str(package / "pkg" / "__pycache__" / f"a.{tag}.pyc")
    assert second["cached"][2] == str(sub / "__pycache__" / f"__init__.{tag}.pyc")
    assert second["path"] == [str(sub)]
    # Read from the cache (opened through io.open_code, which audit hooks see) ...
    assert f"a.{tag}.pyc" in second["opened"]
    assert f"c.{tag}.pyc" in second["opened"]
    # ... and nothing compiled.
    assert second["compiled"] == []


ATTRIBUTES = """
import importlib, pkg.a, pkg.sub
from importlib.machinery import SourceFileLoader
def shape(module):
    spec = module.__spec__
    return {
        "dict": sorted(k for k in vars(module) if k.startswith("__")),
        "name": module.__name__, "file": module.__file__, "cached": module.__cached__,
        "package": module.__package__, "path": getattr(module, "__path__", "none"),
        "loader": isinstance(module.__loader__, SourceFileLoader),
        "same loader": module.__loader__ is spec.loader,
        "spec": [spec.name, spec.origin, spec.cached, spec.parent, spec.has_location,
                 spec.submodule_search_locations, spec.loader_state],
        "source": module.__loader__.get_source(module.__name__)[:9],
        "package?": module.__loader__.is_package(module.__name__),
    }
result = [served(pkg.a), served(pkg.sub), shape(pkg.a), shape(pkg.sub)]
"""


def test_modules_look_exactly_as_the_standard_import_makes_them(package: Path) -> None:
    run(package, "import pkg.a, pkg.sub\nresult = 0")
    served = run(package, ATTRIBUTES)
    standard = run(package, ATTRIBUTES, env={"DALOY_STANDARD_IMPORTS": "1"})
    assert isinstance(served, list)
    assert isinstance(standard, list)
    assert served[:2] == [True, True]
    assert standard[:2] == [False, False]
    assert served[2:] == standard[2:]


def test_a_changed_source_is_compiled_again(package: Path) -> None:
    run(package, "import pkg.a\nresult = 0")
    source = package / "pkg" / "a.py"
    stat = source.stat()
    source.write_text("VALUE = 10\n")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    result = run(
        package,
        "import pkg.a\nresult = [pkg.a.VALUE, [e for e, p in events if p.endswith('a.py')]]",
    )
    assert result == [10, ["open", "compile"]]
    assert run(package, "import pkg.a\nresult = [pkg.a.VALUE, served(pkg.a)]") == [10, True]


def test_a_same_sized_change_within_the_same_second_is_caught_by_the_size(
    package: Path,
) -> None:
    run(package, "import pkg.a\nresult = 0")
    source = package / "pkg" / "a.py"
    stat = source.stat()
    source.write_text(source.read_text() + "EXTRA = 1\n")
    # Same whole second as the cache file records: only the size tells them apart.
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run(package, "import pkg.a\nresult = pkg.a.EXTRA") == 1


def test_a_corrupt_or_foreign_cache_file_is_replaced(package: Path) -> None:
    run(package, "import pkg.a\nresult = 0")
    cache = next((package / "pkg" / "__pycache__").glob("a.*.pyc"))
    cache.write_bytes(b"\0\0\0\0" + cache.read_bytes()[4:])
    assert run(package, "import pkg.a\nresult = pkg.a.VALUE") == 1
    assert cache.read_bytes()[:4] != b"\0\0\0\0"
    cache.write_bytes(cache.read_bytes()[:12])  # truncated header
    assert run(package, "import pkg.a\nresult = pkg.a.VALUE") == 1


@pytest.mark.parametrize(
    ("mode", "flags", "expected"),
    [
        # The standard loader checks a checked hash against the source: the new value.
        (py_compile.PycInvalidationMode.CHECKED_HASH, (), 10),
        # It trusts an unchecked hash without reading the source: the compiled value ...
        (py_compile.PycInvalidationMode.UNCHECKED_HASH, (), 1),
        # ... unless told to check every hash.
        (py_compile.PycInvalidationMode.UNCHECKED_HASH, ("--check-hash-based-pycs", "always"), 10),
        # Told never to check one, it trusts a checked hash too.
        (py_compile.PycInvalidationMode.CHECKED_HASH, ("--check-hash-based-pycs", "never"), 1),
    ],
    ids=["checked", "unchecked", "unchecked-always", "checked-never"],
)
def test_hash_based_cache_files_keep_their_standard_meaning(
    package: Path, mode: py_compile.PycInvalidationMode, flags: tuple[str, ...], expected: int
) -> None:
    source = package / "pkg" / "a.py"
    py_compile.compile(str(source), invalidation_mode=mode, doraise=True)
    source.write_text("VALUE = 10\n")
    assert run(package, "import pkg.a\nresult = pkg.a.VALUE", *flags) == expected


def test_an_extension_module_of_the_same_name_wins_as_in_the_standard_finder(
    package: Path,
) -> None:
    # Not a loadable library: the import fails, as it does without the finder, rather
    # than quietly loading ``a.py``.
    (package / "pkg" / f"a{_extension_suffixes()[0]}").write_bytes(b"not a shared library")
    result = run(
        package,
        """
try:
    import pkg.a
except ImportError as exc:
    result = type(exc).__name__
else:
    result = "loaded the source"
""",
    )
    assert result == "ImportError"


def _extension_suffixes() -> list[str]:
    import importlib.machinery

    return list(importlib.machinery.EXTENSION_SUFFIXES)


def test_a_folder_without_init_stays_a_namespace_package(package: Path) -> None:
    write(package / "pkg" / "ns" / "x.py", "X = 'x'\n")
    result = run(
        package,
        """
import pkg.ns.x
result = [pkg.ns.x.X, getattr(pkg.ns, "__file__", None), served(pkg.ns.x)]
""",
    )
    # The namespace package comes from the standard finder; a module inside it has
    # a folder of its own and is served.
    assert result == ["x", None, True]


def test_sourceless_modules_go_to_the_standard_loader(package: Path) -> None:
    source = package / "pkg" / "gone.py"
    write(source, "GONE = 'compiled only'\n")
    py_compile.compile(str(source), cfile=str(package / "pkg" / "gone.pyc"), doraise=True)
    source.unlink()
    result = run(package, "import pkg.gone\nresult = [pkg.gone.GONE, served(pkg.gone)]")
    assert result == ["compiled only", False]


def test_modules_added_or_removed_later_are_seen(package: Path) -> None:
    write(package / "pkg" / "r1.py", "")
    write(package / "pkg" / "r2.py", "")
    result = run(
        package,
        """
import importlib, os, pkg.a
folder = os.path.dirname(pkg.a.__file__)
def missing(name):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        return True
    return False
listed = os.stat(folder)
# A changed folder is listed again, as the standard finder does ...
os.remove(os.path.join(folder, "r1.py"))
os.utime(folder, ns=(listed.st_atime_ns, listed.st_mtime_ns + 1_000_000_000))
gone_after_change = missing("pkg.r1")
# ... and importlib.invalidate_caches() drops the listings even when the time is the same.
changed = os.stat(folder)
os.remove(os.path.join(folder, "r2.py"))
os.utime(folder, ns=(changed.st_atime_ns, changed.st_mtime_ns))
importlib.invalidate_caches()
gone_after_invalidate = missing("pkg.r2")
with open(os.path.join(folder, "late.py"), "w") as f:
    f.write("LATE = True\\n")
importlib.invalidate_caches()
import pkg.late
result = [gone_after_change, gone_after_invalidate, pkg.late.LATE, served(pkg.late)]
""",
    )
    assert result == [True, True, True, True]


def test_a_relative_package_path_goes_to_the_standard_finder(package: Path) -> None:
    run(package, "import pkg.a\nresult = 0")
    result = run(
        package,
        """
import os, pkg
pkg.__path__[:] = ["pkg"]
import pkg.a
result = [pkg.a.__file__, served(pkg.a)]
""",
    )
    assert result == [str(package / "pkg" / "a.py"), False]


def test_a_moved_tree_names_its_files_where_they_are_now(package: Path, tmp_path: Path) -> None:
    run(package, "import pkg.a\nresult = 0")
    moved = tmp_path / "moved"
    shutil.copytree(package / "pkg", moved / "pkg", copy_function=shutil.copy2)
    result = run(
        moved,
        """
import traceback, pkg.a
try:
    pkg.a.where()
except RuntimeError as exc:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
result = [served(pkg.a), pkg.a.where.__code__.co_filename, frame.filename, frame.line]
""",
    )
    path = str(moved / "pkg" / "a.py")
    assert result == [True, path, path, "raise RuntimeError('here')"]


def test_reload_source_and_resources_work_as_with_the_standard_loader(package: Path) -> None:
    run(package, "import pkg.a\nresult = 0")
    result = run(
        package,
        """
import importlib, importlib.resources, inspect, os, pkg, pkg.a
source = inspect.getsource(pkg.a).splitlines()[0]
data = importlib.resources.files("pkg").joinpath("data.txt").read_text()
path = pkg.a.__file__
stat = os.stat(path)
with open(path, "w") as f:
    f.write("VALUE = 5\\n")
os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 3_000_000_000))
importlib.reload(pkg.a)
result = [source, data, pkg.a.VALUE, served(pkg.a)]
""",
    )
    assert result == ["VALUE = 1", "payload", 5, True]


def test_optimized_runs_use_their_own_cache_files(package: Path) -> None:
    write(package / "pkg" / "checks.py", "assert False, 'stripped under -O'\nOK = True\n")
    for _ in range(2):  # the second run reads what the first wrote
        result = run(
            package, "import pkg.checks\nresult = [pkg.checks.OK, pkg.checks.__cached__]", "-O"
        )
        assert isinstance(result, list)
        assert result[0] is True
        assert result[1].endswith(".opt-1.pyc")


@pytest.mark.parametrize(
    "mode",
    [py_compile.PycInvalidationMode.TIMESTAMP, py_compile.PycInvalidationMode.UNCHECKED_HASH],
    ids=["timestamp", "unchecked-hash"],
)
def test_a_served_import_runs_far_fewer_python_calls_than_the_standard_one(
    package: Path, mode: py_compile.PycInvalidationMode
) -> None:
    for index in range(20):
        write(package / "pkg" / "many" / f"m{index}.py", f"N = {index}\n")
        py_compile.compile(
            str(package / "pkg" / "many" / f"m{index}.py"), invalidation_mode=mode, doraise=True
        )
    write(package / "pkg" / "many" / "__init__.py", "")
    counting = """
import importlib
importlib.import_module("pkg.many")
calls = 0
def profile(frame, event, arg):
    global calls
    if event == "call":
        calls += 1
sys.setprofile(profile)
for index in range(20):
    importlib.import_module(f"pkg.many.m{index}")
sys.setprofile(None)
result = [calls / 20, served(sys.modules["pkg.many.m0"])]
"""
    fast = run(package, counting)
    standard = run(
        package,
        counting.replace(
            'importlib.import_module("pkg.many")',
            """\
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, PackageFinder)]
importlib.import_module("pkg.many")""",
        ),
    )
    assert isinstance(fast, list)
    assert isinstance(standard, list)
    assert fast[1] is True
    assert standard[1] is False
    assert fast[0] < 0.6 * standard[0], (fast, standard)


CORE = """
import daloy_edge, daloy_edge_aws_lambda
mods = [m for n, m in sorted(sys.modules.items()) if n.startswith("daloy_edge")]
result = {
    "unserved": [m.__name__ for m in mods if not served(m)],
    "finders": [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path],
}
"""


def test_the_core_and_its_adapters_load_through_the_finder(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "sys.meta_path.insert(0, type('Hook', (), {'find_spec': staticmethod(lambda *a: None)}))\n"
        + CORE,
    )
    assert isinstance(result, dict)
    # The top-level packages come from the standard finder, as does the finder itself.
    assert result["unserved"] == ["daloy_edge", "daloy_edge._importer", "daloy_edge_aws_lambda"]
    # In front of the standard finders, behind a hook another tool put first.
    assert result["finders"][:5] == [
        "Hook",
        "PackageFinder",
        "BuiltinImporter",
        "FrozenImporter",
        "PathFinder",
    ]


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (("-v",), {}),
        ((), {"DALOY_STANDARD_IMPORTS": "1"}),
        ((), {"PYTHONPYCACHEPREFIX": "cache-prefix"}),
    ],
    ids=["verbose", "opted-out", "pycache-prefix"],
)
def test_not_installed_where_it_would_change_what_python_does(
    tmp_path: Path, flags: tuple[str, ...], env: dict[str, str]
) -> None:
    code = """
import daloy_edge._app
result = [any(isinstance(f, PackageFinder) for f in sys.meta_path), served(daloy_edge._app)]
"""
    # PRELUDE's own install(["pkg"]) call must not install it either.
    assert run(tmp_path, code, *flags, env=env) == [False, False]
