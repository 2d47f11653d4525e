"""Redactor behaviour beyond the attack corpus: bounds, shapes, header rules, speed."""

from __future__ import annotations

import enum
import json
import time

import pytest

from daloy_edge import App, Response
from daloy_edge.observability import (
    REDACTED,
    LogConfig,
    MemorySink,
    Redactor,
    RequestLog,
    get_logger,
    redact,
    scrub_text,
)
from daloy_edge.observability._redact import MAX_HEADER_CHARS, MAX_HEADER_FIELDS
from daloy_edge.testing import TestClient


def test_output_is_plain_json():
    value = redact({"a": (1, 2.5, None, True), "b": {3}, "c": float("nan"), "d": b"\xff"})
    assert json.loads(json.dumps(value, allow_nan=False)) == value


def test_nesting_past_max_depth_is_marked():
    assert Redactor(max_depth=2).redact({"a": {"b": {"c": 1}}}) == {"a": {"b": "[MaxDepth]"}}


def test_long_container_is_cut_with_marker():
    assert Redactor(max_items=3).redact(list(range(10))) == [0, 1, 2, "[more items]"]


def test_long_string_is_cut_with_count():
    assert Redactor(max_string=5).redact("abcdefgh") == "abcde…[3 more]"


@pytest.mark.parametrize("leaf", ["a" * 10, b"b" * 10, 7], ids=["str", "bytes", "int"])
def test_one_list_repeated_through_a_structure_is_cut_at_max_chars(leaf: object) -> None:
    row = [leaf] * 100
    table = [[row] * 100] * 100  # a million leaves, from three lists
    assert len(json.dumps(redact({"table": table}))) < 10 * Redactor().max_chars


def test_shared_reference_is_not_reported_as_cycle():
    shared = {"n": 1}
    assert redact({"a": shared, "b": shared}) == {"a": {"n": 1}, "b": {"n": 1}}


def test_generator_is_not_consumed():
    items = (i for i in range(3))
    redact({"items": items})
    assert list(items) == [0, 1, 2]


class FailingItems(dict[str, str]):
    def items(self):  # type: ignore[override]
        raise RuntimeError("items failed")


class FailingStr(Exception):
    def __str__(self) -> str:
        raise ValueError("no text")


class UnboundProxy:
    """Like an unbound context-local proxy: every attribute, ``__class__`` too, raises."""

    def __getattribute__(self, name: str) -> object:
        raise RuntimeError("working outside of a context")


class FailingLower(str):
    def lower(self) -> str:
        raise RuntimeError("lower failed")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (FailingItems(a="b"), "FailingItems"),
        (FailingStr(), "FailingStr"),
        ({10**5000: "an int key past str()'s digit limit"}, "dict"),
        (UnboundProxy(), "UnboundProxy"),
        (FailingLower("a text long enough"), "FailingLower"),
    ],
    ids=["items", "exception-str", "huge-int-key", "class-lookup", "str-subclass"],
)
def test_value_that_raises_while_walked_is_marked_not_raised(value: object, kind: str) -> None:
    assert redact({"value": value, "user": "ana"}) == {
        "value": f"[unreadable {kind}]",
        "user": "ana",
    }


def test_log_body_that_raises_while_walked_is_marked_not_raised() -> None:
    assert redact(UnboundProxy()) == "[unreadable UnboundProxy]"


class Field(enum.Enum):
    PASSWORD = 1
    USER = 2


@pytest.mark.parametrize(
    "key",
    [("db", "password"), (b"api", b"key"), Field.PASSWORD, ("shard", 3, Field.PASSWORD)],
    ids=["tuple", "tuple-of-bytes", "enum-member", "nested"],
)
def test_secret_named_by_a_tuple_or_enum_key_is_redacted(key: object) -> None:
    redacted = redact({key: "hunter2-under-a-composite-key"})
    assert "hunter2" not in json.dumps(redacted)


def test_tuple_and_enum_keys_keep_their_names() -> None:
    assert redact({("shard", 3): "a", Field.USER: "ana"}) == {"shard.3": "a", "Field.USER": "ana"}


