"""Secret leakage into logs: every shape below must come out of the redactor clean.

Each case is (shape, value, secrets that must not appear, text that must survive). The
survivor proves the case is not passing by throwing everything away.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import types

import pytest

from daloy_edge import Headers, KeyRing, Secret
from daloy_edge.observability import Redactor, encode, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJlLXZhbHVl"
PASSWORD = "hunter2-Pa55word"
TOKEN = "tok_9f8e7d6c5b4a"
API_KEY = "ak_live_0123456789abcdef"
COOKIE = "sess=s3ss10nvalue0123"
SIG = "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"


Credentials = collections.namedtuple("Credentials", ["user", "password"])


@dataclasses.dataclass
class Login:
    user: str
    password: str


@dataclasses.dataclass(slots=True, frozen=True)
class ApiClient:
    name: str
    api_key: str


class Plain:
    def __init__(self) -> None:
        self.owner = "ana"
        self.private_key = "-----BEGIN PRIVATE KEY-----MIIEv-----END PRIVATE KEY-----"


class Slotted:
    __slots__ = ("label", "session")

    def __init__(self) -> None:
        self.label = "cart"
        self.session = COOKIE


def _cyclic_dict() -> dict[str, object]:
    data: dict[str, object] = {"user": "ana", "token": TOKEN}
    data["self"] = data
    return data


def _cyclic_objects() -> object:
    a, b = types.SimpleNamespace(), types.SimpleNamespace()
    a.name, a.peer = "ana", b
    b.peer, b.password = a, PASSWORD
    return a


def _deep(levels: int) -> dict[str, object]:
    node: dict[str, object] = {"note": f"bearer {TOKEN}", "client_secret": PASSWORD}
    for _ in range(levels):
        node = {"child": node}
    return {"top": "visible", "tree": node}


def _chained_error() -> BaseException:
    try:
        try:
            raise ValueError(f"db login failed: password={PASSWORD}")
        except ValueError as inner:
            raise RuntimeError("request failed") from inner
    except RuntimeError as outer:
        return outer


CORPUS: list[tuple[str, object, list[str], str]] = [
    ("flat_password", {"user": "ana", "password": PASSWORD}, [PASSWORD], "ana"),
    (
        "nested_body",
        {"a": {"b": {"c": {"client_secret": PASSWORD, "x": "keep"}}}},
        [PASSWORD],
        "keep",
    ),
    ("list_of_dicts", [{"id": 1, "token": TOKEN}, {"id": 2, "token": TOKEN}], [TOKEN], '"id":2'),
    ("tuple_of_dicts", ({"api_key": API_KEY, "k": "keep"},), [API_KEY], "keep"),
    ("set_of_secrets", {Secret(PASSWORD), "plain"}, [PASSWORD], "plain"),
    ("dataclass", Login("ana", PASSWORD), [PASSWORD], "ana"),
    ("named_tuple", {"login": Credentials("ana", PASSWORD)}, [PASSWORD], "ana"),
    ("slots_dataclass", ApiClient("billing", API_KEY), [API_KEY], "billing"),
    ("object_with_dict", Plain(), ["MIIEv"], "ana"),
    ("object_with_slots", Slotted(), ["s3ss10nvalue0123"], "cart"),
    ("secret_by_type", {"harmless": Secret(PASSWORD), "n": "keep"}, [PASSWORD], "keep"),
    ("keyring_by_type", {"ring": KeyRing([PASSWORD * 3]), "n": "keep"}, [PASSWORD], "keep"),
    ("header_upper", {"AUTHORIZATION": f"Bearer {JWT}", "Accept": "keep/json"}, [JWT], "keep/json"),
    (
        "header_lower",
        {"authorization": f"Basic {API_KEY}", "host": "keep.example"},
        [API_KEY],
        "keep.example",
    ),
    (
        "headers_cookie",
        Headers([("Cookie", COOKIE), ("Host", "keep.example")]),
        ["s3ss10nvalue0123"],
        "keep.example",
    ),
    (
        "headers_set_cookie_multi",
        Headers(
            [("Set-Cookie", f"a={TOKEN}"), ("set-cookie", f"b={PASSWORD}"), ("X-Keep", "keep")]
        ),
        [TOKEN, PASSWORD],
        "keep",
    ),
    ("header_x_api_key_mixed_case", {"x-API-key": API_KEY, "via": "keep"}, [API_KEY], "keep"),
    (
        "header_proxy_authorization",
        Headers([("Proxy-Authorization", f"Basic {API_KEY}")]),
        [API_KEY],
        "proxy-authorization",
    ),
    (
        "header_signature_variant",
        Headers([("X-Hub-Signature-256", SIG), ("X-Keep", "keep")]),
        ["5257a869e7"],
        "keep",
    ),
    ("header_security_token", {"X-Amz-Security-Token": TOKEN, "X-Keep": "keep"}, [TOKEN], "keep"),
    ("header_csrf_token", {"X-CSRF-Token": TOKEN, "X-Keep": "keep"}, [TOKEN], "keep"),
    (
        "bytes_with_bearer",
        {"raw": f"GET / HTTP/1.1\r\nAuthorization: Bearer {JWT}".encode()},
        [JWT],
        "GET / HTTP/1.1",
    ),
    ("bytes_under_secret_key", {"password": PASSWORD.encode(), "n": b"keep"}, [PASSWORD], "keep"),
    ("jwt_in_text", {"msg": f"token was {JWT} for ana"}, [JWT], "for ana"),
    (
        "query_string_text",
        {"url": f"/login?user=ana&password={PASSWORD}&x=1"},
        [PASSWORD],
        "user=ana",
    ),
    ("json_text", {"raw": json.dumps({"user": "ana", "api_key": API_KEY})}, [API_KEY], "ana"),
    ("python_repr_text", {"raw": repr({"user": "ana", "api_key": API_KEY})}, [API_KEY], "ana"),
    (
        "url_with_credentials",
        {"dsn": f"postgres://app:{PASSWORD}@db.internal/app"},
        [PASSWORD],
        "db.internal",
    ),
    (
        "exception_message",
        {"error": ValueError(f"bad creds password={PASSWORD}")},
        [PASSWORD],
        "ValueError",
    ),
    ("chained_exception", {"error": _chained_error()}, [], "request failed"),
    ("cyclic_dict", _cyclic_dict(), [TOKEN], "[Circular]"),
    ("cyclic_objects", _cyclic_objects(), [PASSWORD], "[Circular]"),
    ("deep_nesting", _deep(100), [PASSWORD, TOKEN], "visible"),
    (
        "huge_list",
        [{"token": TOKEN}] * 50 + [{"n": i} for i in range(100_000)],
        [TOKEN],
        "[more items]",
    ),
    ("huge_string", {"blob": f"password={PASSWORD} " + "x" * 1_000_000}, [PASSWORD], "more]"),
    ("huge_int", {"n": 10**5000, "k": "keep"}, [], "bits"),
    ("non_string_keys", {(1, 2): "tuple-key", b"api_key": API_KEY, 3: "keep"}, [API_KEY], "keep"),
    (
        "camel_case_keys",
        {"clientSecret": PASSWORD, "accessToken": TOKEN, "apiKey": API_KEY, "userName": "ana"},
        [PASSWORD, TOKEN, API_KEY],
        "ana",
    ),
    (
        "kebab_case_keys",
        {"client-secret": PASSWORD, "refresh-token": TOKEN, "user-name": "ana"},
        [PASSWORD, TOKEN],
        "ana",
    ),
    (
        "asgi_header_pairs",
        [
            (b"authorization", b"Bearer opaque-9f8e7d"),
            (b"cookie", COOKIE.encode()),
            (b"via", b"keep"),
        ],
        ["opaque-9f8e7d", "s3ss10nvalue0123"],
        "keep",
    ),
    (
        "parsed_query_pairs",
        (("user", "ana"), ("x-api-key", API_KEY), ("sig", SIG)),
        [API_KEY, "5257a869e7"],
        "ana",
    ),
    (
        "mapping_proxy",
        types.MappingProxyType({"passwd": PASSWORD, "n": "keep"}),
        [PASSWORD],
        "keep",
    ),
    (
        "aws_access_key_id",
        {"note": "creds AKIAIOSFODNN7EXAMPLE leaked"},
        ["AKIAIOSFODNN7EXAMPLE"],
        "leaked",
    ),
    (
        "pem_in_text",
        {
            "note": "key: -----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n"
            "-----END RSA PRIVATE KEY----- end"
        },
        ["MIIBOgIBAAJBAK"],
        "end",
    ),
    (
        "pgp_private_key_block_in_text",
        {
            "note": "key: -----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGV0ZXN0\n"
            "-----END PGP PRIVATE KEY BLOCK----- end"
        },
        ["lQOYBGV0ZXN0"],
        "end",
    ),
    (
        "authorization_line_in_text",
        {"dump": "Authorization: Basic dXNlcjpwYXNzd29yZA== next"},
        ["dXNlcjpwYXNzd29yZA"],
        "next",
    ),
]


@pytest.mark.parametrize(
    ("shape", "value", "secrets", "survivor"), CORPUS, ids=[c[0] for c in CORPUS]
)
def test_redaction_keeps_secrets_out_of_log_line(shape, value, secrets, survivor):
    line = encode({"Attributes": {"value": redact(value)}})
    for secret in secrets:
        assert secret not in line, shape
    assert survivor in line


def test_chained_exception_trace_is_scrubbed():
    from daloy_edge.observability._record import exception_attributes

    attributes = exception_attributes(_chained_error(), Redactor(), with_trace=True)
    trace = str(attributes["exception.stacktrace"])
    assert "db login failed" in trace
    assert PASSWORD not in trace


def test_source_line_with_secret_in_trace_is_scrubbed():
    from daloy_edge.observability._record import exception_attributes

    try:
        api_key = "ak_live_from_source_0123"
        raise RuntimeError(f"upstream refused api_key={api_key}")
    except RuntimeError as exc:
        attributes = exception_attributes(exc, Redactor(), with_trace=True)
    line = encode(attributes)
    assert "ak_live_from_source_0123" not in line
    assert "RuntimeError" in line


def test_one_string_extends_secret_keys():
    redactor = Redactor(extra_keys=("iban",))
    line = encode(redactor.redact({"customer": {"IBAN": "DE89370400440532013000"}}))
    assert "DE89370400440532013000" not in line


@pytest.mark.parametrize(
    "payload",
    ['line\r\n{"SeverityText":"INFO","Body":"forged"}', "\x1b[31mred\x1b[0m", "a\u2028b\u0085c"],
    ids=["crlf_forged_record", "ansi_escape", "unicode_line_separators"],
)
def test_log_injection_is_neutralised_by_json_encoding(payload):
    line = encode({"Body": redact(payload)})
    assert "\n" not in line and "\r" not in line
    assert "\x1b" not in line and "\u2028" not in line and "\x85" not in line
    assert json.loads(line)["Body"] == payload
