"""One translator per Lambda HTTP event shape: event to Request, Response to result.

Shapes: API Gateway REST (payload 1.0), HTTP API (payload 2.0), Function URL (the 2.0
shape on a ``lambda-url`` domain) and ALB with or without multi-value headers.
"""

from __future__ import annotations

from daloy_edge import Headers, Request
from daloy_edge._headers import lower_unicode_name
from daloy_edge._request import new_request
from daloy_edge_aws_lambda._encoding import decode_body, encode_body, raw_path, raw_query
from daloy_edge_aws_lambda._limits import ALB_MAX_RESULT, LAMBDA_MAX_RESULT, ResultCheck

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping
    from typing import Any, TypeAlias

    from daloy_edge import Response

    Event: TypeAlias = Mapping[str, Any]
    Result: TypeAlias = dict[str, Any]

__all__ = [
    "ALB",
    "ALB_MULTI_VALUE",
    "FUNCTION_URL",
    "HTTP_API_V2",
    "REST_API_V1",
    "EventShape",
    "Translation",
    "UnsupportedEvent",
    "detect",
]

RUNTIME = "aws-lambda"
_STATUS_LINES: dict[int, str] = {}


def _status_line(status: int) -> str:
    """``"404 Not Found"`` for an ALB result (the status table loads with the first one)."""
    if not _STATUS_LINES:
        from http import HTTPStatus

        _STATUS_LINES.update({s.value: f"{s.value} {s.phrase}" for s in HTTPStatus})
    return _STATUS_LINES.get(status, str(status))


class UnsupportedEvent(ValueError):
    """The event is not one of the HTTP shapes this adapter understands."""


# Plain slotted classes rather than dataclasses: building a dataclass costs about a
# millisecond of import time, and import time is cold-start time on Lambda.
class Translation:
    """Runtime facts the translators need besides the event."""

    __slots__ = ("env", "trust_alb_forwarded_for")

    def __init__(
        self, env: Mapping[str, str] | None = None, trust_alb_forwarded_for: bool = False
    ) -> None:
        self.env: Mapping[str, str] = env if env is not None else {}
        self.trust_alb_forwarded_for = trust_alb_forwarded_for


class EventShape:
    """A named pair of translators for one event shape, and the check of a result against
    the largest one its service delivers (``max_result`` bytes of JSON)."""

    __slots__ = ("check", "from_response", "name", "to_request")

    def __init__(
        self,
        name: str,
        to_request: Callable[[Event, Translation], Request],
        from_response: Callable[[Response, bytes], Result],
        *,
        max_result: int = LAMBDA_MAX_RESULT,
    ) -> None:
        self.name = name
        self.to_request = to_request
        self.from_response = from_response
        self.check = ResultCheck(from_response, max_result)

    def __repr__(self) -> str:
        return f"<EventShape {self.name}>"


def _query_from_params(params: Mapping[str, Any] | None, decoded: bool) -> str:
    if not params:
        return ""
    pairs = [
        (key, value)
        for key, values in params.items()
        for value in (values if isinstance(values, list) else (values,))
        if value is not None
    ]
    if decoded:
        from urllib.parse import quote_plus, urlencode

        # Encoded as clients encode a query (spaces as "+", "/" and ":" as they are), so
        # the query the app's length limit sees is no longer than the one sent: each
        # "%20" or "%2F" tripled a character, and a query well within the limit from
        # every other runtime was refused (400) from a REST API. A lone surrogate becomes
        # the escapes of its bytes, invalid UTF-8 the query parser replaces, as it does
        # such escapes from any runtime.
        return urlencode(pairs, quote_via=quote_plus, safe=_QUERY_SAFE, errors="surrogatepass")
    # ALB hands parameters over exactly as the client sent them, still encoded.
    return raw_query("&".join(f"{key}={value}" for key, value in pairs))


# Characters a query may carry as they are (RFC 3986) and a query parser reads as
# themselves: all but "&", "=", "+" and "%", which separate or escape.
_QUERY_SAFE = "/?:@!$'()*,;"


def _multi_value_headers(source: Mapping[str, Any]) -> Headers:
    # One comprehension, lowering as it goes: a lone string is one value, a list holds
    # any number (``None`` entries skipped), and an empty or missing entry none.
    return Headers._from_received(
        [
            (name.lower() if name.isascii() else lower_unicode_name(name), value)
            for name, values in source.items()
            for value in ((values,) if isinstance(values, str) else values or ())
            if value is not None
        ]
    )


