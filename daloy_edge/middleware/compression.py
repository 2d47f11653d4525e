"""gzip / brotli response compression that stays out of BREACH's way.

>>> app_middleware = [Compression()]
"""

from __future__ import annotations

from daloy_edge._errors import ConfigError
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request
from daloy_edge._response import Response
from daloy_edge.middleware._origins import is_cross_origin
from daloy_edge.middleware.csrf import CSRF_TOKEN_ISSUED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ["Compression", "CompressionConfig", "brotli_available", "choose_encoding"]

_COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "image/svg+xml",
)


def _brotli_encoder(quality: int) -> Callable[[bytes], bytes]:
    # The codec is imported on the first compressed response, not at cold start.
    def encode(data: bytes) -> bytes:
        import brotli

        return bytes(brotli.compress(data, quality=quality))

    return encode


def _gzip_encoder(level: int) -> Callable[[bytes], bytes]:
    def encode(data: bytes) -> bytes:
        import gzip

        return gzip.compress(data, compresslevel=level, mtime=0)

    return encode


def brotli_available() -> bool:
    """True when the ``brotli`` package can be imported."""
    # Imported here: ``importlib.util`` is not loaded at a cold start.
    import importlib.util

    return importlib.util.find_spec("brotli") is not None


def _encoders(config: CompressionConfig) -> dict[str, Callable[[bytes], bytes]]:
    encoders: dict[str, Callable[[bytes], bytes]] = {}
    if config.brotli and brotli_available():
        encoders["br"] = _brotli_encoder(config.brotli_quality)
    encoders["gzip"] = _gzip_encoder(config.gzip_level)
    return encoders


@record(frozen=True, kw_only=True)
class CompressionConfig:
    """Thresholds and levels; brotli is used only when installed and ``brotli=True``."""

    minimum_size: int = 1024
    gzip_level: int = 6
    brotli: bool = True
    brotli_quality: int = 4

    def __post_init__(self) -> None:
        if not self.minimum_size >= 1024:  # NaN too: every size would pass it
            raise ConfigError("minimum_size below 1 KiB costs more than it saves")
        if not 1 <= self.gzip_level <= 9 or not 0 <= self.brotli_quality <= 11:
            raise ConfigError("gzip_level is 1-9 and brotli_quality 0-11")


def choose_encoding(accept_encoding: str, offered: tuple[str, ...]) -> str | None:
    """The first of ``offered`` the client accepts with q > 0, honouring ``*``; a weight
    outside RFC 9110's grammar (``q=2``, ``q=inf``) refuses its coding.

    >>> choose_encoding("gzip;q=0.5, br", ("br", "gzip"))
    'br'
    """
    header = _bare(accept_encoding.lower())
    anything = _weight(header, "*")
    best: tuple[float, str] | None = None
    for encoding in offered:
        q = _weight(header, encoding)
        if q is None:
            q = anything or 0.0
        if q > 0 and (best is None or q > best[0]):
            best = (q, encoding)
    return best[1] if best else None


_AROUND = ((" ,", ","), (", ", ","), (" ;", ";"), ("; ", ";"), (" =", "="), ("= ", "="))


def _bare(header: str) -> str:
    """``header`` between commas, without the spaces and tabs around its commas,
    semicolons and equals signs, and no longer run of them than one space elsewhere
    (which still splits a coding: "g zip" names none).

    Only spaces and tabs (RFC 9110 OWS): str.strip() also dropped a no-break space,
    U+2028 or a file separator, and "\\xa0gzip", no coding, was read as gzip. Replaced
    in C, a few passes over the header whatever it holds: read item by item, 8 KiB of
    commas took 2.6 ms of CPU for each compressible answer (compressing one: 0.01 ms)."""
    if "\t" in header:
        header = header.replace("\t", " ")
    while "  " in header:  # each pass halves a run: 13 for 8 KiB of spaces
        header = header.replace("  ", " ")
    for spaced, bare in _AROUND:
        if spaced in header:
            header = header.replace(spaced, bare)
    return f",{header.strip(' ')},"


def _weight(header: str, coding: str) -> float | None:
    """The weight that the last item of a ``_bare`` header naming ``coding`` gives it;
    ``None`` when no item names it. Found from the right by str.rfind, not item by item."""
    if coding not in header:
        return None
    last = header.rfind(f",{coding},")
    if ";" in header:
        weighed = header.rfind(f",{coding};")
        if weighed > last:
            # Its parameters, up to the next comma (the header ends with one).
            start = weighed + len(coding) + 1
            return _q(header[start : header.find(",", start)] + ";")
    return None if last < 0 else 1.0


def _q(params: str) -> float:
    """The weight ``params`` give (";level=1;q=0.5;"): wherever q stands among them, the
    last one ("gzip;level=1;q=0" refuses gzip); 1 without one."""
    if "q" not in params:
        return 1.0
    q = max(params.rfind(";q="), params.rfind(";q;"))
    if q < 0:
        return 1.0
    # "q" without "=" gives no weight, and refuses its coding as "q=" does.
    return _qvalue(params[q + 3 : params.find(";", q + 2)])


