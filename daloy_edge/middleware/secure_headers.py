"""Browser security headers on every response, and a strict CSP with a per-request nonce.

>>> from daloy_edge import App
>>> app = App(middleware=[SecureHeaders()])

Handlers put ``request.csp_nonce`` on their ``<script nonce="...">`` tags.
"""

from __future__ import annotations

import os
from _operator import itemgetter  # operator would load a Python module for it

from daloy_edge._charset import ALNUM, Charset
from daloy_edge._errors import ConfigError
from daloy_edge._headers import check_field
from daloy_edge._phased import Phased
from daloy_edge._record import record
from daloy_edge._request import Request, is_csp_nonce
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    from daloy_edge.types import RandomBytes


__all__ = ["SecureHeaders", "SecureHeadersConfig"]

DEFAULT_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# Documents a browser runs scripts in when opened directly: HTML, and SVG and XML (whose
# XHTML-namespace elements run too), as an uploaded .svg served from a static folder is.
# Chromium renders an XSLT stylesheet sent as text/xsl (as sitemaps and feeds link theirs)
# as an HTML page, running the scripts in it.
_HTML_TYPES = (
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/xsl",
)
_REMOVED = frozenset({"server", "x-powered-by"})
_first = itemgetter(0)
_NONCE = "{nonce}"
_NONCE_CHARS = 24
# Random byte -> base64url character (by its low six bits): each of the 64 characters
# stands for 4 of the 256 byte values, so every nonce character is uniform and
# independent: 24 carry 144 bits, as the base64 of 18 random bytes did, in one C call
# and without ``binascii`` (not loaded at a cold start).
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" * 4
# Checked without ``re``; unlike the ``^...$`` regexes this replaced, no trailing newline
# gets through.
_POLICY_NAME = Charset(ALNUM + "-#=_/@.%")
_REPORT_URL_STOP = frozenset(';,"\\ ')


def _report_url_ok(url: str) -> bool:
    """An https URL (http to a loopback host) or a path of visible ASCII without ``;``,
    ``,``, ``"`` or ``\\``.

    The URL is sent as the string of ``Reporting-Endpoints``, a structured field
    (RFC 9651, 3.3.3: printable ASCII, with ``"`` and ``\\`` escaped), and as
    ``report-uri``. A NUL or DEL made h11 drop the connection of every request, a
    character past U+00FF failed every response on ASGI, and "é" or a backslash made
    the field one a browser drops, losing the reports it was configured for."""
    if url.startswith(("https://", "http://")):
        rest = url.partition("://")[2]
        if not rest:
            return False
        # The Reporting API drops an endpoint that is not potentially trustworthy, and a
        # policy with report-to has its report-uri ignored: Chromium sent no report to
        # http://reports.example from an https page, by report-to or by report-uri.
        if url.startswith("http://") and not _loopback_authority(rest):
            return False
    elif url.startswith("/"):
        rest = url[1:]
    else:
        return False
    return rest.isascii() and rest.isprintable() and not any(c in _REPORT_URL_STOP for c in rest)


