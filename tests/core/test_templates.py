"""Route templates read without ``re``, against the regex that read them before."""

from __future__ import annotations

import random
import re

import pytest

from daloy_edge import App, ConfigError
from daloy_edge._templates import (
    SegmentPattern,
    check_template,
    parameters,
    path_parameter_misuse,
    template_matcher,
    template_regex,
)
from daloy_edge.testing import TestClient

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")


def _old_compile(path: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for match in _PARAM.finditer(path):
        parts.append(re.escape(path[last : match.start()]))
        name, kind = match.group(1), match.group(2)
        parts.append(f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)")
        last = match.end()
    parts.append(re.escape(path[last:]))
    return re.compile("^" + "".join(parts) + "$")


def _templates() -> list[str]:
    rng = random.Random(5)
    pieces = [
        "{",
        "}",
        "a",
        "Z",
        "_",
        "9",
        ":",
        "path",
        ":path",
        "/",
        ".",
        "{id}",
        "é",
        "{{",
        "{p:path}",
        "{a",
    ]
    found = ["/" + "".join(rng.choices(pieces, k=rng.randint(0, 8))) for _ in range(6000)]
    return [*found, "/items/{id}", "/static/{path:path}", "/{a:pat}", "/{a:path", "/{9}"]


def test_parameters_are_the_regex_matches() -> None:
    for template in _templates():
        expected = [
            (m.start(), m.end(), m.group(1), m.group(2) or "") for m in _PARAM.finditer(template)
        ]
        assert parameters(template) == expected, repr(template)


def test_template_regex_is_the_one_compiled_before() -> None:
    for template in _templates():
        try:
            old: re.Pattern[str] | None = _old_compile(template)
        except re.error:
            old = None
        if old is None:
            with pytest.raises(re.error):
                check_template(template)
        else:
            check_template(template)
            assert template_regex(template).pattern == old.pattern, repr(template)


def test_a_name_used_twice_is_refused_at_registration() -> None:
    app = App(request_log=False)
    with pytest.raises(re.error, match="redefinition of group name"):
        app.add_route("/{id}/{id}", lambda request: None)


@pytest.mark.parametrize(
    ("template", "brace"),
    [
        ("/items/{id:int}", "{id:int}"),
        ("/items/{id:str}", "{id:str}"),
        ("/files/{rest:path}/{kind:uuid}", "{kind:uuid}"),
        ("/items/{id", "{id"),
        ("/items/id}", "}"),
        ("/items/{}", "{}"),
        ("/items/{9}", "{9}"),
    ],
)
def test_a_converter_or_brace_that_is_no_parameter_refuses_to_build(
    template: str, brace: str
) -> None:
    # Read as literal text, such a route matched no request but its own template.
    app = App(request_log=False)
    with pytest.raises(ConfigError, match=re.escape(repr(brace))):
        app.add_route(template, lambda request: None)


def test_a_template_route_compiles_its_pattern_when_first_tried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from daloy_edge import _routes

    compiled: list[str] = []

    def counting(template: str) -> re.Pattern[str] | SegmentPattern:
        compiled.append(template)
        return template_matcher(template)

    monkeypatch.setattr(_routes, "template_matcher", counting)
    app = App(request_log=False)

    @app.get("/health")
    async def health(request):  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    @app.get("/items/{item_id}")
    async def item(request):  # type: ignore[no-untyped-def]
        return {"id": request.path_params["item_id"]}

    client = TestClient(app)
    assert client.get("/health").status == 200
    assert compiled == []
    assert client.get("/items/42").json() == {"id": "42"}
    assert client.get("/items/7").json() == {"id": "7"}
    assert client.get("/items/7/x").status == 404
    assert compiled == ["/items/{item_id}"]


def _shared_segment_templates() -> list[str]:
    rng = random.Random(11)
    pieces = ["{a}", "{b}", "{c}", "{p:path}", ".", "-", "/", "x", "ab", ".x"]
    found = []
    while len(found) < 400:
        names = iter(["n1", "n2", "n3", "n4", "n5", "n6"])
        chosen = rng.choices(pieces, k=rng.randint(2, 6))
        template = "/" + "".join(
            "{" + next(names) + "}" if p in ("{a}", "{b}", "{c}") else p for p in chosen
        )
        if path_parameter_misuse(template) is None and isinstance(
            template_matcher(template), SegmentPattern
        ):
            found.append(template)
    return found


def test_a_segment_pattern_gives_the_parameters_the_regex_gives() -> None:
    rng = random.Random(12)
    pieces = [".", "-", "/", "x", "a", "ab", ".x", "x."]
    for template in _shared_segment_templates():
        regex, pattern = template_regex(template), template_matcher(template)
        for _ in range(40):
            path = "/" + "".join(rng.choices(pieces, k=rng.randint(0, 7)))
            expected = regex.match(path)
            got = pattern.match(path)
            assert (got and got.groupdict()) == (expected and expected.groupdict()), (
                template,
                path,
            )


@pytest.mark.parametrize(
    ("template", "served"),
    [("/v/{major}.{minor}.{patch}", "/v/1.2.3"), ("/v/{a}{b}{c}/x", "/v/1.2.3/x")],
)
def test_parameters_sharing_a_segment_are_not_matched_by_a_backtracking_regex(
    monkeypatch: pytest.MonkeyPatch, template: str, served: str
) -> None:
    # Such a regex tried every split of the segment on a path that did not match: a
    # 2 KB path of "a." took seconds, and held every other request back meanwhile.
    from daloy_edge import _router, _templates

    compiled: list[str] = []

    def recording(template: str) -> re.Pattern[str]:
        compiled.append(template)
        return template_regex(template)

    monkeypatch.setattr(_templates, "template_regex", recording)
    monkeypatch.setattr(_router, "template_regex", recording, raising=False)
    app = App(request_log=False)
    app.add_route(template, lambda request: dict(request.path_params))
    client = TestClient(app)
    assert client.get("/v/" + "a." * 200 + "/").status == 404
    assert client.get(served).status == 200
    assert compiled == []


@pytest.mark.parametrize(
    "template",
    ["/a/{rest:path}/{more:path}", "/a/{name}.{rest:path}", "/a/{rest:path}-{name}"],
)
def test_a_path_parameter_that_is_not_the_rest_of_the_path_refuses_to_build(
    template: str,
) -> None:
    # Two of them (or one beside another parameter) matched by a regex trying every
    # split: time growing as a power of the path's length.
    app = App(request_log=False)
    with pytest.raises(ConfigError, match="takes the rest of the path"):
        app.add_route(template, lambda request: None)
