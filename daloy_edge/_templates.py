"""Route templates (``/items/{id}``, ``/static/{path:path}``) read without ``re``.

Routes are registered when the app module is imported, which is cold-start time on a
serverless runtime. Reading a template needs no regex; only matching does, so a
template's pattern is compiled (and ``re`` imported) by the first request that tries it.

>>> parameters("/files/{name}/{rest:path}")
[(7, 13, 'name', ''), (14, 25, 'rest', 'path')]
"""

from __future__ import annotations

from daloy_edge._charset import ALNUM, LOWER, UPPER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from re import Pattern

__all__ = [
    "check_template",
    "literal_brace",
    "parameters",
    "path_parameter_misuse",
    "template_matcher",
    "template_regex",
    "template_shape",
]

_NAME_START = frozenset(LOWER + UPPER + "_")
_NAME_REST = frozenset(ALNUM + "_")
_PATH_KIND = ":path"


def parameters(template: str) -> list[tuple[int, int, str, str]]:
    """Each ``{name}`` or ``{name:path}`` as (start, end, name, kind), kind ``"path"`` or
    ``""``: the matches of ``\\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\\}``, left to right."""
    found: list[tuple[int, int, str, str]] = []
    size = len(template)
    start = template.find("{")
    while start != -1:
        end = start + 1
        if end < size and template[end] in _NAME_START:
            end += 1
            while end < size and template[end] in _NAME_REST:
                end += 1
            name = template[start + 1 : end]
            kind = ""
            if template.startswith(_PATH_KIND + "}", end):
                kind = "path"
                end += len(_PATH_KIND)
            if template.startswith("}", end):
                found.append((start, end + 1, name, kind))
                start = template.find("{", end + 1)
                continue
        # Not a parameter: a regex scan would try again from the next character, and a
        # parameter can only start at a "{".
        start = template.find("{", start + 1)
    return found


def template_shape(template: str) -> str:
    """``template`` with its parameters' names left out: two templates of one shape
    match the same paths.

    >>> template_shape("/files/{name}/{rest:path}")
    '/files/{}/{:path}'
    """
    parts: list[str] = []
    last = 0
    for start, end, _, kind in parameters(template):
        parts.append(template[last:start])
        parts.append("{:path}" if kind == "path" else "{}")
        last = end
    parts.append(template[last:])
    return "".join(parts)


def template_regex(template: str) -> Pattern[str]:
    """The pattern a request path must match: ``{name}`` stands for one non-empty
    segment, ``{name:path}`` for the rest of the path; everything else is literal."""
    import re

    parts: list[str] = []
    last = 0
    for start, end, name, kind in parameters(template):
        parts.append(re.escape(template[last:start]))
        parts.append(f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)")
        last = end
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "$")


def template_matcher(template: str) -> Pattern[str] | SegmentPattern:
    """What routing matches a path against: :func:`template_regex`, or for a template
    with two parameters in one segment (``/v/{major}.{minor}``) a :class:`SegmentPattern`
    with the same answers. Such a regex tries every split of the segment, and again
    for each split of the segments before it, when the path does not match: a
    thousand-character path took seconds with three parameters (``/{a}.{b}.{c}``), and
    blocked every other request meanwhile."""
    found = parameters(template)
    for index in range(1, len(found)):
        if "/" not in template[found[index - 1][1] : found[index][0]]:
            return SegmentPattern(template, found)
    return template_regex(template)


class SegmentMatch:
    """The parameters a :class:`SegmentPattern` matched, read as from ``re.Match``."""

    __slots__ = ("_params",)

    def __init__(self, params: dict[str, str]) -> None:
        self._params = params

    def groupdict(self) -> dict[str, str]:
        """Each parameter's value by name."""
        return self._params