def _loopback_authority(rest: str) -> bool:
    """Whether the URL after ``http://`` names localhost or a loopback address, which
    Secure Contexts counts as potentially trustworthy, whatever its port."""
    for end in "/?#":
        rest = rest.partition(end)[0]
    host = rest.rpartition("@")[2].lower()
    if host.startswith("["):
        return host.partition("]")[0] == "[::1"
    host = host.partition(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    octets = host.split(".")
    return (
        len(octets) == 4
        and octets[0] == "127"
        and all(o.isascii() and o.isdigit() and int(o) <= 255 for o in octets)
    )


@record(frozen=True, kw_only=True)
class SecureHeadersConfig:
    """Which headers to send; the defaults are strict.

    ``csp_directives`` are extra directives appended to the built-in strict policy
    (``"img-src 'self' data:"``). ``trusted_types_policies`` names the only policies
    scripts may create (None: any name). ``report_to`` is a reporting endpoint URL
    (``Reporting-Endpoints`` plus ``report-to``/``report-uri``). ``coep`` is opt-in.
    """

    hsts_max_age: int = 31536000
    hsts_include_subdomains: bool = True
    hsts_preload: bool = False
    csp: bool = True
    csp_report_only: bool = False
    csp_default_src: str = "'self'"
    csp_directives: tuple[str, ...] = ()
    trusted_types: bool = True
    trusted_types_policies: tuple[str, ...] | None = None
    report_to: str | None = None
    referrer_policy: str = "strict-origin-when-cross-origin"
    coop: Literal["same-origin", "same-origin-allow-popups", "unsafe-none"] = "same-origin"
    corp: Literal["same-origin", "same-site", "cross-origin"] = "same-origin"
    coep: Literal["require-corp", "credentialless"] | None = None
    permissions_policy: str = DEFAULT_PERMISSIONS_POLICY
    frame_options: Literal["DENY", "SAMEORIGIN"] | None = "DENY"
    random_bytes: RandomBytes = os.urandom

    def __post_init__(self) -> None:
        # RFC 6797 max-age is digits only: a browser ignores "max-age=nan" (or 0.5, or
        # True) and with it the whole header, so HSTS was off while configured on.
        if type(self.hsts_max_age) is not int or self.hsts_max_age < 0:
            raise ConfigError("hsts_max_age must be a whole number of seconds, not negative")
        if self.hsts_preload and (self.hsts_max_age < 31536000 or not self.hsts_include_subdomains):
            raise ConfigError("HSTS preload needs max-age >= 1 year and includeSubDomains")
        for name in ("csp_directives", "trusted_types_policies"):
            if isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a tuple of strings, not one string")
        for name, accepted in _CHOICES:
            if getattr(self, name) not in accepted:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, accepted))}")
        for text in (self.referrer_policy, self.permissions_policy):
            if not _sendable(text):
                raise ConfigError(f"invalid header value {text!r}")
        if self.permissions_policy != DEFAULT_PERMISSIONS_POLICY:
            self._check_permissions_policy()
        for directive in (self.csp_default_src, *self.csp_directives):
            # ";" ends a directive and "," the whole policy (CSP 3, 2.2.1): after a comma,
            # the report-to the app configured went with a second policy, and the strict
            # one, enforced or on trial (report-only), reported nothing.
            if not _sendable(directive) or ";" in directive or "," in directive:
                raise ConfigError(f"invalid CSP text {directive!r}")
        for directive in self.csp_directives:
            # Directive names are case-insensitive, and a browser keeps the first of two.
            name = directive.split(maxsplit=1)[0].lower() if directive.strip() else ""
            if name in _FIXED_DIRECTIVES:
                raise ConfigError(f"CSP directive {directive!r} is fixed by the strict policy")
        for name in self.trusted_types_policies or ():
            if not _POLICY_NAME.fullmatch(name):
                raise ConfigError(f"invalid Trusted Types policy name {name!r}")
        if self.report_to is not None and not _report_url_ok(self.report_to):
            raise ConfigError(
                "report_to must be an https URL (http only to localhost or a loopback"
                " address: browsers drop any other endpoint) or a path, in visible ASCII"
                ' without ; , " or \\ (percent-encode the rest)'
            )

    def _check_permissions_policy(self) -> None:
        # A browser that cannot parse the field ignores all of it (RFC 9651, 4.2):
        # Feature-Policy's "camera 'none'" or a capital in "Camera=()" turned every
        # feature the policy was to switch off back on, and nothing said so. Checked for
        # a policy of the app's own only, so the module stays off a cold start.
        from daloy_edge._structured import is_dictionary

        if not is_dictionary(self.permissions_policy.strip(" \t")):
            raise ConfigError(
                f"permissions_policy {self.permissions_policy!r} is no structured-field"
                " dictionary, which browsers ignore whole; write camera=(), geolocation=(self)"
            )


