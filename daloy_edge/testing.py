"""An in-process test client: requests go straight into ``App.handle``."""

from __future__ import annotations

import asyncio
import base64
import json as jsonlib
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from email.utils import mktime_tz, parsedate_tz
from typing import NamedTuple, TypeAlias, TypedDict, Unpack
from urllib.parse import unquote, urlencode

from daloy_edge._app import App
from daloy_edge._headers import Headers
from daloy_edge._netaddr import is_loopback_host, parse_ip
from daloy_edge._request import Request
from daloy_edge._response import charset_of

__all__ = ["TestClient", "TestResponse"]

# Query or form fields: a list under a name (or the name given in several pairs) sends
# one field per value, as HTTP clients (httpx, requests) do.
_Fields: TypeAlias = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]


class _Options(TypedDict, total=False):
    """The keyword arguments of :meth:`TestClient.request`, for its shorthand methods."""

    headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None
    params: _Fields | None
    json: object
    data: _Fields | None
    content: bytes | str | None
    chunks: Iterable[bytes] | None
    client: str | None
    cookies: Mapping[str, str] | None


class _Scope(NamedTuple):
    """Where a browser sends a cookie back (RFC 6265 5.3): its host (a host-only cookie)
    or domain, its path, whether only to a secure origin, and until when (``None``: for
    the session); for the value the app set, not one the test puts in its place."""

    value: str
    domain: str
    host_only: bool
    path: str
    secure: bool
    expires: float | None


class TestResponse:
    """What the app answered, fully read."""

    __test__ = False

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.status_code = status
        self.headers = headers
        self.content = body

    @property
    def text(self) -> str:
        """The body decoded in the charset its Content-Type names, as the app encoded a
        str body in it (UTF-8 when it names none, or one Python has no codec for)."""
        content_type = self.headers.get("content-type")
        charset = charset_of(content_type) if content_type is not None else None
        if charset is not None:
            try:
                return self.content.decode(charset)
            except LookupError:
                pass
        return self.content.decode("utf-8")

    def json(self) -> object:
        """The body parsed as JSON."""
        return jsonlib.loads(self.content)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status}>"


