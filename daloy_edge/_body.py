"""Bounded body reading: nothing past the limit is ever pulled from the source."""

from __future__ import annotations

from _collections_abc import AsyncIterator  # collections.abc would import collections

from daloy_edge._errors import BadRequest, PayloadTooLarge

__all__ = ["BodySource", "read_bounded"]

# Built at run time (it is exported), hence the ABC from ``_abc``.
BodySource = bytes | AsyncIterator[bytes]


def declared_length(value: str | None) -> int | None:
    """The ``Content-Length`` as an int; a malformed one is a 400."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise BadRequest("Content-Length is not a valid length")
    return int(text)


async def read_bounded(source: BodySource, limit: int, declared: int | None) -> bytes:
    """Read the whole body, refusing (413) as soon as it would pass ``limit``.

    A declared ``Content-Length`` larger than the limit is refused before anything is
    read; a body that disagrees with its declared length is a 400.
    """
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body exceeds {limit} bytes")
    if isinstance(source, bytes):
        if len(source) > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
        data = source
    else:
        chunks: list[bytes] = []
        total = 0
        async for chunk in source:
            total += len(chunk)
            if total > limit:
                # The error's traceback keeps this frame alive until the collector runs
                # (the error stays in ``request.state`` for the observers, and the frames
                # hold the request): drop the partial body and the last chunk now, so
                # refused uploads do not pile up in memory.
                chunks.clear()
                del chunk
                await _close(source)
                raise PayloadTooLarge(f"body exceeds {limit} bytes")
            if declared is not None and total > declared:
                chunks.clear()
                del chunk
                await _close(source)
                raise BadRequest("body is longer than Content-Length")
            chunks.append(chunk)
        data = b"".join(chunks)
    if declared is not None and len(data) != declared:
        raise BadRequest("body length does not match Content-Length")
    return data


class Refused:
    """The body source of a request whose body read failed: each later read fails with
    the same error rather than read on where the first one stopped."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __aiter__(self) -> Refused:
        return self

    async def __anext__(self) -> bytes:
        raise self.error.with_traceback(None)  # not the frames of every earlier read


async def _close(source: AsyncIterator[bytes]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
