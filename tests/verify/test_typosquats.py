from __future__ import annotations

from daloy_edge.verify import Status
from daloy_edge.verify.gates.typosquats import near_misses, popular_names
from tests.verify.conftest import gate
from tests.verify.locks import lock, package


def test_flags_a_one_letter_swap_of_requests(layout):
    result = gate(
        layout({"uv.lock": lock(package("reqeusts"), deps=["reqeusts"])}), "known-dep-names"
    )
    assert [f.message for f in result.findings] == [
        "reqeusts is one or two edits from requests: a typosquat? check the name"
    ]


def test_flags_an_added_letter_on_a_long_name(layout):
    assert near_misses("cryptographyy", popular_names()) == ["cryptography"]


def test_popular_and_distant_names_pass(layout):
    names = ["requests", "pyjwt", "zqxv-unrelated-lib"]
    files = {"uv.lock": lock(*(package(n) for n in names), deps=names)}
    assert gate(layout(files), "known-dep-names").status is Status.PASS


def test_separators_and_case_do_not_count_as_edits():
    assert near_misses("Typing_Extensions", popular_names()) == []


def test_waiver_in_pyproject_accepts_one_name(layout):
    files = {
        "uv.lock": lock(package("reqeusts"), deps=["reqeusts"]),
        "pyproject.toml": (
            '[[tool.daloy-edge.verify.waive]]\ngate = "known-dep-names"\npath = "uv.lock"\n'
            'match = "reqeusts "\nreason = "our own internal fork, published under this name"\n'
        ),
    }
    result = gate(layout(files), "known-dep-names")
    assert result.status is Status.PASS
    assert result.detail.endswith("(1 waived)")
