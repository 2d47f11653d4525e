"""Run a request's coroutine to completion from synchronous code (the Lambda adapter).

Most invocations never wait on I/O: their coroutine finishes in its first step. While no
code in the process has imported :mod:`asyncio`, that step runs with no event loop at all,
so a cold start does not pay for importing asyncio (a large share of one). The first
coroutine that does wait continues as a real asyncio task on the runner's one event loop,
and every later coroutine runs as a task from its start:

- asyncio imported *during* that first step (by a lazy import in a handler, say) gets a
  running loop and a current task straight away, so ``get_running_loop()``,
  ``current_task()``, ``asyncio.timeout()`` and task groups work mid-step as usual; the
  step then continues inside that task if it waits;
- each coroutine runs in its own copy of the context, as a task would, so context
  variables set while serving one request never leak into the next.
"""

from __future__ import annotations

import sys
from _contextvars import Context, copy_context  # contextvars only re-exports these
from _thread import _local, get_ident  # threading is not loaded at a cold start
from os import getpid

from daloy_edge import _copies

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Coroutine, Generator
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["Runner", "call_outside_loop", "resume", "run_as_task"]


class Runner:
    """Runs coroutines for synchronous callers; one event loop per thread, made on first
    need.

    For callers that run one coroutine at a time on each thread, as the Lambda runtime
    does on its one: a
    coroutine stepped bare on one thread while another thread loads asyncio would see
    asyncio without a running loop. Threaded servers run each request as a task.
    """

    __slots__ = ("_generation", "_loop", "_others", "_owner", "_pid")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = _copies.generation
        self._pid = 0
        self._owner = get_ident()
        self._others = _local()

    def event_loop(self) -> asyncio.AbstractEventLoop:
        """The runner's event loop for this thread (created, and asyncio imported, on
        first call). A loop runs on one thread at a time: a test suite invoking a Lambda
        handler from a pool got "This event loop is already running", or a hang, when
        every thread shared one. Asked here, not per run: a coroutine that never waits
        needs no loop."""
        if get_ident() != self._owner:
            others = self._others
            runner: Runner | None = getattr(others, "runner", None)
            if runner is None:
                runner = others.runner = Runner()
            return runner.event_loop()
        import asyncio

        loop = self._loop
        if self._generation != _copies.generation and loop is not None:
            self._generation = _copies.generation
            if self._pid != getpid() and not loop.is_closed():
                # Made before this process was forked: its epoll instance and wake-up
                # socket are the parent's too.
                _copies.keep(loop)
                loop = None
            # A SnapStart restore is the same process, on a machine of its own: the loop
            # carries on, with whatever start-up hooks run while priming bound to it (a
            # client, a pool, a task). Swapped for a new one, every request after the
            # restore failed on them ("bound to a different event loop").
        if loop is None or loop.is_closed():
            # Made in an empty context: a loop's wake-up handle keeps a copy of the
            # context it was made in for as long as the loop lives. Made in the first
            # request's, it held that request (its headers, its body) and, through
            # Flask's request context, the app, the handler and this runner: a cycle
            # whose loop the collector could finalize first, its close then re-entered
            # by this runner's ``__del__`` ("'NoneType' object has no attribute 'close'").
            loop = self._loop = Context().run(asyncio.new_event_loop)
            self._generation, self._pid = _copies.generation, getpid()
        return loop

    def __del__(self) -> None:
        # A thread's own runner goes when its thread ends: its loop is closed now,
        # while it is whole, not by the collector in whatever order it frees the loop's
        # cycle (which fails on the loop's already closed wake-up socket).
        loop = self._loop
        if loop is None or loop.is_closed() or loop.is_running():
            return
        if self._pid == getpid():
            loop.close()
        else:
            # The runner of a thread the fork left behind, collected in the child: its
            # loop is the parent's too (see ``_copies.keep``).
            _copies.keep(loop)

    def run(self, coro: Coroutine[Any, Any, T], context: Context | None = None) -> T:
        """Run ``coro`` to completion and return its result (or raise its exception).

        It runs in ``context``, by default a copy of the current one, as a task would:
        pass the context an earlier coroutine ran in to see the variables it set.
        """
        if "asyncio" in sys.modules:
            return run_as_task(self.event_loop(), coro, context)
        # The bare step, written out here (and built without ``type.__call__``): it runs
        # for every invocation.
        step: _BareStep = _new(_BareStep)
        step.runner = self
        step.coro = coro
        step.context = copy_context() if context is None else context
        # The watcher finds ``step`` in this frame, so nothing records it elsewhere.
        step.pending = _STEPPING
        step.task = None
        if sys.meta_path[0] is not _WATCHER:
            sys.meta_path.insert(0, _WATCHER)
        try:
            pending = step.context.run(coro.send, None)
        except StopIteration as done:
            step.pending = _FINISHED
            if step.task is not None:
                step.settle()
            result: T = done.value
            return result
        except BaseException:
            step.pending = _FINISHED
            if step.task is not None:
                step.settle()
            raise
        return step.wait(pending)  # type: ignore[no-any-return]


