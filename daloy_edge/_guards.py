"""Request sanitation applied by every app before any middleware or handler runs."""

from __future__ import annotations

from daloy_edge._charset import DIGITS, LOWER, UPPER, allowed
from daloy_edge._errors import BadRequest, ConfigError, HTTPError, RequestHeaderFieldsTooLarge
from daloy_edge._paths import PLAIN_PATH, UnsafePath, check_path
from daloy_edge._record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeAlias

    from daloy_edge._headers import Headers
    from daloy_edge._request import Request

    Fields: TypeAlias = tuple[
        list[tuple[str, str]] | dict[str, str], int, tuple[str, ...], tuple[str, ...], str | None
    ]

__all__ = ["RequestLimits", "check_request", "header_fields", "is_method_name", "text_fields"]

# Checked with ``_charset``'s expression written out (see there): no ``re``, and faster.
_METHOD = allowed(UPPER)
# Header names arrive lowered; joined with single spaces they are checked in one pass.
_NAMES_JOINED = allowed("!#$%&'*+-.^_`|~" + DIGITS + LOWER + " ")
# Header values joined with tabs, UTF-8 encoded: C0 controls but tab, and DEL, to a space,
# every other byte (tab and the bytes of non-ASCII characters included) to ``a``. Written
# as a constant (a test rebuilds it byte by byte): building it is import time.
_VALUES = b" " * 0x09 + b"a" + b" " * (0x20 - 0x0A) + b"a" * (0x7F - 0x20) + b" " + b"a" * 0x80
# Sequences of header names that passed every check on names alone, with the size of
# their joined form: a client sends the same names request after request, so the check
# and the join come down to one lookup. Bounded in entries and size, so names an
# attacker varies cost only the full check, never memory; a full table starts over
# rather than stop learning (kept full, a few hundred requests with made-up names kept
# every client that came later off this path for good).
_ACCEPTED_NAMES: dict[tuple[str, ...], int] = {}
_ACCEPTED_MAX = 256
_ACCEPTED_SIZE = 2048
_NO_FIELDS: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
_COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def is_method_name(name: str) -> bool:
    """True for a method :func:`check_request` lets through: a common one, or one to 16
    capital letters."""
    return name in _COMMON_METHODS or (
        0 < len(name) <= 16 and name.isascii() and name.encode().translate(_METHOD).isalnum()
    )


class _URITooLong(HTTPError):
    """414: the path or the query is longer than the app reads (as nginx, API Gateway,
    ALB and Cloudflare answer one longer than theirs)."""

    status, slug, title = 414, "uri-too-long", "URI Too Long"


@record(frozen=True, kw_only=True)
class RequestLimits:
    """Bounds on the request line (414 when passed) and headers (431 when passed).

    A header sent on several lines counts as one field, all its lines together.
    """

    max_headers: int = 100
    max_header_bytes: int = 8192
    max_total_header_bytes: int = 32768
    max_path_bytes: int = 8192
    max_query_bytes: int = 16384

    def __post_init__(self) -> None:
        for name in (
            "max_headers",
            "max_header_bytes",
            "max_total_header_bytes",
            "max_path_bytes",
            "max_query_bytes",
        ):
            if not getattr(self, name) > 0:  # NaN too: no request would ever exceed it
                raise ConfigError(f"{name} must be positive")


def header_fields(headers: Headers) -> Fields:
    """The fields of ``headers`` as two tuples, names and values, tagged with the list
    (or, for headers from an event's dict, the dict) they were read from and its length,
    and followed by the values joined with tabs: :func:`check_request` takes them as they
    are while ``headers`` holds that same object at that length (every ``Headers`` change
    drops the dict, and either replaces the list or appends to it).

    Raises ``TypeError`` for a value that is not text (see :func:`text_fields`)."""
    index = headers._index
    if index is not None:
        values = tuple(index.values())
        return index, len(index), tuple(index), values, "\t".join(values)
    items = headers._items
    names, values = zip(*items) if items else _NO_FIELDS  # noqa: B905 (pairs, always)
    return items, len(items), names, values, "\t".join(values)


def text_fields(request: Request) -> Fields:
    """For a request whose headers hold a value that is not text (a number, a list or a
    null in a hand-built Lambda event): its headers become the fields that are text, and
    :func:`check_request` refuses it with a 400. Everything that reads headers before
    that check (the request id, observers, ``on_rejected`` hooks) then reads text only;
    left in place, the value failed them with a ``TypeError``: a request with no answer,
    no log line or no CORS fields on its 400."""
    given = request.headers
    request.headers = headers = type(given)._from_lowered(
        [(name, value) for name, value in given._items if type(value) is str]
    )
    source, count, names, values, _ = header_fields(headers)
    return source, count, names, values, None