class SegmentPattern:
    """A template matched segment by segment, in time linear in the path; each
    parameter's value is the one :func:`template_regex` would give (the first takes
    all it can). Takes at most one ``{name:path}`` parameter, alone in its segment
    (see :func:`path_parameter_misuse`)."""

    __slots__ = ("_path_at", "_segments")

    def __init__(self, template: str, found: list[tuple[int, int, str, str]]) -> None:
        # Each segment as (literals, names): literals[i] comes before names[i], and
        # literals[-1] ends the segment.
        self._segments: list[tuple[list[str], list[str]]] = []
        self._path_at = -1
        at = 0
        for index, segment in enumerate(template.split("/")):
            literals, names, last = [], [], 0
            for start, end, name, kind in found:
                if at <= start and end <= at + len(segment):
                    literals.append(segment[last : start - at])
                    names.append(name)
                    last = end - at
                    if kind == "path":
                        self._path_at = index
            literals.append(segment[last:])
            self._segments.append((literals, names))
            at += len(segment) + 1

    def match(self, path: str) -> SegmentMatch | None:
        """The parameters when ``path`` matches, else None (``re.Pattern.match``)."""
        parts = path.split("/")
        segments, at = self._segments, self._path_at
        if at >= 0:
            after = len(segments) - at - 1
            if len(parts) < len(segments):
                return None
            # The "{name:path}" segment takes every part the segments around it leave.
            parts[at : len(parts) - after] = ["/".join(parts[at : len(parts) - after])]
        elif len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for (literals, names), text in zip(segments, parts, strict=True):
            if not _match_segment(literals, names, text, params):
                return None
        return SegmentMatch(params)


def _match_segment(literals: list[str], names: list[str], text: str, into: dict[str, str]) -> bool:
    if not names:
        return text == literals[0]
    head, tail = literals[0], literals[-1]
    if not text.startswith(head) or not text.endswith(tail):
        return False
    # Each literal between parameters at its last place that leaves every parameter
    # after it one character at least: the first parameter then takes all it can, as
    # a greedy regex gives it, and each next one all that is left to it.
    starts = [len(text) - len(tail)]
    for literal in reversed(literals[1:-1]):
        found = text.rfind(literal, len(head), starts[-1] - 1)
        if found == -1:
            return False
        starts.append(found)
    starts.reverse()
    begin = len(head)
    for name, stop, literal in zip(names, starts, literals[1:], strict=True):
        if stop <= begin:
            return False
        into[name] = text[begin:stop]
        begin = stop + len(literal)
    return True


def path_parameter_misuse(template: str) -> str | None:
    """What is wrong with the ``{name:path}`` parameters of ``template``, if anything:
    one takes the rest of the path, so a template holds one at most, with no other
    parameter in its segment."""
    if ":path}" not in template:
        return None  # most routes: nothing to parse
    found = parameters(template)
    rests = [(start, end) for start, end, _, kind in found if kind == "path"]
    if len(rests) > 1:
        return "more than one {name:path} parameter"
    for start, end in rests:
        for other_start, other_end, _, kind in found:
            between = template[other_end:start] if other_end <= start else template[end:other_start]
            if kind != "path" and "/" not in between:
                return "a parameter in the segment of its {name:path} parameter"
    return None


def literal_brace(template: str) -> str | None:
    """The first ``{`` or ``}`` of ``template`` that is not part of a parameter, with the
    text from it to the next brace (``"{id:int}"``); None when there is none.

    >>> literal_brace("/items/{id:int}"), literal_brace("/files/{rest:path}")
    ('{id:int}', None)
    """
    if "{" not in template and "}" not in template:
        return None  # most routes: nothing to parse
    last = 0
    for start, end, _, _ in [*parameters(template), (len(template), len(template), "", "")]:
        literal = template[last:start]
        opening, closing = literal.find("{"), literal.find("}")
        at = min(i for i in (opening, closing, len(literal)) if i != -1)
        if at < len(literal):
            stop = literal.find("}", at + 1) if literal[at] == "{" else at
            return literal[at : stop + 1] if stop != -1 else literal[at:]
        last = end
    return None


def check_template(template: str) -> None:
    """Raise at registration what compiling would raise at the first request.

    Parameter names are identifiers and the rest is escaped, so a name used twice is
    the one way the regex can fail; only then is it compiled now, for ``re.error``.
    """
    names = [name for _, _, name, _ in parameters(template)]
    if len(set(names)) != len(names):
        template_regex(template)