_NOT_TEXT = "the method is not text"
_SOURCE_NOT_TEXT = "the source IP is not text"
_QUERY_NOT_TEXT = "rawQueryString is not text"
_COOKIES_NOT_LIST = "cookies is not a list"


def _method(value: object) -> str:
    """The event's method (GET when it names none); a method that is no text makes the
    event malformed (``TypeError``, answered as :class:`UnsupportedEvent`): carried on,
    it failed the request's checks and its log line with a 500."""
    if type(value) is str:
        return value or "GET"
    if not value:
        return "GET"
    raise TypeError(_NOT_TEXT)


def _source_ip(value: object) -> str | None:
    """The event's source IP; one that is no text makes the event malformed (carried on,
    it failed the client-address resolution and the log line with a 500, or escaped as a
    bare ``TypeError`` when unhashable)."""
    if value is None or type(value) is str:
        return value
    raise TypeError(_SOURCE_NOT_TEXT)


def _single_value_headers(source: Mapping[str, Any] | None) -> Headers:
    # Lower-case names (ALB and HTTP APIs send them so) taken as they are.
    if type(source) is dict:
        return Headers.from_dict(source)
    return Headers(source or None)


def _body(event: Event) -> bytes | AsyncIterator[bytes]:
    # Most invocations carry no body: no call for them.
    body = event.get("body")
    return decode_body(body, event.get("isBase64Encoded")) if body else b""


def _rest_v1_request(event: Event, t: Translation) -> Request:
    multi = event.get("multiValueHeaders")
    # REST APIs keep the client's spelling of names: no lower-case shortcut to try.
    headers = _multi_value_headers(multi) if multi else Headers(event.get("headers") or None)
    params = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters")
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    return new_request(
        _method(event.get("httpMethod")),
        # REST APIs pass the path on as sent; HTTP APIs, whose payload 1.0 alone carries
        # a version, decode it.
        raw_path(event.get("path"), event.get("version") == "1.0"),
        query_string=_query_from_params(params, decoded=True),
        headers=headers,
        scheme="https",
        client=_source_ip(identity.get("sourceIp")),
        body=_body(event),
        env=t.env,
        runtime=RUNTIME,
    )


def _v2_translator(decoded: bool) -> Callable[[Event, Translation], Request]:
    """The payload 2.0 translator; ``decoded``: the service decodes ``rawPath``."""

    def to_request(event: Event, t: Translation) -> Request:
        http = event["requestContext"]["http"]
        # ``_single_value_headers`` and ``_body`` written out: HTTP APIs carry most traffic.
        source = event.get("headers")
        headers = Headers.from_dict(source) if type(source) is dict else Headers(source or None)
        cookies = event.get("cookies")
        if cookies:
            if type(cookies) is not list:
                # Joined, a string went in a character at a time ("a; =; 1").
                raise TypeError(_COOKIES_NOT_LIST)
            # Unchecked, as the request's other fields: those are judged by the app (400).
            # In place of a Cookie header among the others: a Function URL keeps it there
            # beside the array (an HTTP API moves it), and read from both, every cookie
            # came twice (Sessions refused each session cookie as repeated).
            headers.put_lowered("cookie", "; ".join(cookies))
        body = event.get("body")
        method = http.get("method") or "GET"
        if type(method) is not str:
            raise TypeError(_NOT_TEXT)
        source = http.get("sourceIp")
        if source is not None and type(source) is not str:
            raise TypeError(_SOURCE_NOT_TEXT)
        query = event.get("rawQueryString") or ""
        if type(query) is not str:
            # Carried on, it failed the request's query checks with a 500.
            raise TypeError(_QUERY_NOT_TEXT)
        if not query.isascii():
            query = raw_query(query)
        return new_request(
            method,
            raw_path(event.get("rawPath"), decoded),
            query_string=query,
            headers=headers,
            scheme="https",
            client=source,
            body=decode_body(body, event.get("isBase64Encoded")) if body else b"",
            env=t.env,
            runtime=RUNTIME,
        )

    return to_request


