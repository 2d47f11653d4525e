"""Streamed bodies for tests of how the app and its runtimes close them."""

from __future__ import annotations


class Cursor:
    """A streamed body that is no generator: what it holds (a database cursor, a pooled
    connection) is released by ``aclose`` alone, which can fail."""

    def __init__(self, *, close_fails: bool = False) -> None:
        self.rows = [b"one,", b"two"]
        self.closes = 0
        self.close_fails = close_fails

    def __aiter__(self) -> Cursor:
        return self

    async def __anext__(self) -> bytes:
        if not self.rows:
            raise StopAsyncIteration
        return self.rows.pop(0)

    async def aclose(self) -> None:
        self.closes += 1
        if self.close_fails:
            raise RuntimeError("cursor close failed: password=hunter2-on-close")