def _qvalue(text: str) -> float:
    # RFC 9110's grammar only ("0", "0.5", "1", "1.000"), as nginx reads it: anything else
    # refuses the coding, as "q=abc" does. float() took "2", "inf", "1e0", "1_0" and other
    # scripts' digits, so a weight no client may send outranked every valid one.
    whole, _, fraction = text.partition(".")
    if whole not in ("0", "1") or len(fraction) > 3:
        return 0.0
    if fraction and not (fraction.isascii() and fraction.isdigit()):
        return 0.0
    if whole == "1" and fraction.strip("0"):
        return 0.0
    return float(text)


def _revalidated(request: Request, response: Response, encoded: bool) -> None:
    # A 304 carries the validator and Vary its 200 would have (RFC 9110). A client naming
    # the weak tag holds the compressed bytes: a strong tag did not match its copy, so a
    # cache could not freshen it, and the 304 lost the Vary that copy was keyed by.
    # The identity copy's 200 was keyed by Accept-Encoding too. The weak tag only when
    # this request's 200 is compressed: a cache revalidating both its copies names both
    # tags (RFC 9111, 4.3.1), and the 304's tag picks the copy it serves, so the weak one
    # handed the compressed bytes to a client that accepts none.
    etag = response.headers.get("etag")
    if etag is None or etag.startswith("W/"):
        return
    if encoded and "W/" + etag in (request.headers.get_joined("if-none-match") or ""):
        response.headers.put_lowered("etag", "W/" + etag)
    if "accept-encoding" not in (response.headers.get_joined("vary") or "").lower():
        response.headers.add_lowered("vary", "Accept-Encoding")


def _credentialed(request: Request) -> bool:
    return "cookie" in request.headers or "authorization" in request.headers


class Compression(Phased):
    """Compresses eligible responses of at least ``minimum_size`` bytes.

    Never compressed, because a secret next to attacker-influenced text leaks through
    compressed lengths (BREACH): responses that set a cookie, responses that carry a CSRF
    token, and answers to cross-site requests that carry credentials. Also skipped:
    ``Cache-Control: no-transform``, streamed or already encoded bodies, partial (206)
    answers, and types that do not compress. Eligible responses always get
    ``Vary: Accept-Encoding``.
    """

    __slots__ = ("_encoders", "_minimum", "_offered", "config")

    def __init__(self, config: CompressionConfig | None = None) -> None:
        self.config = config = config or CompressionConfig()
        # Chosen for the first response worth compressing: probing for brotli then,
        # rather than when the app is built, keeps it off a serverless cold start.
        self._encoders: dict[str, Callable[[bytes], bytes]] | None = None
        self._offered: tuple[str, ...] = ()
        self._minimum = config.minimum_size

    def _eligible(self, response: Response) -> bool:
        if response.stream is not None or len(response.body) < self._minimum:
            return False
        if response.status == 206:
            # Its Content-Range counts bytes of the representation (RFC 9110, 14.4): the
            # part compressed alone was no range of any whole a client could join.
            return False
        headers = response.headers
        if "content-encoding" in headers:
            return False
        media = (headers.get("content-type") or "").lower()
        if not media.startswith(_COMPRESSIBLE):
            return False
        return "no-transform" not in (headers.get("cache-control") or "").lower()

    def _breach_risk(self, request: Request, response: Response) -> bool:
        if "set-cookie" in response.headers or request.state.get(CSRF_TOKEN_ISSUED):
            return True
        return _credentialed(request) and is_cross_origin(request)

    def _codecs(self) -> dict[str, Callable[[bytes], bytes]]:
        encoders = self._encoders
        if encoders is None:
            encoders = self._encoders = _encoders(self.config)
            self._offered = tuple(encoders)
        return encoders

    def _encoding(self, request: Request) -> str | None:
        """The coding this request's answer is compressed with, if it is eligible."""
        self._codecs()
        return choose_encoding(
            # A list field: every line counts, as runtimes that join lines deliver them.
            request.headers.get_joined("accept-encoding") or "",
            self._offered,
        )

    def _encoded(self, request: Request, response: Response) -> bool:
        """Whether the 200 this 304 stands for was compressed (its size unknown here)."""
        return not self._breach_risk(request, response) and self._encoding(request) is not None

    def after(self, request: Request, response: Response) -> Response:
        # HEAD is compressed like GET (the app drops the body later), so both carry the same
        # Content-Encoding and Content-Length.
        if not self._eligible(response):
            if response.status == 304:
                _revalidated(request, response, self._encoded(request, response))
            return response
        # Before the BREACH check: whether this answer is compressed still depends on
        # Accept-Encoding, and a cache must not key it as if it did not.
        response.headers.add_lowered("vary", "Accept-Encoding")
        if self._breach_risk(request, response):
            return response
        encoding = self._encoding(request)
        if encoding is None:
            return response
        response.body = self._codecs()[encoding](response.body)
        headers = response.headers
        headers.put_lowered("content-encoding", encoding)
        if "content-length" in headers:
            headers.put_lowered("content-length", str(len(response.body)))
        etag = headers.get("etag")
        if etag is not None and not etag.startswith("W/"):
            headers.put_lowered("etag", "W/" + etag)
        return response