class TestClient:
    """Drive an :class:`App` in-process.

    >>> from daloy_edge import App
    >>> app = App(request_log=False)  # else each request also prints its log line
    >>> @app.get("/ping")
    ... async def ping(request): return {"pong": True}
    >>> TestClient(app).get("/ping").json()
    {'pong': True}

    Start-up hooks run before the first request, as on Lambda; ``with TestClient(app)``
    (``async with`` in an async test) runs them on entry and the shut-down hooks on exit,
    as an ASGI server's lifespan does.

    Cookies the app sets are kept in :attr:`cookies` as a browser keeps them: sent only
    to the host that set them (or, with a ``Domain``, to it and the names below it), at
    or below their ``Path`` and, when ``Secure``, only to a secure origin (https, or
    ``localhost``, ``*.localhost`` and loopback addresses over http, as browsers count
    them); dropped once expired; never kept when a browser would refuse them (``Secure``
    from any other http origin, a ``Domain`` the host is not in, a ``__Host-`` or
    ``__Secure-`` name that breaks its prefix's rules). One cookie per name; one put in
    :attr:`cookies` by hand (in place of one the app set, too) goes with every request.

    Where a runtime and a test harness could differ, the client does as production does:
    an exception in a handler is answered with the 500 problem a client would get (its
    text only in development, the exception in the request's log line), not raised into
    the test as FastAPI's ``TestClient`` raises it; a redirect is returned, not followed;
    a sync handler runs inline, as on the serverless runtimes (ASGI runs it in a thread,
    where the deadline can cut it off).
    """

    __test__ = False

    def __init__(
        self,
        app: App,
        *,
        client: str = "127.0.0.1",
        scheme: str = "https",
        host: str = "testserver",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.scheme = scheme
        self.host = host
        self.env = env
        self.cookies: dict[str, str] = {}
        # Where each cookie the app set goes; one set by hand goes everywhere.
        self._cookie_scopes: dict[str, _Scope] = {}
        self._lifespan = False
        self._loop = asyncio.new_event_loop()
        weakref.finalize(self, self._loop.close)

    def close(self) -> None:
        """Close the client's event loop."""
        self._loop.close()

    def __enter__(self) -> TestClient:
        """Start the app as an ASGI server's lifespan does: build it, then run its
        start-up hooks (a build or hook error is raised here).

        Inside a running event loop (an async test) the hooks cannot run here: start-up
        then runs before the first request and shut-down not at all; use ``async with``.
        """
        self.app.build()
        if not _loop_running():
            self._loop.run_until_complete(self.app.startup())
            self._lifespan = True
        return self

    def __exit__(self, *exc: object) -> None:
        """Run the app's shut-down hooks (when ``with`` ran its start-up), as an ASGI
        server does when it stops, then close the loop."""
        try:
            if self._lifespan:
                self._lifespan = False
                self._loop.run_until_complete(self.app.shutdown())
        finally:
            self.close()

    async def __aenter__(self) -> TestClient:
        """:meth:`__enter__` for async tests: the hooks run on the test's own loop."""
        self.app.build()
        await self.app.startup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Run the app's shut-down hooks on the test's own loop, then close the client."""
        try:
            await self.app.shutdown()
        finally:
            self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        params: _Fields | None = None,
        json: object = None,
        data: _Fields | None = None,
        content: bytes | str | None = None,
        chunks: Iterable[bytes] | None = None,
        client: str | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> TestResponse:
        """Send one request and return the fully read response.

        ``url`` is a path (sent to :attr:`host` over :attr:`scheme`) or an absolute
        http(s) URL. It is sent as written, not percent-encoded (write escapes, or pass
        ``params=``), so a test can send what HTTP clients refuse to; only a fragment is
        left out, as every client leaves it out.
        """
        return self._loop.run_until_complete(
            self.arequest(
                method,
                url,
                headers=headers,
                params=params,
                json=json,
                data=data,
                content=content,
                chunks=chunks,
                client=client,
                cookies=cookies,
            )
        )

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        params: _Fields | None = None,
        json: object = None,
        data: _Fields | None = None,
        content: bytes | str | None = None,
        chunks: Iterable[bytes] | None = None,
        client: str | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> TestResponse:
        """The async form of :meth:`request`, for tests that run their own loop."""
        scheme, authority, path, query = _split_url(url)
        scheme = scheme or self.scheme
        if params:
            query = "&".join(q for q in (query, urlencode(params, doseq=True)) if q)
        hdrs = Headers(headers)
        # User and password in the URL go as Basic credentials, never in Host, as every
        # HTTP client (httpx, requests, curl) sends them.
        userinfo, _, authority = (authority or "").rpartition("@")
        hdrs.setdefault("host", authority or self.host)
        if userinfo:
            hdrs.setdefault("authorization", _basic(userinfo))
        body = _body(hdrs, json, data, content, chunks)
        jar = {**self._cookies_for(hdrs["host"], path, scheme), **(cookies or {})}
        if jar and "cookie" not in hdrs:
            hdrs["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        request = Request(
            # Upper-cased as HTTP clients (httpx, requests) do: the app itself refuses
            # a method in any other case.
            method.upper(),
            path,
            query_string=query,
            headers=hdrs,
            scheme=scheme,
            client=client or self.client,
            body=body,
            env=self.env,
            runtime="test",
        )
        response = await self.app.handle(request)
        stream = response.stream
        payload = await response.read()
        await _close(stream)
        streamed = stream is not None
        _frame(response.headers, response.status, payload, request.method, streamed)
        self._remember_cookies(response.headers.get_all("set-cookie"), request)
        return TestResponse(response.status, response.headers, payload)

    def _cookies_for(self, host: str, path: str, scheme: str) -> dict[str, str]:
        """The cookies a browser sends to ``path`` on ``host`` over ``scheme``."""
        scopes, name_of = self._cookie_scopes, _hostname(host)
        secure = _secure_origin(scheme, name_of)
        now = time.time()
        for name, kept in list(scopes.items()):
            # A value the test put in place of the app's is its own, for every request.
            # verify: allow secret-comparisons -- the test's own jar, no secret to time
            if self.cookies.get(name) != kept.value:
                del scopes[name]
            elif kept.expires is not None and kept.expires <= now:
                del scopes[name], self.cookies[name]
        return {
            name: value
            for name, value in self.cookies.items()
            if (scope := scopes.get(name)) is None
            or (
                (secure or not scope.secure)
                and _domain_matches(name_of, scope)
                and _path_matches(path, scope.path)
            )
        }

    def _remember_cookies(self, set_cookies: list[str], request: Request) -> None:
        now, path = time.time(), request.raw_path
        for line in set_cookies:
            name, value, attributes = _parse_set_cookie(line)
            if not name or not _acceptable(name, attributes, request):
                continue
            expires = _expiry(attributes, now)
            if expires is not None and expires <= now:
                self.cookies.pop(name, None)
                self._cookie_scopes.pop(name, None)
            else:
                self.cookies[name] = value
                scope = attributes.get("path", "")
                if not scope.startswith("/"):  # RFC 6265 5.1.4: the default path
                    scope = path[: path.rfind("/")] or "/"
                domain = attributes.get("domain", "").lstrip(".").lower()
                if "." not in domain:  # a top-level name is the host's own: host-only
                    domain = ""
                self._cookie_scopes[name] = _Scope(
                    value,
                    domain or _hostname(request.host),
                    not domain,
                    scope,
                    "secure" in attributes,
                    expires,
                )

    def get(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send a GET."""
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send a HEAD."""
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send a POST."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send a PUT."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send a PATCH."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send a DELETE."""
        return self.request("DELETE", url, **kwargs)

    def options(self, url: str, **kwargs: Unpack[_Options]) -> TestResponse:
        """Send an OPTIONS."""
        return self.request("OPTIONS", url, **kwargs)


def _parse_set_cookie(line: str) -> tuple[str, str, dict[str, str]]:
    """The name, the value and the attributes (names lower-cased) of a ``Set-Cookie``."""
    pair, *parts = line.split(";")
    name, _, value = pair.partition("=")
    attributes: dict[str, str] = {}
    for part in parts:
        key, _, attribute = part.partition("=")
        attributes[key.strip(" \t").lower()] = attribute.strip(" \t")
    return name.strip(" \t"), value.strip(" \t"), attributes


def _expiry(attributes: Mapping[str, str], now: float) -> float | None:
    """When a browser drops the cookie (RFC 6265 5.2.1, 5.2.2, 5.3 step 3): ``now`` plus
    its Max-Age (at once for zero or less), or, without a valid Max-Age, its Expires;
    ``None`` for a session cookie."""
    max_age = attributes.get("max-age", "")
    digits = max_age[1:] if max_age[:1] == "-" else max_age
    if digits.isascii() and digits.isdigit():
        if max_age[:1] == "-" or not digits.strip("0"):
            return now
        # Browsers hold a cookie 400 days at most (RFC 6265bis 5.6.2); a longer Max-Age,
        # hundreds of digits, is no float.
        significant = digits.lstrip("0")
        return now + (_MAX_AGE if len(significant) > 9 else min(int(significant), _MAX_AGE))
    expires = attributes.get("expires")
    parsed = parsedate_tz(expires) if expires is not None else None
    if parsed is None:
        return None
    try:
        return float(mktime_tz(parsed))
    except (OverflowError, ValueError):  # a year no calendar holds (99999): no date
        return None


def _acceptable(name: str, attributes: Mapping[str, str], request: Request) -> bool:
    """False for a cookie browsers ignore (RFC 6265bis 5.7): Secure from an origin that
    is not secure, a Domain the host is not in or that is a top-level name, a
    ``__Secure-`` or ``__Host-`` name that breaks its prefix's rules."""
    secure = "secure" in attributes
    host = _hostname(request.host)
    if secure and not _secure_origin(request.scheme, host):
        return False
    domain = attributes.get("domain", "").lstrip(".").lower()
    if domain and not _in_domain(host, domain):
        return False
    if domain and "." not in domain and domain != host:
        # RFC 6265 5.3 step 5: a top-level name is a public suffix (the suffix list's
        # default rule), which no host below it may set a cookie for.
        return False
    prefix = name[:9].lower()
    if prefix == "__secure-":
        return secure
    if prefix[:7] == "__host-":
        return secure and "domain" not in attributes and attributes.get("path") == "/"
    return True


def _body(
    headers: Headers,
    json: object,
    data: _Fields | None,
    content: bytes | str | None,
    chunks: Iterable[bytes] | None,
) -> bytes | AsyncIterator[bytes]:
    """The request body the arguments describe; its type and length go into ``headers``
    as a client states them."""
    if chunks is not None:
        return _aiter(chunks)
    body = b""
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers.setdefault("content-type", "application/json")
    elif data is not None:
        body = urlencode(data, doseq=True).encode()
        headers.setdefault("content-type", "application/x-www-form-urlencoded")
    elif content is not None:
        body = content.encode() if isinstance(content, str) else content
    if body:
        headers.setdefault("content-length", str(len(body)))
    return body


def _split_url(url: str) -> tuple[str | None, str | None, str, str]:
    """The scheme and authority (of an absolute URL, else ``None``), path and query of
    ``url``. Split by hand: urlsplit silently drops CR, LF and tabs, which tests must
    send. A fragment is never sent, as no HTTP client sends one."""
    url = url.partition("#")[0]
    scheme = authority = None
    for prefix in ("https://", "http://"):
        if url[: len(prefix)].lower() == prefix:
            scheme, rest = prefix[:-3], url[len(prefix) :]
            cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
            authority, url = rest[:cut], rest[cut:]
            break
    path, _, query = url.partition("?")
    return scheme, authority, path or "/", query


def _hostname(host: str) -> str:
    """The name or address in a ``Host`` value, lower-cased, without its port (an IPv6
    address keeps its brackets)."""
    host = host.lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] or host
    return host.rsplit(":", 1)[0]