_http_v2_request = _v2_translator(decoded=True)
# Function URLs pass rawPath on as the client sent it.
_function_url_request = _v2_translator(decoded=False)


def _alb_request(event: Event, t: Translation) -> Request:
    multi = event.get("multiValueHeaders")
    if multi is not None:
        headers = _multi_value_headers(multi)
        params = event.get("multiValueQueryStringParameters")
    else:
        headers = _single_value_headers(event.get("headers"))
        params = event.get("queryStringParameters")
    # An ALB passes no peer address of its own; only in its default "append" mode is the
    # last X-Forwarded-For entry the address it saw, so that is an explicit opt-in.
    client = None
    if t.trust_alb_forwarded_for:
        forwarded = headers.get_all("x-forwarded-for")
        if forwarded:
            client = forwarded[-1].rsplit(",", 1)[-1].strip() or None
    # The listener's protocol is the line (and entry) the load balancer wrote, the last:
    # one a client sent ahead of it must not make the app take its own origin for http.
    protos = headers.get_all("x-forwarded-proto")
    last = protos[-1].rpartition(",")[2].strip() if protos else ""
    scheme = "http" if last == "http" else "https"
    return new_request(
        _method(event.get("httpMethod")),
        raw_path(event.get("path"), decoded=False),
        query_string=_query_from_params(params, decoded=False),
        headers=headers,
        scheme=scheme,
        client=client,
        body=_body(event),
        env=t.env,
        runtime=RUNTIME,
    )


_FRAMING = "transfer-encoding"
"""Left out of every result: the service frames the body it sends itself, and a handler's
Transfer-Encoding passed on ("chunked" over a body that is not) breaks the answer at API
Gateway and CloudFront. The ASGI, Functions Framework and Workers adapters never send it
either."""
_LENGTH = "content-length"


def _stated_length(headers: dict[str, Any], body: bytes, grouped: bool) -> None:
    """A handler's Content-Length beside a body is replaced by the body's own, as the ASGI
    and Functions Framework adapters frame a body: passed on, "3" over a 5-byte body (or
    "3, 5" from two fields) said one length to GET and another to HEAD, whose answer the
    app states from the body. A bodiless answer keeps what the app stated (HEAD's)."""
    if body and _LENGTH in headers:
        length = str(len(body))
        headers[_LENGTH] = [length] if grouped else length


def _grouped(response: Response, body: bytes) -> tuple[dict[str, list[str]], str, bool]:
    items = response.headers._items
    single = dict(items)
    if len(single) == len(items):  # no field repeats, the usual case
        grouped = {name: [value] for name, value in items}
        content_type = single.get("content-type")
        encoded = "content-encoding" in single
    else:
        grouped = {}
        content_type = None
        encoded = False
        for name, value in items:
            values = grouped.get(name)
            if values is None:
                grouped[name] = [value]
            else:
                values.append(value)
            if name == "content-type":
                content_type = value
            elif name == "content-encoding":
                encoded = True
    grouped.pop(_FRAMING, None)
    _stated_length(grouped, body, True)
    text, is_base64 = encode_body(body, content_type, encoded)
    return grouped, text, is_base64


def _rest_v1_result(response: Response, body: bytes) -> Result:
    headers, text, is_base64 = _grouped(response, body)
    return {
        "statusCode": response.status,
        "multiValueHeaders": headers,
        "body": text,
        "isBase64Encoded": is_base64,
    }


def _http_v2_result(response: Response, body: bytes) -> Result:
    items = response.headers._items
    headers = dict(items)
    cookies: list[str] = []
    # Most responses repeat no field and set no cookie: the dict of the pairs is the
    # answer as it is.
    if len(headers) != len(items) or "set-cookie" in headers:
        headers = {}
        for name, value in items:
            if name == "set-cookie":
                cookies.append(value)
            elif name in headers:
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value
    headers.pop(_FRAMING, None)
    _stated_length(headers, body, False)
    text, is_base64 = encode_body(body, headers.get("content-type"), "content-encoding" in headers)
    return {
        "statusCode": response.status,
        "headers": headers,
        "cookies": cookies,
        "body": text,
        "isBase64Encoded": is_base64,
    }


_COOKIE_LETTERS = [i for i, ch in enumerate("set-cookie") if ch.isalpha()]
_COOKIE_NAMES: list[str] = []
_MAX_COOKIES = 1 << len(_COOKIE_LETTERS)


