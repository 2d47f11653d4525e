"""The uniform client every conformance test talks through, whatever the transport."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from daloy_edge import Headers

HeaderArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


@dataclass
class Reply:
    """Status, every header field (repeated ones kept) and the raw body bytes."""

    status: int
    headers: Headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> object:
        return json.loads(self.body)

    @property
    def media_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


def header_pairs(headers: HeaderArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


class Transport:
    """Send one HTTP request through a runtime and read the reply.

    ``target`` is the request target as a client would send it: a percent-encoded path,
    optionally followed by ``?`` and a raw query string.
    """

    name = "transport"
    client: str | None = None
    """The client address requests present (``None``: the transport's usual one)."""

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        raise NotImplementedError

    def request(
        self, method: str, target: str, *, headers: HeaderArg = None, body: bytes = b""
    ) -> Reply:
        pairs = header_pairs(headers)
        if not any(name.lower() == "host" for name, _ in pairs):
            pairs.insert(0, ("Host", "conformance.example"))
        return self.send(method.upper(), target, pairs, body)

    def get(self, target: str, *, headers: HeaderArg = None) -> Reply:
        return self.request("GET", target, headers=headers)

    def post(self, target: str, *, headers: HeaderArg = None, body: bytes = b"") -> Reply:
        return self.request("POST", target, headers=headers, body=body)

    def with_client(self, address: str) -> Transport | None:
        """This transport, sharing its runtime and app, with requests from ``address``.

        ``None`` where the runtime hands the app no client address of the caller's
        choosing. The view is never closed itself; closing the original releases both.
        """
        return None

    def _view(self, address: str) -> Transport:
        view = copy.copy(self)
        view.client = address
        return view

    def close(self) -> None:
        """Release what the transport holds (loops, connections)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