def _secure_origin(scheme: str, hostname: str) -> bool:
    """True where browsers keep and send ``Secure`` cookies: https, and plain http to
    ``localhost``, a name below it or a loopback address (Secure Contexts 3.2)."""
    return scheme == "https" or is_loopback_host(hostname) or hostname.endswith(".localhost")


def _domain_matches(hostname: str, scope: _Scope) -> bool:
    """RFC 6265 5.1.3: ``hostname`` is the cookie's host, or, for a cookie with a
    ``Domain``, that domain or a name below it."""
    if scope.host_only:
        return hostname == scope.domain
    return _in_domain(hostname, scope.domain)


def _in_domain(hostname: str, domain: str) -> bool:
    """RFC 6265 5.1.3: ``hostname`` is ``domain`` or a name below it; an IP address is in
    no domain but itself (``127.0.0.1`` is not below ``0.0.1``)."""
    if hostname == domain:
        return True
    return hostname.endswith("." + domain) and parse_ip(hostname) is None


def _basic(userinfo: str) -> str:
    """The ``Authorization`` value for a URL's ``user:password``, percent-decoded."""
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _path_matches(path: str, scope: str) -> bool:
    """RFC 6265 5.1.4: ``path`` is ``scope`` or below it."""
    return path == scope or (
        path.startswith(scope) and (scope.endswith("/") or path[len(scope)] == "/")
    )


# Statuses whose responses carry no content, hence no Content-Length (RFC 9110 8.6).
_MAX_AGE = 400 * 24 * 60 * 60
_BODILESS = frozenset({*range(100, 200), 204, 304})


async def _close(stream: object) -> None:
    """Close a stream read to its end, as a server closes one it sent; a close that fails
    is no failure of the answer, which the client got whole."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        from contextlib import suppress

        with suppress(Exception):
            await close()


def _frame(headers: Headers, status: int, body: bytes, method: str, streamed: bool) -> None:
    """Frame the response as the runtimes send it: a handler's ``Transfer-Encoding`` is
    never sent, and a bytes body states its own length (a HEAD answer the length its GET
    would have had); a streamed one states none."""
    declared = headers.get("content-length")
    del headers["content-length"]
    del headers["transfer-encoding"]
    if streamed or status in _BODILESS:
        return
    if method != "HEAD":
        headers["content-length"] = str(len(body))
    elif declared is not None:
        headers["content-length"] = declared


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _aiter(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