def _check_fields(
    names: tuple[str, ...], values: tuple[str, ...], joined_values: str, limits: RequestLimits
) -> None:
    # One C pass over the joined values (and, for names not seen before, one over the
    # joined names) instead of a Python loop per field: every invocation runs this.
    names_size = _ACCEPTED_NAMES.get(names)
    joined = "" if names_size is not None else " ".join(names)
    total = (len(joined) if names_size is None else names_size) + len(joined_values)
    # No single field can be larger than all of them together.
    if total > limits.max_header_bytes and _largest_field(names, values) > limits.max_header_bytes:
        raise RequestHeaderFieldsTooLarge("a header field is too large")
    if total > limits.max_total_header_bytes:
        raise RequestHeaderFieldsTooLarge("header fields are too large in total")
    if names_size is None:
        _check_names(joined, len(names))
    # ``has_control`` written out with a table: tabs (the separators among them) pass,
    # and an empty string (one empty value) holds no control character either.
    if joined_values and not (
        joined_values.encode("utf-8", "surrogatepass").translate(_VALUES).isalnum()
    ):
        raise BadRequest("control character in header value")
    if names_size is None:
        _check_framing(joined)
        if len(joined) <= _ACCEPTED_SIZE:
            if len(_ACCEPTED_NAMES) >= _ACCEPTED_MAX:
                _ACCEPTED_NAMES.clear()
            _ACCEPTED_NAMES[names] = len(joined)


def _largest_field(names: tuple[str, ...], values: tuple[str, ...]) -> int:
    # The lines of a name measured as the one field they are (RFC 9110 5.3, joined with
    # ", "): HTTP APIs, Function URLs, gunicorn and Workers join them before the app
    # sees them, so two 5 KB Cookie lines were one 10 KB field there (431) and two
    # small ones from a server that keeps lines apart.
    sizes: dict[str, int] = {}
    for name, value in zip(names, values, strict=True):
        size = sizes.get(name)
        sizes[name] = len(name) + len(value) if size is None else size + 2 + len(value)
    return max(sizes.values())


def _check_names(names: str, count: int) -> None:
    # As many spaces as joins means no name holds one; no space at either end and no two
    # together means no name is empty.
    if (
        names.count(" ") != count - 1
        or not names.isascii()
        or not names.encode().translate(_NAMES_JOINED).isalnum()
        or names[0] == " "
        or names[-1] == " "
        or "  " in names
    ):
        raise BadRequest("invalid header name")


def _check_framing(names: str) -> None:
    # ``names`` is known to be single-space-separated tokens; the plain substring test
    # first spares most requests the padding and splitting.
    if "content-length" in names:
        padded = f" {names} "
        if " content-length " in padded:
            if names.count("content-length") > 1 and names.split(" ").count("content-length") > 1:
                raise BadRequest("repeated Content-Length")
            if " transfer-encoding " in padded:
                raise BadRequest("both Transfer-Encoding and Content-Length")
    # RFC 9112 3.2: more than one Host line is a 400, as uvicorn and gunicorn answer
    # before the app runs; read here, the first line would name the origin CSRF trusts.
    if names.count("host") > 1 and names.split(" ").count("host") > 1:
        raise BadRequest("repeated Host")


def check_request(request: Request, limits: RequestLimits, fields: Fields | None = None) -> None:
    """Raise a 400 or 431 for a request that is malformed, oversized or ambiguous.

    ``fields``: :func:`header_fields` of the request's headers when the caller has them
    already (they are read again if the headers have changed since)."""
    method = request.method
    # One to 16 capital letters when not a common method.
    if method not in _COMMON_METHODS and not (
        len(method) <= 16 and method.isascii() and method.encode().translate(_METHOD).isalnum()
    ):
        raise BadRequest("invalid method")
    headers = request.headers
    index = headers._index
    source: list[tuple[str, str]] | dict[str, str] = headers._items if index is None else index
    if fields is None or fields[0] is not source or fields[1] != len(source):
        fields = header_fields(headers)
    # Fields, not lines: a name sent on several lines is one field, as the runtimes that
    # join lines deliver it (and an HTTP/2 browser sends each cookie on a line of its own).
    if len(source) > limits.max_headers and len(set(fields[2])) > limits.max_headers:
        raise RequestHeaderFieldsTooLarge(f"more than {limits.max_headers} header fields")
    joined_values = fields[4]
    if joined_values is None:
        raise BadRequest("a header value is not text")
    if source:
        _check_fields(fields[2], fields[3], joined_values, limits)
    raw_path, query = request.raw_path, request.query_string
    if len(raw_path) > limits.max_path_bytes:
        raise _URITooLong("path too long")
    if len(query) > limits.max_query_bytes:
        raise _URITooLong("query string too long")
    if query and ("\r" in query or "\n" in query or "\x00" in query or " " in query):
        raise BadRequest("raw control character in query string")
    if query and "#" in query:
        # A fragment, which no client should send: uvicorn with h11 passes it on,
        # gunicorn and Workers drop it. Kept, it added fields ("a=1#&b=2") and changed
        # values on some runtimes only.
        request.query_string = query.partition("#")[0]
        request._query = None
    # ``check_path``'s own first test, written out: most paths pass it, with no call.
    if (
        raw_path[:1] == "/"
        and raw_path.isascii()
        and raw_path.encode().translate(PLAIN_PATH).isalnum()
        and "/." not in raw_path
    ):
        return
    if "#" in raw_path:
        # The fragment, and the query after it, as Workers and every URL parser read it.
        raw_path = request.raw_path = raw_path.partition("#")[0]
        request.query_string = ""
        request._path = request._query = None
    try:
        check_path(raw_path)
    except UnsafePath as exc:
        raise BadRequest(f"rejected path: {exc}") from None
