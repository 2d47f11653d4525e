"""Stand-in for the Workers runtime's compatibility-flag module (runtime-only, not on PyPI).

Mocked because only workerd provides it: every flag reads as off, the behaviour of a
Worker with no opt-in compatibility flags.
"""


def __getattr__(name: str) -> bool:
    return False