def run_as_task(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], context: Context | None = None
) -> T:
    """Run ``coro`` as a task on ``loop``, from synchronous code on the loop's thread (a
    loop running there already is set aside meanwhile: see :func:`_set_aside`).

    A task whose first step finishes it costs one loop iteration (``_run_once``) instead
    of ``run_until_complete``'s set-up and tear-down. Loops without ``_run_once`` (not
    CPython's) take the usual path.

    When one callback is all the loop has ready (the task's first step) and no timer is
    pending, that iteration runs the callback without polling for I/O first, as an
    iteration whose poll found nothing would: the poll is a system call on every
    invocation. I/O that is ready meanwhile is handled by the next iteration that polls,
    the first one of any coroutine that waits. Any other state (more callbacks, timers,
    cancelled ones to drop, debug mode) takes the full iteration.
    """
    import asyncio

    if loop.is_running():
        return loop.run_until_complete(coro)  # raises: the loop is busy
    outer = asyncio.events._get_running_loop()
    if outer is not None:
        result: T = _set_aside(outer, run_as_task, loop, coro, context)
        return result
    task = loop.create_task(coro, context=context)
    run_once = getattr(loop, "_run_once", None)
    if run_once is None:
        return loop.run_until_complete(task)
    ready = getattr(loop, "_ready", None)
    asyncio.events._set_running_loop(loop)
    try:
        if (
            ready is not None
            and len(ready) == 1
            and not loop._scheduled  # type: ignore[attr-defined]
            and not loop._debug  # type: ignore[attr-defined]
        ):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()
        else:
            run_once()
    finally:
        asyncio.events._set_running_loop(None)
    if task.done():
        return task.result()
    return loop.run_until_complete(task)


def _set_aside(outer: asyncio.AbstractEventLoop, fn: Callable[..., T], /, *args: object) -> T:
    """Call ``fn`` with ``outer``, the loop running on this thread (the caller runs on it:
    an async test invoking a Lambda handler), set aside, then put back with its task.
    Left in place, the runner's loop refused to run beside it; run over it, the caller's
    loop was no longer the running one, and its next ``await`` failed with "no running
    event loop". Its task is set aside too for :func:`call_outside_loop`: on Python 3.14
    a plain handler's own ``asyncio.run(main())`` could not enter its task, and hung."""
    import asyncio

    # Python 3.14 keeps one current task per thread, not one per loop: the caller's is
    # taken out too, or the runner's task could not be entered (3.12 and 3.13 keep one
    # per loop, which swapping does not change; 3.11 cannot swap, nor needs to).
    swap = getattr(asyncio.tasks, "_swap_current_task", None)
    current = asyncio.current_task(outer) if swap is not None else None
    if swap is not None and current is not None:
        swap(outer, None)
    asyncio.events._set_running_loop(None)
    try:
        return fn(*args)
    finally:
        asyncio.events._set_running_loop(outer)
        if swap is not None and current is not None:
            swap(outer, current)


