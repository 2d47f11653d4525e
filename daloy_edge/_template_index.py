"""Which template routes a path could match, found by its literal segments.

Routing tries template routes in the order they were registered, the first match
winning. Tried one by one, every path that no template matches (any 404 a client
makes up) cost one match per template route: an app of a thousand templates paid a
thousand regex matches for each. The index narrows that to the templates whose literal
segments are the path's own, in registration order, so the answers are unchanged.

A ``{name}`` parameter never spans a ``/``, so a template and a path it matches split
into segments that line up, up to the segment of a ``{name:path}`` parameter, which
takes the rest.
"""

from __future__ import annotations

from daloy_edge._templates import parameters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["TemplateIndex"]


class _Node:
    __slots__ = ("ends", "literal", "param", "rest")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.ends: list[int] = []  # templates whose last segment this is
        self.rest: list[int] = []  # templates whose {name:path} segment starts here


def _segments(template: str) -> tuple[list[str | None], bool]:
    """The template's segments, None for one holding a parameter, cut at the segment of
    a ``{name:path}`` parameter; and whether it was cut there."""
    found = parameters(template)
    segments: list[str | None] = []
    at = 0
    for segment in template.split("/"):
        end = at + len(segment)
        kinds = [kind for start, stop, _, kind in found if at <= start and stop <= end]
        if "path" in kinds:
            return segments, True
        segments.append(segment if not kinds else None)
        at = end + 1
    return segments, False


class TemplateIndex:
    """The template routes of one router by their literal segments."""

    __slots__ = ("_root",)

    def __init__(self, templates: Sequence[str]) -> None:
        self._root = _Node()
        for number, template in enumerate(templates):
            node = self._root
            segments, rest = _segments(template)
            for segment in segments:
                if segment is None:
                    if node.param is None:
                        node.param = _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(segment, _Node())
            (node.rest if rest else node.ends).append(number)

    def candidates(self, path: str) -> list[int]:
        """The numbers of the templates that may match ``path``, in ascending order; every
        template that matches it is among them."""
        parts = path.split("/")
        found: list[int] = []
        level = [self._root]
        for part in parts:
            following: list[_Node] = []
            for node in level:
                found += node.rest
                child = node.literal.get(part)
                if child is not None:
                    following.append(child)
                if node.param is not None:
                    following.append(node.param)
            level = following
            if not level:
                break
        for node in level:
            found += node.ends
            found += node.rest
        found.sort()
        return found
