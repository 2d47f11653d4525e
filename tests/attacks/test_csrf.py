"""Cross-site request forgery against a session-backed form endpoint."""

from __future__ import annotations

from daloy_edge import App, KeyRing
from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect, csrf_token
from daloy_edge.middleware.sessions import SessionConfig, Sessions, get_session
from daloy_edge.signing import b64decode, b64encode
from daloy_edge.testing import TestClient

KEYS = KeyRing(["k" * 32])


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_app(clock: Clock | None = None) -> App:
    clock = clock or Clock()
    csrf = CSRFProtect(CSRFConfig(keys=KEYS, clock=clock, max_age=3600))
    app = App(middleware=[Sessions(SessionConfig(keys=KEYS, clock=clock)), csrf])

    @app.post("/login")
    async def login(request):
        session = get_session(request)
        session.regenerate()
        session["user"] = "alice"
        return None

    @app.post("/logout")
    async def logout(request):
        get_session(request).clear()
        # The answer carries the sign-in form for whoever uses the browser next.
        return {"token": csrf_token(request)}

    @app.get("/form")
    async def form(request):
        return {"token": csrf_token(request)}

    @app.post("/transfer")
    async def transfer(request):
        return {"ok": True}

    return app


def victim(app: App) -> tuple[TestClient, str]:
    client = TestClient(app)
    client.get("/form")
    client.post("/login", headers={"x-csrf-token": client.get("/form").json()["token"]})
    return client, client.get("/form").json()["token"]


def test_post_without_token_is_refused():
    client, _ = victim(make_app())
    assert client.post("/transfer", data={"amount": "100"}).status == 403


def test_token_from_another_session_is_refused():
    app = make_app()
    _, attacker_token = victim(app)
    client, _ = victim(app)
    response = client.post("/transfer", data={"csrf_token": attacker_token})
    assert response.status == 403


def test_cross_site_origin_is_refused_even_with_a_valid_token():
    client, token = victim(make_app())
    headers = {"origin": "https://evil.example", "x-csrf-token": token}
    assert client.post("/transfer", headers=headers).status == 403


def test_cross_site_fetch_metadata_is_refused_even_with_a_valid_token():
    client, token = victim(make_app())
    headers = {"sec-fetch-site": "cross-site", "x-csrf-token": token}
    assert client.post("/transfer", headers=headers).status == 403


def test_fetch_metadata_sent_as_same_origin_then_cross_site_is_refused():
    # Runtimes that join repeated lines refuse "same-origin, cross-site": none may read
    # only the first line.
    client, token = victim(make_app())
    headers = [
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-site", "cross-site"),
        ("x-csrf-token", token),
    ]
    assert client.post("/transfer", headers=headers).status == 403


def test_own_origin_sent_before_a_foreign_one_is_refused():
    client, token = victim(make_app())
    headers = [
        ("origin", "https://testserver"),
        ("origin", "https://evil.example"),
        ("x-csrf-token", token),
    ]
    assert client.post("/transfer", headers=headers).status == 403


def test_valid_token_header_followed_by_a_second_token_line_is_refused():
    client, token = victim(make_app())
    headers = [("sec-fetch-site", "same-origin"), ("x-csrf-token", token), ("x-csrf-token", "x")]
    assert client.post("/transfer", headers=headers).status == 403


def test_null_origin_from_a_sandboxed_frame_is_refused():
    client, token = victim(make_app())
    response = client.post("/transfer", headers={"origin": "null", "x-csrf-token": token})
    assert response.status == 403


def test_lookalike_origin_is_refused():
    client, token = victim(make_app())
    headers = {"origin": "https://testserver.evil.example", "x-csrf-token": token}
    assert client.post("/transfer", headers=headers).status == 403


def test_token_issued_before_login_is_refused_after_login():
    client = TestClient(make_app())
    pre_login = client.get("/form").json()["token"]
    client.post("/login", headers={"x-csrf-token": pre_login})
    response = client.post("/transfer", headers={"x-csrf-token": pre_login})
    assert response.status == 403


def test_token_issued_before_logout_is_refused_after_a_logout_that_issues_a_new_one():
    client, before_logout = victim(make_app())
    client.post("/logout", headers={"x-csrf-token": before_logout})
    response = client.post("/transfer", headers={"x-csrf-token": before_logout})
    assert response.status == 403


def test_replayed_masked_token_past_its_lifetime_is_refused():
    clock = Clock()
    client, token = victim(make_app(clock))
    clock.now += 3601
    response = client.post("/transfer", headers={"x-csrf-token": token})
    assert response.status == 403


def test_token_with_a_tampered_mask_is_refused():
    client, token = victim(make_app())
    raw = bytearray(b64decode(token))
    raw[0] ^= 1
    response = client.post("/transfer", headers={"x-csrf-token": b64encode(bytes(raw))})
    assert response.status == 403


def test_token_truncated_or_extended_by_a_byte_is_a_403_problem_not_a_500():
    client, token = victim(make_app())
    raw = b64decode(token)
    for altered in (raw[:-1], raw + b"\x00", raw[1:]):
        response = client.post("/transfer", headers={"x-csrf-token": b64encode(altered)})
        assert (response.status, response.headers["content-type"]) == (
            403,
            "application/problem+json",
        )


def test_garbage_token_is_refused():
    client, _ = victim(make_app())
    for garbage in ("", "x", "A" * 107, "%00" * 40, "é" * 20):
        response = client.post("/transfer", data={"csrf_token": garbage})
        assert response.status == 403


def test_control_the_victims_own_fresh_token_is_accepted():
    client, token = victim(make_app())
    headers = {
        "origin": "https://testserver",
        "sec-fetch-site": "same-origin",
        "x-csrf-token": token,
    }
    assert client.post("/transfer", headers=headers).status == 200


def test_form_post_without_a_session_is_refused_before_its_body_is_read():
    # The flood: a cookieless client posting a large urlencoded form. No token can be
    # bound to a session it does not have, yet the form was read and decoded to look
    # for one (a 1 MiB body of escapes took a quarter of a second to refuse).
    pulled: list[bytes] = []

    def body():
        for _ in range(64):
            chunk = b"a=" + b"%41" * 5000 + b"&"
            pulled.append(chunk)
            yield chunk

    response = TestClient(make_app()).post(
        "/transfer",
        chunks=body(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 403
    assert pulled == []


def test_form_post_with_a_session_still_finds_its_token_in_the_body():
    client, token = victim(make_app())
    assert client.post("/transfer", data={"csrf_token": token, "amount": "1"}).status == 200
