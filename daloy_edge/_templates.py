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

__all__ = ["check_template", "literal_brace", "parameters", "template_regex"]

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
