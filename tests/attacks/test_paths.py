"""Path traversal, CRLF and NUL injection through the request target: always a clear 400."""

from __future__ import annotations

import pytest

from daloy_edge._paths import UnsafePath, check_path
from daloy_edge.testing import TestClient

TRAVERSALS = [
    "/static/../secure_app.py",
    "/static/..",
    "/static/./hello.txt",
    "/static/%2e%2e/secure_app.py",
    "/static/%2E%2E/secure_app.py",
    "/static/.%2e/secure_app.py",
    "/static/%2e./secure_app.py",
    "/static/%252e%252e/secure_app.py",
    "/static/%25252e%25252e/secure_app.py",
    # Encoded four times: as many decoding rounds as check_path reads.
    "/static/%2525252e%2525252e/secure_app.py",
    "/static/..%2fsecure_app.py",
    "/static/..%2Fsecure_app.py",
    "/static/%2e%2e%2fsecure_app.py",
    "/static/%2e%2e%5csecure_app.py",
    "/static/..%5csecure_app.py",
    "/static/..\\secure_app.py",
    "/static\\..\\secure_app.py",
    "/static/%5c..%5csecure_app.py",
    "/static/..;/secure_app.py",
    "/static/%2e%2e;jsessionid=1/x",
    "/static/%c0%ae%c0%ae/secure_app.py",
    "/static/%e0%80%ae%e0%80%ae/x",
    "/static/%ef%bc%8e%ef%bc%8e/secure_app.py",
    "/static/\uff0e\uff0e/secure_app.py",
    # Read by a layer that folds compatibility characters (NFKC) as "../" and "..\\".
    "/static/..\uff0fsecure_app.py",
    "/static/\uff0e\uff0e\uff0fsecure_app.py",
    "/static/\u2025\uff0f..\uff0fsecure_app.py",
    "/static/..%ef%bc%8fsecure_app.py",
    "/static/..\uff3csecure_app.py",
    "/static/..%ef%b9%a8secure_app.py",
    "/static/%u002e%u002e/x",
    "/static/...%2f..%2f/x",
    "/static/hello.txt%00.png",
    "/static/hello.txt\x00.png",
    "/static/a%0d%0aSet-Cookie:%20x=1",
    "/static/a%0aLocation:%20evil",
    "/static/a%0d",
    "/static/a\r\nx",
    "/static/a%7f",
    "/static/a%c2%85b",
    "/static/a%e2%80%a8b",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%252E%252E%252Fetc%252Fpasswd",
    "/static/..%00/x",
    "/static/%2e/hello.txt",
    "/static/a%ff",
]


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_check_path_refuses_traversal_and_control_characters(raw: str) -> None:
    with pytest.raises(UnsafePath):
        check_path(raw)


@pytest.mark.parametrize(
    "raw", ["/", "/static/hello.txt", "/a%20b", "/caf%C3%A9", "/a..b/c.d", "/a\uff0fb/c.d"]
)
def test_check_path_accepts_ordinary_paths(raw: str) -> None:
    assert check_path(raw).startswith("/")


@pytest.fixture(scope="module")
def client() -> TestClient:
    from examples.secure_app import create_app

    return TestClient(create_app({}))


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_app_answers_400_problem_for_unsafe_path(client: TestClient, raw: str) -> None:
    response = client.get(raw)
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "secure_app" not in response.text


def test_double_slash_prefix_does_not_escape_static_root(client: TestClient) -> None:
    assert client.get("/static//etc/passwd").status == 404


def test_absolute_path_inside_static_param_is_not_served(client: TestClient) -> None:
    assert client.get("/static/%2fetc%2fpasswd").status == 404


def test_hidden_files_are_not_served(client: TestClient) -> None:
    assert client.get("/static/.gitkeep").status == 404


@pytest.mark.parametrize("raw", ["/a\n", "/static/hello.txt\n", "/a\r", "/a\t"])
def test_trailing_line_break_is_refused(raw: str) -> None:
    with pytest.raises(UnsafePath):
        check_path(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/static/\u2025/x",
        "/static/\u2024\uff0e/x",
        "/static/\u3000\ufe52\u00a0/x",
        "/static/%e2%80%80..%e3%80%80/x",
        "/static/\u2024;a/x",
    ],
)
def test_dot_segment_spelled_in_compatibility_characters_is_refused(raw: str) -> None:
    with pytest.raises(UnsafePath):
        check_path(raw)


def test_segment_of_reordered_combining_marks_is_never_normalised_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # NFKC sorts a run of combining marks by insertion: marks of class 230 then 220 make
    # it quadratic in the run's length.
    import unicodedata

    lengths: list[int] = []
    normalize = unicodedata.normalize
    monkeypatch.setattr(
        unicodedata,
        "normalize",
        lambda form, text: lengths.append(len(text)) or normalize(form, text),
    )
    check_path("/static/" + "\u0301" * 2000 + "\u0316" * 2000 + "/x.txt")
    assert lengths and max(lengths) == 1


def test_dot_segment_check_agrees_with_nfkc_of_the_whole_segment() -> None:
    import random
    import unicodedata

    from daloy_edge._paths import _folds_to_dots

    def reference(segment: str) -> bool:
        return unicodedata.normalize("NFKC", segment).strip() in (".", "..")

    singles = [chr(code) for code in range(0x80, 0x10000) if not 0xD800 <= code < 0xE000]
    assert [c for c in singles if _folds_to_dots(c)] == [c for c in singles if reference(c)]
    alphabet = ". a\u00a0\u00a8\u0301\u0316\u0f73\u1680\u2000\u2024\u2025\u2026\u200b"
    alphabet += "\u3000\ufe52\uff0e\uff9e"
    picks = random.Random(7)
    for _ in range(20_000):
        segment = "".join(picks.choices(alphabet, k=picks.randint(1, 6)))
        assert _folds_to_dots(segment) == reference(segment), repr(segment)
