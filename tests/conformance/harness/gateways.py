"""What API Gateway, Function URLs and ALB do around a function, built on recorded events.

The services themselves cannot run here. Each event starts from the event recorded
for its shape under tests/fixtures/events/ (``sam local generate-event``; the Function
URL and multi-value ALB ones written from the AWS documentation) and changes only
the request-specific fields, following what each service documents:

- REST API (payload 1.0): path as sent; query parameters decoded, in both
  ``queryStringParameters`` (last value) and ``multiValueQueryStringParameters``;
  headers in ``headers`` (last value) and ``multiValueHeaders``.
- HTTP API (payload 2.0): ``rawPath`` decoded; ``rawQueryString`` as sent; repeated
  headers joined with commas; cookies moved to the ``cookies`` array.
- Function URL: the 2.0 shape with ``rawPath`` as sent, and the Cookie header kept among
  the headers as well as split into ``cookies``.
- ALB: path and query as sent (never decoded); without multi-value headers only the
  last value of a repeated header or parameter survives; X-Forwarded-For appended.

Bodies that are not UTF-8 text, or are sent as ``application/octet-stream``, arrive
base64-encoded. Results are read back the way each service writes the HTTP response.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from daloy_edge import Headers
from tests.conformance.harness.client import Reply

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
CLIENT_IP = "198.51.100.7"
SHAPES_WITH_CLIENT_ADDRESS = ("rest-v1", "http-v2", "function-url")
"""Shapes whose request context names the caller (ALB events do not)."""
SHAPES = ("rest-v1", "http-v2", "function-url", "alb", "alb-multi")
_FILES = {
    "rest-v1": "apigw_rest_v1.json",
    "http-v2": "apigw_http_v2.json",
    "function-url": "function_url.json",
    "alb": "alb.json",
    "alb-multi": "alb_multi_value.json",
}
_TEMPLATES: dict[str, dict[str, Any]] = {}


def recorded(shape: str) -> dict[str, Any]:
    """A fresh copy of the recorded event for ``shape``."""
    if shape not in _TEMPLATES:
        _TEMPLATES[shape] = json.loads((EVENTS / _FILES[shape]).read_text())
    return copy.deepcopy(_TEMPLATES[shape])


def _body_fields(headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    media = next((v for k, v in headers if k.lower() == "content-type"), "")
    if not body:
        return {"body": None, "isBase64Encoded": False}
    try:
        if media.split(";")[0].strip().lower() == "application/octet-stream":
            raise UnicodeDecodeError("utf-8", body, 0, 1, "binary media type")
        return {"body": body.decode("utf-8"), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _rest_v1(
    method: str, path: str, query: str, headers: list[tuple[str, str]], client_ip: str
) -> dict[str, Any]:
    event = recorded("rest-v1")
    params = _grouped(parse_qsl(query, keep_blank_values=True))
    multi = _grouped([*headers, ("X-Forwarded-For", client_ip)])
    event.update(
        httpMethod=method,
        path=path,
        resource="/{proxy+}",
        pathParameters={"proxy": path.lstrip("/")},
        multiValueHeaders=multi,
        headers={k: v[-1] for k, v in multi.items()},
        multiValueQueryStringParameters=params or None,
        queryStringParameters={k: v[-1] for k, v in params.items()} or None,
    )
    context = event["requestContext"]
    context.update(httpMethod=method, path=f"/{context['stage']}{path}")
    context["identity"]["sourceIp"] = client_ip
    return event


def _http_v2(
    shape: str,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    client_ip: str,
) -> dict[str, Any]:
    event = recorded(shape)
    cookies: list[str] = []
    joined: dict[str, str] = {}
    for name, value in [*headers, ("x-forwarded-for", client_ip)]:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            if shape == "http-v2":
                continue
        if key in joined:
            joined[key] = f"{joined[key]},{value}"
        else:
            joined[key] = value
    params = _grouped(parse_qsl(query, keep_blank_values=True))
    raw = unquote(path) if shape == "http-v2" else path
    event.update(
        rawPath=raw,
        rawQueryString=query,
        headers=joined,
        queryStringParameters={k: ",".join(v) for k, v in params.items()} or None,
        pathParameters={"proxy": raw.lstrip("/")},
    )
    if cookies:
        event["cookies"] = cookies
    else:
        event.pop("cookies", None)
    http = event["requestContext"]["http"]
    http.update(method=method, path=raw, sourceIp=client_ip)
    return event


def _alb(
    shape: str,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    client_ip: str,
) -> dict[str, Any]:
    event = recorded(shape)
    lowered = [(k.lower(), v) for k, v in headers]
    lowered += [("x-forwarded-for", client_ip), ("x-forwarded-proto", "https")]
    raw_params = [tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p]
    params = _grouped(raw_params)  # type: ignore[arg-type]
    event.update(httpMethod=method, path=path)
    if shape == "alb-multi":
        event["multiValueHeaders"] = _grouped(lowered)
        event["multiValueQueryStringParameters"] = params
    else:
        event["headers"] = {k: v[-1] for k, v in _grouped(lowered).items()}
        event["queryStringParameters"] = {k: v[-1] for k, v in params.items()}
    return event


def build_event(
    shape: str,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    client_ip: str = CLIENT_IP,
) -> dict[str, Any]:
    """The event ``shape``'s service would hand the function for a request from
    ``client_ip`` (ALB events carry it only in the appended X-Forwarded-For)."""
    path, _, query = target.partition("?")
    if shape == "rest-v1":
        event = _rest_v1(method, path, query, headers, client_ip)
    elif shape in ("http-v2", "function-url"):
        event = _http_v2(shape, method, path, query, headers, client_ip)
    else:
        event = _alb(shape, method, path, query, headers, client_ip)
    event.update(_body_fields(headers, body))
    return event


def read_result(shape: str, result: dict[str, Any]) -> Reply:
    """The HTTP response the service sends for the function's result."""
    pairs: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    lowered_multi = {k.lower() for k in multi}
    for name, values in multi.items():
        pairs += [(name, str(v)) for v in values]
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in lowered_multi:
            pairs.append((name, str(value)))
    if shape in ("http-v2", "function-url"):
        pairs += [("set-cookie", c) for c in result.get("cookies") or ()]
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return Reply(int(result["statusCode"]), Headers(pairs), data)