def _cookie_header_name(n: int) -> str:
    # A single-value ALB result is a plain dict, so several Set-Cookie fields travel under
    # differently-cased names; the load balancer sends each one as its own header.
    while len(_COOKIE_NAMES) <= n:
        index = len(_COOKIE_NAMES)
        chars = list("set-cookie")
        for bit, pos in enumerate(_COOKIE_LETTERS):
            if index >> bit & 1:
                chars[pos] = chars[pos].upper()
        _COOKIE_NAMES.append("".join(chars))
    return _COOKIE_NAMES[n]


def _alb_result(response: Response, body: bytes) -> Result:
    items = response.headers._items
    headers = dict(items)
    # With no field repeated, the pairs are the answer as they are (a lone Set-Cookie
    # keeps the all-lower-case spelling, the first of ``_cookie_header_name``'s).
    if len(headers) != len(items):
        headers = {}
        cookies = 0
        for name, value in items:
            if name == "set-cookie":
                if cookies < _MAX_COOKIES:
                    headers[_cookie_header_name(cookies)] = value
                cookies += 1
            elif name in headers:
                headers[name] = f"{headers[name]}, {value}"
            else:
                headers[name] = value
    headers.pop(_FRAMING, None)
    _stated_length(headers, body, False)
    text, is_base64 = encode_body(body, headers.get("content-type"), "content-encoding" in headers)
    return {
        "statusCode": response.status,
        "statusDescription": _status_line(response.status),
        "headers": headers,
        "body": text,
        "isBase64Encoded": is_base64,
    }


def _alb_multi_result(response: Response, body: bytes) -> Result:
    headers, text, is_base64 = _grouped(response, body)
    return {
        "statusCode": response.status,
        "statusDescription": _status_line(response.status),
        "multiValueHeaders": headers,
        "body": text,
        "isBase64Encoded": is_base64,
    }


REST_API_V1 = EventShape("rest-api-v1", _rest_v1_request, _rest_v1_result)
HTTP_API_V2 = EventShape("http-api-v2", _http_v2_request, _http_v2_result)
FUNCTION_URL = EventShape("function-url", _function_url_request, _http_v2_result)
ALB = EventShape("alb", _alb_request, _alb_result, max_result=ALB_MAX_RESULT)
ALB_MULTI_VALUE = EventShape(
    "alb-multi-value", _alb_request, _alb_multi_result, max_result=ALB_MAX_RESULT
)


def detect(event: Event) -> EventShape:
    """The shape of ``event``; :class:`UnsupportedEvent` for anything that is not HTTP."""
    try:
        context = event.get("requestContext")
    except AttributeError:  # a direct invocation's JSON string, number, array or null
        raise UnsupportedEvent(f"not an HTTP event: a {type(event).__name__}") from None
    try:
        if context is not None and "elb" in context:
            # The answer takes the request's form, as _alb_request reads it: a null
            # multiValueHeaders (a hand-built event) is the single-value form.
            return ALB if event.get("multiValueHeaders") is None else ALB_MULTI_VALUE
        if event.get("version") == "2.0" and context is not None and "http" in context:
            domain = context.get("domainName") or ""
            if ".lambda-url." in domain:
                return FUNCTION_URL
            if "type" in event:
                raise UnsupportedEvent(_AUTHORIZER)
            return HTTP_API_V2
    except (AttributeError, TypeError):  # a requestContext or domainName of the wrong type
        raise UnsupportedEvent("malformed event: a requestContext of the wrong type") from None
    if "httpMethod" in event:
        if "type" in event:
            raise UnsupportedEvent(_AUTHORIZER)
        # A Bedrock agent's action call names an httpMethod too, an agent and no request
        # context (a hand-built proxy event without a context is still served).
        if context is None and "agent" in event:
            raise UnsupportedEvent("a Bedrock agent action call, not an HTTP event")
        return REST_API_V1
    raise UnsupportedEvent("not an API Gateway, Function URL or ALB HTTP event")


# A Lambda authorizer is asked about a request with the request's own fields plus "type"
# (TOKEN or REQUEST), which no proxy event carries: answered as the request, the route
# would run and API Gateway would get a result it cannot read as a policy.
_AUTHORIZER = "a Lambda authorizer request, not an HTTP event"