class _BareStep:
    """One coroutine's first step without an event loop, and its continuation as a task."""

    __slots__ = ("context", "coro", "pending", "runner", "task")

    # Set by ``Runner.run``.
    runner: Runner
    coro: Coroutine[Any, Any, Any]
    context: Context
    pending: object  # what the coroutine waits on; ``_STEPPING``, ``_FINISHED``
    task: asyncio.Task[Any] | None

    def wait(self, pending: object) -> Any:
        """The first step waits on ``pending``: only asyncio can wake the coroutine."""
        self.pending = pending
        task = self.task or self._start_task()
        self._step_out(task)
        return self.runner.event_loop().run_until_complete(task)

    def _start_task(self) -> asyncio.Task[Any]:
        """Become a task (with a running loop) from here on; called once asyncio is loaded."""
        import asyncio

        loop = self.runner.event_loop()
        asyncio.events._set_running_loop(loop)
        task = self.task = loop.create_task(self._continue(), context=self.context)
        asyncio.tasks._enter_task(loop, task)
        return task

    def _step_out(self, task: asyncio.Task[Any]) -> None:
        import asyncio

        asyncio.tasks._leave_task(task.get_loop(), task)
        asyncio.events._set_running_loop(None)

    def settle(self) -> None:
        """The step finished without waiting: let the task started mid-step end at once."""
        task = self.task
        if task is not None:
            self._step_out(task)
            task.get_loop().run_until_complete(task)

    async def _continue(self) -> Any:
        if self.pending is _FINISHED:
            return None
        return await _Resume(self.coro, self.pending)


def resume(coro: Any, pending: object) -> Generator[Any, Any, Any]:
    """Yield what ``coro`` (a coroutine or its ``__await__`` iterator) already yielded to
    whatever drives this generator, then keep driving ``coro`` to its end: ``yield from
    resume(...)`` hands a half-run coroutine to a task, or wraps one inside another."""
    while True:
        try:
            sent = yield pending
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                pending = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                pending = coro.send(sent)
            except StopIteration as done:
                return done.value


class _Resume:
    """An awaitable for :func:`resume`."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: object) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield from resume(self.coro, self.pending))


class _AsyncioWatcher:
    """A meta path finder that sees asyncio being imported during a bare step.

    Installed by the first bare step and left in place (a finder is only asked about
    modules not imported yet, so it costs nothing on a warm path); it removes itself
    once asyncio is loaded.
    """

    __slots__ = ()

    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "asyncio":
            return None
        step = _active_step()
        if step is None or step.pending is not _STEPPING or step.task is not None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _ThenStart(spec.loader, step)  # type: ignore[assignment]
                return spec
        return None


def call_outside_loop(fn: Callable[..., T], /, *args: object) -> T:
    """Call the synchronous ``fn`` with no event loop running, as a plain caller would, so
    that ``fn`` may run a loop of its own (``asyncio.run(main())``).

    asyncio first imported by ``fn`` during a bare step makes the step no task while ``fn``
    runs (a running loop would refuse ``asyncio.run``), only once ``fn`` has returned.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        try:
            return fn(*args)
        finally:
            if "asyncio" in sys.modules:
                step = _active_step(through_barrier=True)
                if step is not None and step.pending is _STEPPING and step.task is None:
                    step._start_task()
    loop = asyncio._get_running_loop()
    if loop is None:
        return fn(*args)
    return _set_aside(loop, fn, *args)


def _active_step(*, through_barrier: bool = False) -> _BareStep | None:
    """The bare step running on this thread: the ``step`` of the innermost
    :meth:`Runner.run` on this thread's stack, unless :func:`call_outside_loop` stands
    between. Looked up only while asyncio is being imported, so that no run pays for
    recording it (a thread-local costs two writes)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _OUTSIDE_CODE and not through_barrier:
            return None
        if frame.f_code is _RUN_CODE:
            step = frame.f_locals.get("step")
            return step if isinstance(step, _BareStep) else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


class _ThenStart:
    """Load asyncio with its own loader, then make the bare step a task."""

    __slots__ = ("loader", "step")

    def __init__(self, loader: Any, step: _BareStep) -> None:
        self.loader = loader
        self.step = step

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # type: ignore[union-attr]
        self.loader.exec_module(module)
        if _WATCHER in sys.meta_path:
            sys.meta_path.remove(_WATCHER)
        self.step._start_task()


_FINISHED = object()
_STEPPING = object()  # a bare step's ``pending`` while its first step runs
_new = object.__new__
_WATCHER = _AsyncioWatcher()
_RUN_CODE = Runner.run.__code__
_OUTSIDE_CODE = call_outside_loop.__code__
