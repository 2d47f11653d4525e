"""``raw_path`` without ``re`` for plain paths, against the regex it had for every path."""

from __future__ import annotations

import random
import re

import pytest
from daloy_edge_aws_lambda._encoding import raw_path

_OLD = {
    True: re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/]"),
    False: re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]"),
}


def _old_raw_path(path: str | None, decoded: bool) -> str:
    if not path:
        return "/"
    old = _OLD[decoded]
    if old.search(path) is None:
        return path
    return old.sub(lambda m: "".join(f"%{byte:02X}" for byte in m.group(0).encode("utf-8")), path)


@pytest.mark.parametrize("decoded", [True, False])
def test_raw_path_agrees_with_the_regex(decoded: bool) -> None:
    rng = random.Random(1)
    alphabet = "aZ09/-._~!$&'()*+,;=:@%2fF \n\t\x00\x7f\"<>[]{}#?\\é€😀"
    paths = [
        *("/" + "".join(rng.choices(alphabet, k=rng.randint(0, 14))) for _ in range(6000)),
        *("/" + "".join(rng.choices("a/%2fFg.", k=rng.randint(0, 10))) for _ in range(3000)),
        None,
        "",
        "/health",
        "/a%2Fb",
        "/a%zz",
        "/a b",
        "/health\n",
    ]
    for path in paths:
        assert raw_path(path, decoded) == _old_raw_path(path, decoded), repr(path)