def _lists_a_document(media: str) -> bool:
    """Whether a Content-Type that lists several types names a document among them.

    A browser renders such an answer by the last type it can parse: ``text/plain,
    text/html`` (or two fields, which a Response joins into one) ran its scripts as a
    page where the first type, read here alone, needed no policy.
    """
    return any(t.lstrip(" \t").lower().startswith(_HTML_TYPES) for t in media.split(","))


def _sendable(text: str) -> bool:
    # The check a handler's fields pass (CR, LF and NUL were all that was refused here):
    # another control character or one past U+00FF ("€") failed every response the
    # ASGI adapter sent, as a value that began or ended with a space failed in h11.
    try:
        check_field("x", text)
    except ValueError:
        return False
    return True


# The Literal fields, checked at run time: their text goes into the header as it is.
_CHOICES = (
    ("coop", ("same-origin", "same-origin-allow-popups", "unsafe-none")),
    ("corp", ("same-origin", "same-site", "cross-origin")),
    ("coep", (None, "require-corp", "credentialless")),
    ("frame_options", (None, "DENY", "SAMEORIGIN")),
)

# The built-in policy's own directives (a second one is ignored by browsers), and
# ``script-src-elem`` / ``script-src-attr``, which replace ``script-src`` for <script>
# elements and inline event handlers.
_FIXED_DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "object-src",
        "base-uri",
        "frame-ancestors",
        "form-action",
        "require-trusted-types-for",
    }
)


def _csp_template(config: SecureHeadersConfig) -> str:
    # A browser with frame-ancestors ignores X-Frame-Options (CSP 3, 6.4.2): under a
    # fixed 'none', frame_options="SAMEORIGIN" framed nothing, not even the app's own pages.
    ancestors = "'self'" if config.frame_options == "SAMEORIGIN" else "'none'"
    parts = [
        f"default-src {config.csp_default_src}",
        f"script-src 'nonce-{_NONCE}' 'strict-dynamic'",
        "object-src 'none'",
        "base-uri 'none'",
        f"frame-ancestors {ancestors}",
        "form-action 'self'",
    ]
    if config.trusted_types:
        parts.append("require-trusted-types-for 'script'")
        if config.trusted_types_policies is not None:
            names = " ".join(config.trusted_types_policies) or "'none'"
            parts.append(f"trusted-types {names}")
    parts += config.csp_directives
    if config.report_to is not None:
        parts += ["report-to csp-endpoint", f"report-uri {config.report_to}"]
    # A last directive ending with a space ended the field with one (see _static_headers).
    return "; ".join(parts).strip(" \t")


def _static_headers(config: SecureHeadersConfig) -> list[tuple[str, str]]:
    hsts = f"max-age={config.hsts_max_age}"
    if config.hsts_include_subdomains:
        hsts += "; includeSubDomains"
    if config.hsts_preload:
        hsts += "; preload"
    headers = [
        ("strict-transport-security", hsts),
        ("x-content-type-options", "nosniff"),
        # Spaces and tabs around a value are no part of it (RFC 9110 5.5), and h11
        # (uvicorn's and Hypercorn's HTTP/1.1) refused the field, dropping the connection
        # of every request: dropped as a handler's are.
        ("referrer-policy", config.referrer_policy.strip(" \t")),
        ("cross-origin-opener-policy", config.coop),
        ("cross-origin-resource-policy", config.corp),
        ("permissions-policy", config.permissions_policy.strip(" \t")),
    ]
    if config.frame_options is not None:
        headers.append(("x-frame-options", config.frame_options))
    if config.coep is not None:
        headers.append(("cross-origin-embedder-policy", config.coep))
    if config.report_to is not None:
        headers.append(("reporting-endpoints", f'csp-endpoint="{config.report_to}"'))
    return headers


