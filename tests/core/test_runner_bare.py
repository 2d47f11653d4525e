"""The runner without asyncio: a coroutine's first step runs with no event loop, and a
coroutine that turns out to need asyncio becomes a real task. Each case runs in a fresh
interpreter, since asyncio must not be loaded beforehand (pytest's plugins load it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import sys
from daloy_edge._runner import Runner
assert "asyncio" not in sys.modules, "asyncio was loaded before the test"
runner = Runner()
"""


def _child(body: str) -> str:
    code = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_coroutine_that_never_waits_needs_no_asyncio() -> None:
    out = _child("""
        async def quick():
            return 41 + 1
        print(runner.run(quick()), "asyncio" in sys.modules)
    """)
    assert out == "42 False"


def test_exceptions_propagate_from_the_first_step() -> None:
    out = _child("""
        async def fails():
            raise ValueError("bad")
        try:
            runner.run(fails())
        except ValueError as exc:
            print("raised", exc, "asyncio" in sys.modules)
    """)
    assert out == "raised bad False"


def test_asyncio_imported_mid_step_gets_a_loop_and_a_task_at_once() -> None:
    out = _child("""
        async def lazy():
            import asyncio
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            async with asyncio.timeout(5):
                await asyncio.sleep(0.01)
            value = await asyncio.to_thread(lambda: 40)
            return value + 2, asyncio.current_task() is task, asyncio.get_running_loop() is loop
        print(runner.run(lazy()))
        import asyncio
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            print("no loop left running")
    """)
    assert out.splitlines() == ["(42, True, True)", "no loop left running"]


def test_asyncio_imported_mid_step_without_waiting_finishes_cleanly() -> None:
    out = _child("""
        import gc, warnings
        warnings.simplefilter("error")
        async def imports_only():
            import asyncio
            return asyncio.current_task() is not None
        print(runner.run(imports_only()))
        async def later():
            import asyncio
            await asyncio.sleep(0)
            return "task path"
        print(runner.run(later()))
        gc.collect()
    """)
    assert out.splitlines() == ["True", "task path"]


def test_timeouts_fire_after_the_step_became_a_task() -> None:
    out = _child("""
        async def slow():
            import asyncio
            async with asyncio.timeout(0.02):
                await asyncio.sleep(5)
        try:
            runner.run(slow())
        except TimeoutError:
            print("timed out")
    """)
    assert out == "timed out"


def test_context_variables_do_not_leak_between_runs() -> None:
    out = _child("""
        from contextvars import ContextVar
        var = ContextVar("var", default="unset")
        async def sets():
            var.set("set in a request")
            return var.get()
        print(runner.run(sets()), var.get())
    """)
    assert out == "set in a request unset"


@pytest.mark.parametrize("lazy_import", [True, False], ids=["lazy-asyncio", "asyncio-loaded"])
def test_the_app_deadline_cuts_off_a_waiting_handler(lazy_import: bool) -> None:
    out = _child(f"""
        if not {lazy_import}:
            import asyncio
        from daloy_edge import App, Request
        from daloy_edge_aws_lambda import handler

        app = App(request_timeout=0.05, request_log=False)

        @app.get("/slow")
        async def slow(request: Request) -> dict[str, bool]:
            import asyncio
            await asyncio.sleep(5)
            return {{"ok": True}}

        @app.get("/fast")
        async def fast(request: Request) -> dict[str, bool]:
            return {{"ok": True}}

        h = handler(app)
        def event(path):
            return {{"version": "2.0", "rawPath": path, "rawQueryString": "", "headers": {{}},
                     "requestContext": {{"http": {{"method": "GET", "path": path,
                     "sourceIp": "198.51.100.1"}}}}}}
        print(h(event("/fast"), None)["statusCode"], "asyncio" in sys.modules)
        print(h(event("/slow"), None)["statusCode"])
        print(h(event("/fast"), None)["statusCode"])
    """)
    assert out.splitlines() == [f"200 {not lazy_import}", "504", "200"]


@pytest.mark.parametrize("waits", [False, True], ids=["bare", "task"])
def test_a_shared_context_carries_variables_to_the_next_run(waits: bool) -> None:
    out = _child(f"""
        from contextvars import ContextVar, copy_context
        var = ContextVar("var", default="unset")
        async def sets():
            if {waits}:
                import asyncio
                await asyncio.sleep(0)
            var.set("set by the first")
        async def reads():
            return var.get()
        scope = copy_context()
        runner.run(sets(), scope)
        print(runner.run(reads(), scope), runner.run(reads()), var.get())
    """)
    assert out == "set by the first unset unset"


def test_a_step_that_waits_without_asyncio_becomes_one_task() -> None:
    # The runner itself imports asyncio once the first step has waited: that import is
    # not one made during the step, so the watcher leaves it alone.
    out = _child("""
        import types

        @types.coroutine
        def bare_yield():
            yield

        async def waits_bare():
            await bare_yield()
            import asyncio
            return len(asyncio.all_tasks())

        print(runner.run(waits_bare()), "asyncio" in sys.modules)
    """)
    assert out == "1 True"


def test_asyncio_imported_mid_step_in_a_nested_call_finds_its_step() -> None:
    out = _child("""
        def deep(n):
            if n:
                return deep(n - 1)
            import asyncio
            return asyncio.current_task() is not None

        async def nested():
            return deep(50)

        print(runner.run(nested()))
    """)
    assert out == "True"