def test_callable_is_shown_by_type_only():
    def leaky() -> None:
        """Holds credentials in its closure or defaults; none of it is walked."""

    assert redact({"fn": leaky}) == {"fn": "<function>"}


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "proxy-authorization",
        "COOKIE",
        "Set-Cookie",
        "X-Api-Key",
        "X-Hub-Signature-256",
        "X-Goog-Signature",
        "X-Session-Token",
        "X-Amz-Security-Token",
        "X-Auth-Key",
        "X-Authentication",
    ],
)
def test_credential_header_is_secret(name):
    assert Redactor().is_secret_header(name)


@pytest.mark.parametrize("name", ["Accept", "Content-Type", "User-Agent", "Host", "X-Request-Id"])
def test_ordinary_header_is_kept(name):
    assert not Redactor().is_secret_header(name)


@pytest.mark.parametrize(
    "key",
    [
        "author",
        "keyboard",
        "monkey",
        "passenger",
        "passive",
        "route_key_count",
        "user",
        "key_id",
        "authType",
        "credit",
        "v2",
        "auth_error",
        "KeyException",
    ],
)
def test_ordinary_key_is_kept(key):
    assert redact({key: "v"}) == {key: "v"}


@pytest.mark.parametrize(
    "key",
    [
        "db_pwd",
        "smtp_pass",
        "basic_auth",
        "stripe_key",
        "dbPwd",
        "HMACKey",
        "x-auth",
        "api.key",
        "pw",
        "totp",
        "x-shopify-hmac-sha256",
        "aws_creds",
        "pass1",
        "key2",
    ],
)
def test_key_with_a_short_secret_name_as_a_word_is_redacted(key):
    assert redact({key: "hunter2"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "key",
    ["cvv", "card_number", "cardNumber", "card-cvc", "SAMLResponse", "privkey"],
)
def test_payment_card_saml_and_private_key_fields_are_redacted(key):
    assert redact({key: "4111111111111111"}) == {key: REDACTED}


@pytest.mark.parametrize(
    "key",
    [
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",
        "\uff21\uff30\uff29\uff3f\uff2b\uff25\uff39",
        "pass\u200bword",
        "to\u2060ken",
    ],
    ids=["fullwidth", "fullwidth-upper-snake-case", "zero-width-space", "word-joiner"],
)
def test_secret_key_in_unicode_look_alike_letters_is_redacted(key):
    assert redact({key: "hunter2"}) == {key: REDACTED}


def test_key_of_reordered_combining_marks_past_a_field_name_is_never_folded(monkeypatch):
    # Folding reorders a run of combining marks by insertion: a 64 KB key of them (a
    # logged JSON body's) took seconds, time quadratic in its length.
    from daloy_edge.observability import _redact

    folded: list[str] = []
    monkeypatch.setattr(_redact, "fold_key", lambda key: folded.append(key) or key)
    key = "a" + "\u0301" * 16384 + "\u0316" * 16384

    Redactor().redact({key: "ana"})
    assert folded == []


def test_ascii_key_past_a_field_name_is_never_read_a_character_at_a_time(monkeypatch):
    # Splitting a key into its words is a loop over its characters: a 1 MB camelCase key
    # in a logged JSON body (within the default body limit) took a third of a second.
    from daloy_edge.observability import _redact

    read: list[int] = []
    split = _redact.key_words
    monkeypatch.setattr(_redact, "key_words", lambda key: read.append(len(key)) or split(key))
    key = "aB" * 500_000

    shown = Redactor().redact({key: "ana", "userName": "ana"})
    assert read == [len("userName")]
    assert list(shown.values()) == [REDACTED, "ana"]


def test_value_under_an_ascii_key_past_a_field_name_is_redacted():
    assert list(Redactor().redact({"a" * 257: "ana"}).values()) == [REDACTED]


def test_value_under_a_short_ascii_key_is_kept():
    key = "a" * 256

    assert Redactor().redact({key: "ana"}) == {key: "ana"}


def test_value_under_a_non_ascii_key_past_a_field_name_is_redacted():
    key = "\u00e9" * 257

    assert list(Redactor().redact({key: "ana"}).values()) == [REDACTED]


def test_value_under_a_short_non_ascii_key_is_kept():
    key = "\u00e9" * 256

    assert Redactor().redact({key: "ana"}) == {key: "ana"}


def test_secret_key_hides_nested_container_whole():
    assert redact({"credentials": {"user": "ana", "pw": "x"}}) == {"credentials": REDACTED}


def test_headers_keep_repeated_fields_as_list():
    assert Redactor().headers({"Accept": "a"}) == {"accept": "a"}
    from daloy_edge import Headers

    headers = Headers([("Via", "1"), ("via", "2"), ("Cookie", "a=b")])
    assert Redactor().headers(headers) == {"via": ["1", "2"], "cookie": REDACTED}


def shown_chars(shown: dict[str, object]) -> int:
    return sum(
        len(name) + sum(len(v) for v in (value if isinstance(value, list) else [value]))
        for name, value in shown.items()
    )


def test_headers_are_shown_up_to_a_count_of_fields():
    shown = Redactor().headers({f"x-h{i}": "v" for i in range(1000)})
    assert len(shown) == MAX_HEADER_FIELDS + 1
    assert shown["…"] == "[more fields]"


def test_headers_are_shown_up_to_a_number_of_characters():
    # What a request refused 431 for the size of its headers carries: each value was cut
    # to 4,096 characters, but all of them were shown (1.4 MB of log line, escaped).
    shown = Redactor().headers({f"x-h{i}": "\U0001f600" * 4000 for i in range(30)})
    assert shown["…"] == "[more fields]"
    assert shown_chars(shown) <= MAX_HEADER_CHARS + 64
    assert list(shown) == ["x-h0", "x-h1", "x-h2", "…"]
    assert shown["x-h1"] == "\U0001f600" * 4000 and shown["x-h2"].endswith("more]")


def test_a_header_name_of_any_length_is_cut():
    shown = Redactor().headers({"x-" + "n" * 100_000: "v"})
    (name,) = shown
    assert len(name) <= 257 and name.endswith("…")


def test_a_request_refused_431_logs_its_headers_capped_and_its_line_uncut():
    app = App(env={}, request_log=RequestLog(LogConfig(env={}, log_headers=True, stdout=False)))
    sink = MemorySink()
    app.request_log.add_sink(sink)  # type: ignore[union-attr]
    flood = {f"x-note-{i}": "\U0001f600" * 4000 for i in range(30)}
    assert TestClient(app).get("/", headers=flood).status_code == 431
    attributes = json.loads(sink.lines[0])["Attributes"]
    assert attributes["http.request.header"]["…"] == "[more fields]"
    assert "daloy.truncated" not in attributes


def test_logged_headers_keep_no_query_of_a_referer_or_redirect():
    """Referer and Location carry a page's query as the request target does (an OAuth
    ``code``, a reset link's key, an e-mail address): with headers logged they were
    written whole, where the request line leaves the query out."""
    app = App(env={}, request_log=RequestLog(LogConfig(env={}, log_headers=True, stdout=False)))
    sink = MemorySink()
    app.request_log.add_sink(sink)  # type: ignore[union-attr]

    @app.get("/callback")
    async def callback(request):
        return Response(
            b"", 302, headers={"location": "https://client.example/cb?code=Splx0BZeQ#st=k7Qw"}
        )

    referer = "https://shop.example/reset?k=Q9vb2Z&email=ada%40example.com#frag-ada"
    TestClient(app).get("/callback", headers={"referer": referer})
    attributes = json.loads(sink.lines[0])["Attributes"]
    assert attributes["http.request.header"]["referer"] == "https://shop.example/reset"
    assert attributes["http.response.header"]["location"] == "https://client.example/cb"
    for leaked in ("Splx0BZeQ", "k7Qw", "Q9vb2Z", "ada%40example.com", "frag-ada"):
        assert leaked not in sink.lines[0]


def test_a_logged_request_shows_what_its_line_shows_not_its_query_body_or_state():
    """A handler logging ``request=request`` had the walk read the request's own fields:
    the raw query string (an OAuth code, an e-mail address), the JSON body it had read,
    the principal's token claims and, through its state, the process environment."""
    sink = MemorySink()
    app = App(env={}, request_log=RequestLog(LogConfig(env={}, stdout=False, sinks=[sink])))

    @app.post("/orders/{id}")
    async def order(request):
        await request.json()
        request.principal = {"sub": "u-1", "email": "claim-ada@example.com"}
        get_logger(request).info("order posted", request=request)
        return {"ok": True}

    answer = TestClient(app).post(
        "/orders/7?code=Splx0BZeQ&email=query-ada%40example.com",
        json={"email": "body-ada@example.com"},
    )
    logged = json.loads(sink.lines[0])["Attributes"]["request"]
    assert logged == {
        "method": "POST",
        "path": "/orders/7",
        "route": "/orders/{id}",
        "request_id": answer.headers["x-request-id"],
    }
    for leaked in ("Splx0BZeQ", "query-ada", "body-ada", "claim-ada"):
        assert leaked not in sink.lines[0]


def test_a_logged_request_state_does_not_write_the_process_environment():
    """``request.state`` holds the request's log, whose config holds the whole process
    environment (a field kept out of its repr): a handler logging the state wrote every
    variable whose name reads as no secret, a database URL's host or an admin user."""
    sink = MemorySink()
    env = {"DALOY_ADMIN_USER": "env-admin-ada", "HOME": "/home/env-home-ada"}
    app = App(env={}, request_log=RequestLog(LogConfig(env=env, stdout=False, sinks=[sink])))

    @app.get("/orders")
    async def orders(request):
        get_logger(request).info("context", state=request.state)
        return {"ok": True}

    assert TestClient(app).get("/orders").status_code == 200
    assert "context" in sink.lines[0]
    for leaked in ("env-admin-ada", "env-home-ada"):
        assert leaked not in sink.lines[0]


def test_a_dataclass_field_kept_out_of_its_repr_is_kept_out_of_the_line():
    from dataclasses import dataclass, field

    @dataclass
    class Upstream:
        host: str
        dsn: str = field(repr=False)

    assert redact(Upstream("db", "postgres://db/x?user=ada")) == {"host": "db"}


@pytest.mark.parametrize(
    "text",
    [
        "x" * 4096,
        "token" * 800,
        "a." * 2048,
        "password" + " " * 4000,
        "-----BEGIN " + "A" * 4000,
        "eyJ" + "a" * 4000,
        "eyJaaaa." * 500,
        "bearer " * 580,
        "http://" + "a:" * 2000,
        "password=" * 450,
        "PRIVATE KEY -----BEGIN PRIVATE KEY-----" * 100,
        "signature=" + "a," * 2000,
        "sig=a" + " v1,a" * 800,
    ],
    ids=lambda t: repr(t[:10]),
)
def test_scrubbing_adversarial_text_has_no_catastrophic_backtracking(text):
    # A ReDoS guard, not a benchmark: a backtracking regression takes seconds to
    # minutes on these 4 KiB inputs; linear scrubbing takes about a millisecond.
    start = time.perf_counter()
    scrub_text(text)
    assert time.perf_counter() - start < 0.5


def test_jwt_scan_reads_each_run_of_token_characters_once(monkeypatch):
    # "-eyJ-eyJ…" is one run with a JWT start at every dash: a search restarted at each
    # of them read the rest of the run each time (quadratic in the run's length).
    from daloy_edge.observability import _inline

    looked: list[int] = []
    start = _inline._jwt_start
    monkeypatch.setattr(
        _inline, "_jwt_start", lambda text, at, end: looked.append(at) or start(text, at, end)
    )
    text = "-eyJ" * 2000 + ".abcd " + "-eyJ" * 2000

    assert scrub_text(text) == f"-{REDACTED} " + "-eyJ" * 2000
    assert looked == [0]


def test_jwt_after_a_dash_or_in_a_second_segment_is_redacted():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"
    assert scrub_text(f"x-{jwt} a.{jwt}") == f"x-{REDACTED} a.{REDACTED}"


def test_dataclass_instance_is_walked_by_field():
    from dataclasses import dataclass, field

    @dataclass
    class Login:
        user: str
        password: str
        note: str = field(default="retried with token=abc123")

    assert redact(Login("ana", "hunter2")) == {
        "user": "ana",
        "password": REDACTED,
        "note": f"retried with token={REDACTED}",
    }


def test_record_instance_is_walked_by_field():
    from daloy_edge._record import record

    @record(frozen=True)
    class Login:
        user: str
        api_key: str

    assert redact({"login": Login("ana", "k-123")}) == {
        "login": {"user": "ana", "api_key": REDACTED}
    }


def test_dataclass_class_itself_is_shown_by_type_only():
    from dataclasses import dataclass

    @dataclass
    class Config:
        secret: str = "s3cr3t"

    assert redact({"cls": Config}) == {"cls": "<type>"}


@pytest.mark.parametrize(
    ("text", "secret", "survivor"),
    [
        ("redis://:Hunter2Secret@cache.internal:6379/0", "Hunter2Secret", "cache.internal"),
        ("/items/" + "a" * 20 + "https://admin:Hunter2Secret@db", "Hunter2Secret", "/items/"),
        ("proxy http://admin:p@ss:word@proxy:8080", "ss:word", "proxy:8080"),
        ("refused Authorization: token ghp_16C7e42F292c6912E7 next", "ghp_16C7e42F", "next"),
        ("Proxy-Authorization: ApiKey sk_live_abcdef123456, retry", "sk_live_abc", "retry"),
        ('Authorization: Digest username="u", response="6629fae4939" end', "6629fae4939", "end"),
        ("GET /c/b?sv=2022-11-02&sp=r&sig=Zm9vYmFyc2lnbmF0dXJl", "Zm9vYmFyc2ln", "sv=2022-11-02"),
        ("https://maps.googleapis.com/geocode?key=AIzaSyA1b2C3d4E5f6", "AIzaSyA1b2", "geocode"),
        ("replayed Cookie: theme=dark; sid=8f14e45fceea167a for ana", "8f14e45fceea", "for ana"),
        ("login db_pwd=hunter2 pin=1234 user=ana", "hunter2", "user=ana"),
        ('{"smtp_pass": "hunter3", "user": "ana"}', "hunter3", "ana"),
        ("X-Auth-Key: cf-global-api-key-1234 next", "cf-global", "next"),
        ("X-Signature: t=1700000000,v1=5257a869e7ecebed next", "5257a869e7", "next"),
        ("AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,eu", "wJalrXUtn", ",eu"),
        ("webhook-signature: v1,K5oZfzN95Z9UVu1E v1,Z2l2ZW5zaWdu next", "Z2l2ZW5z", "next"),
        ("token=abc123secret,user=ana,role=admin", "abc123secret", "user=ana,role=admin"),
        ("webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= next", "K5oZ", "next"),
        ("Stripe-Signature: t=1700000000,v1=5257a869e7,v0=6ffbb59b2300aa", "6ffbb59b23", ""),
    ],
    ids=[
        "url_with_empty_user",
        "url_scheme_glued_to_a_long_word",
        "url_password_with_at_sign",
        "authorization_token_scheme",
        "proxy_authorization_other_scheme",
        "digest_parameters",
        "azure_sas_sig",
        "google_api_key",
        "every_cookie_pair",
        "short_secret_names",
        "quoted_compound_key",
        "header_line_with_compound_name",
        "signature_parts_after_a_comma",
        "aws_secret_access_key_after_its_id",
        "standard_webhooks_signatures_of_a_rotation",
        "pairs_after_a_secret_are_kept",
        "padded_base64_signature_after_its_version",
        "every_signature_part_after_the_stamp",
    ],
)
def test_inline_credential_is_scrubbed(text, secret, survivor):
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert survivor in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "monkey=1",
        "keyboard=us",
        "passenger=3",
        "key_id=k-1",
        "missing key: user_id",
        "lookup failed: KeyError: 'user_id'",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
        "https://example.com/a?x=1",
    ],
)
def test_ordinary_text_with_a_separator_is_kept(text):
    assert scrub_text(text) == text


@pytest.mark.parametrize(
    "text",
    ["a bearer token is required", "basic auth failed for ops", "Bearer tokens, not cookies"],
)
def test_prose_naming_an_auth_scheme_credential_is_kept(text):
    assert scrub_text(text) == text


def test_credential_beginning_with_a_prose_word_is_scrubbed():
    assert scrub_text("Bearer token-9f8e7d6c5b4a") == f"Bearer {REDACTED}"


def test_cut_inside_a_credential_keeps_none_of_it():
    text = "x" * 90 + " https://admin:Sup3rS3cretPassw0rd@db.internal/app"
    cut = Redactor().scrub(text, limit=110)
    assert "Sup3r" not in cut
    assert cut.endswith(f"…[{len(text) - 110} more]")


def test_cut_far_into_a_long_text_never_keeps_a_credential_split_where_reading_stopped():
    # The token's value shrinks to [REDACTED]: the password split at the end of what the
    # scrubber reads would otherwise land within the kept characters.
    text = "token=" + "v" * 4900 + " https://admin:" + "S" * 300 + "@db.internal" + "z" * 5000
    cut = Redactor().scrub(text, limit=1024)
    assert "SSSS" not in cut
    assert cut.endswith("more]")