class SecureHeaders(Phased):
    """Adds HSTS, nosniff, Referrer-Policy, COOP/CORP (COEP opt-in), Permissions-Policy and
    X-Frame-Options to every response, a nonce-based CSP with Trusted Types to HTML
    responses, and removes ``Server`` / ``X-Powered-By``.

    Header values are built once; per request only the nonce is new. A header a handler
    set itself is left as it is.

    Security: put it outermost (first) so error and preflight responses get it too. An
    HTML answer whose handler read or set ``request.csp_nonce`` is ``Cache-Control:
    no-store`` unless the handler set its own: a cached copy shares the nonce.
    """

    __slots__ = (
        "_csp",
        "_csp_head",
        "_csp_name",
        "_csp_tail",
        "_names",
        "_random",
        "_static",
        "_static_names",
        "config",
    )

    def __init__(self, config: SecureHeadersConfig | None = None) -> None:
        self.config = config = config or SecureHeadersConfig()
        self._static = tuple(_static_headers(config))
        self._static_names = frozenset(name for name, _ in self._static)
        head, _, tail = _csp_template(config).partition(_NONCE)
        self._csp_head, self._csp_tail = head, tail
        self._csp_name = (
            "content-security-policy-report-only"
            if config.csp_report_only
            else "content-security-policy"
        )
        self._random = config.random_bytes
        self._csp = config.csp
        # Every name ``_apply`` looks for: its own, the ones it removes, the CSP's.
        self._names = self._static_names | _REMOVED | {self._csp_name}

    def csp_for(self, nonce: str) -> str:
        """The CSP header value for ``nonce``."""
        return self._csp_head + nonce + self._csp_tail

    def apply(self, response: Response, nonce: str | None) -> None:
        """Add the headers to ``response`` (the CSP only when it is HTML and has a nonce);
        ``ValueError`` for a nonce that is no base64 value, as ``request.csp_nonce``."""
        if nonce is not None and not is_csp_nonce(nonce):
            raise ValueError(
                "a CSP nonce is a base64 value: letters, digits, + / - _, then up to two ="
            )
        self._apply(response, nonce, None)

    def _apply(self, response: Response, nonce: str | None, request: Request | None) -> None:
        # With ``request``, the nonce is the request's, drawn only for an HTML answer.
        headers = response.headers
        present = None
        if self._names.isdisjoint(map(_first, headers._items)):
            # None of ours, none to remove and no CSP yet, as most responses come: one
            # C-level pass to know it.
            headers.extend_lowered(self._static)
        else:
            present = headers.names()
            if not _REMOVED.isdisjoint(present):
                for name in _REMOVED & present:
                    del headers[name]
            static = self._static
            if present.isdisjoint(self._static_names):
                headers.extend_lowered(static)
            else:
                headers.extend_lowered([(n, v) for n, v in static if n not in present])
        if (nonce is not None or request is not None) and self._csp:
            if present is not None and self._csp_name in present:
                return
            media = headers.get("content-type")
            if media is not None and (
                media.lower().startswith(_HTML_TYPES) or ("," in media and _lists_a_document(media))
            ):
                if request is not None:
                    # A handler may have set its own; one that cleared it gets a fresh one,
                    # so an HTML answer never goes out without its CSP.
                    nonce = request._csp_nonce
                    if nonce is None:
                        nonce = request.csp_nonce or self._new_nonce()
                    elif "cache-control" not in headers:
                        # Read or set by the handler, so in the page: a shared cache
                        # keeping it (a CDN's default TTL) served one nonce to every
                        # visitor for as long, a value the policy needs unguessable.
                        headers.add_lowered("cache-control", "no-store")
                if nonce is not None:  # drawn here, or checked when a handler set it
                    headers.add_lowered(self._csp_name, self._csp_head + nonce + self._csp_tail)

    def on_rejected(self, request: Request, response: Response) -> None:
        """Mark answers to requests refused before any middleware ran."""
        self.apply(response, None)

    def _new_nonce(self) -> str:
        return self._random(_NONCE_CHARS).translate(_BASE64URL).decode("ascii")

    def before(self, request: Request) -> None:
        request.draw_nonces_with(self._new_nonce)

    def after(self, request: Request, response: Response) -> Response:
        self._apply(response, None, request)
        return response
