"""The reference app's URL shape check against the regular expression it replaced."""

from __future__ import annotations

import random
import re

from examples.reference.egress import has_scheme

ORACLE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
ALPHABET = "aZ09+.-:/_@ \n\té\u0661\u00aa\u2160"


def test_has_scheme_agrees_with_the_regex() -> None:
    rng = random.Random(3)
    samples = ["", ":", "a:", "http://x", "1a:", "a+b.c-d:", "é:", "ª:", "a\u0661:", "a b:"]
    samples += ["".join(rng.choices(ALPHABET, k=rng.randint(0, 8))) for _ in range(20000)]
    for url in samples:
        assert has_scheme(url) is (ORACLE.match(url) is not None), repr(url)
