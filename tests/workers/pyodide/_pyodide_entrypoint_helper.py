"""Stand-in for the Workers runtime's entrypoint helper (runtime-only, not on PyPI).

Mocked because only workerd provides it. The SDK calls ``patchWaitUntil(ctx)`` so that
``ctx.waitUntil`` accepts Python awaitables; the adapter never relies on that patch (it
hands ``waitUntil`` real JS promises), so the stand-in leaves ``ctx`` untouched, which
proves exactly that.
"""


def patchWaitUntil(ctx: object) -> None:
    return None
