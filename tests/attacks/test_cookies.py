"""Attacks on the signed session cookie: tampering, foreign keys, truncation, size, rotation."""

from __future__ import annotations

import base64
import json

import pytest

from daloy_edge import App, KeyRing
from daloy_edge.middleware.sessions import Session, SessionConfig, Sessions, get_session
from daloy_edge.signing import Signer, b64encode
from daloy_edge.testing import TestClient

CURRENT = "current-key-0123456789abcdef0123"
OLDER = "older-key-0123456789abcdef012345"
NOW = 1_700_000_000


def make_app(*keys: str) -> App:
    config = SessionConfig(keys=KeyRing(list(keys)), clock=lambda: NOW, allow_no_csrf=True)
    app = App(middleware=[Sessions(config)])

    @app.get("/me")
    async def me(request):
        return {"user": get_session(request).get("user")}

    @app.get("/login")
    async def login(request):
        get_session(request)["user"] = request.query.get("user", "alice")
        return None

    return app


def signed_in_cookie(*keys: str, user: str = "alice") -> str:
    client = TestClient(make_app(*keys))
    client.get("/login", params={"user": user})
    return client.cookies["__Host-session"]


def user_with(cookie: str, *keys: str) -> object:
    client = TestClient(make_app(*keys))
    return client.get("/me", cookies={"__Host-session": cookie}).json()["user"]


def forged_payload(data: dict[str, object]) -> str:
    body = json.dumps({"i": "x" * 22, "c": NOW, "d": data}, separators=(",", ":")).encode()
    return b64encode(body)


def test_tampered_payload_is_ignored():
    cookie = signed_in_cookie(CURRENT)
    _, stamp, mac = cookie.split(".")
    tampered = f"{forged_payload({'user': 'admin'})}.{stamp}.{mac}"
    assert user_with(tampered, CURRENT) is None


def test_tampered_mac_is_ignored():
    cookie = signed_in_cookie(CURRENT)
    flipped = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BA")
    assert user_with(flipped, CURRENT) is None


def test_cookie_signed_with_an_unknown_key_is_ignored():
    cookie = signed_in_cookie("attacker-key-0123456789abcdef0123")
    assert user_with(cookie, CURRENT) is None


def test_cookie_forged_with_the_raw_key_but_no_purpose_is_ignored():
    head = forged_payload({"user": "admin"}) + "." + b64encode(NOW.to_bytes(8, "big").lstrip(b"\0"))
    other_purpose = Signer(KeyRing([CURRENT]), purpose="csrf").mac(head.encode())
    assert user_with(f"{head}.{b64encode(other_purpose)}", CURRENT) is None


def test_truncated_cookie_is_ignored():
    cookie = signed_in_cookie(CURRENT)
    for cut in (1, 10, len(cookie) // 2):
        assert user_with(cookie[:-cut], CURRENT) is None


def test_garbage_cookie_is_deleted():
    client = TestClient(make_app(CURRENT))
    response = client.get("/me", cookies={"__Host-session": "not.a.cookie"})
    assert "Max-Age=0" in response.headers["set-cookie"]


def test_oversized_cookie_is_ignored_without_verifying():
    huge = base64.urlsafe_b64encode(b"x" * 5000).decode().rstrip("=") + ".AQ.AQ"
    assert user_with(huge, CURRENT) is None


def test_unsigned_json_cookie_is_ignored():
    assert user_with(forged_payload({"user": "admin"}), CURRENT) is None


def test_cookie_signed_with_an_older_key_is_accepted_and_resigned_with_the_first():
    cookie = signed_in_cookie(OLDER)
    client = TestClient(make_app(CURRENT, OLDER))
    response = client.get("/me", cookies={"__Host-session": cookie})
    assert response.json()["user"] == "alice"
    resigned = response.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    assert user_with(resigned, CURRENT) == "alice"


def test_cookie_signed_with_a_retired_key_is_ignored():
    cookie = signed_in_cookie(OLDER)
    assert user_with(cookie, CURRENT) is None


def test_a_planted_session_before_the_victims_in_one_field_is_no_session():
    planted, own = signed_in_cookie(CURRENT, user="mallory"), signed_in_cookie(CURRENT)
    client = TestClient(make_app(CURRENT))
    header = f"__Host-session={planted}; __Host-session={own}"
    assert client.get("/me", headers={"cookie": header}).json()["user"] is None


@pytest.mark.parametrize("space", [" =", "\t="])
def test_a_session_beside_one_with_whitespace_before_its_equals_sign_is_no_session(space):
    # Werkzeug, Starlette and http.cookies read "__Host-session =x" as the session cookie
    # (Werkzeug the first one, the others the last): a filter or cache in front reading
    # so took the planted session where the app took the other, as the only one.
    planted, own = signed_in_cookie(CURRENT, user="mallory"), signed_in_cookie(CURRENT)
    client = TestClient(make_app(CURRENT))
    for header in (
        f"__Host-session{space}{planted}; __Host-session={own}",
        f"__Host-session={own}; __Host-session{space}{planted}",
    ):
        assert client.get("/me", headers={"cookie": header}).json()["user"] is None


def test_a_second_session_on_another_cookie_line_is_no_session():
    # Runtimes keep the first line, the last line (ALB), or neither (gunicorn joins the
    # lines with a comma): no session is the one answer they can all give.
    own, planted = signed_in_cookie(CURRENT), signed_in_cookie(CURRENT, user="mallory")
    lines = [("cookie", f"__Host-session={own}"), ("cookie", f"__Host-session={planted}")]
    assert TestClient(make_app(CURRENT)).get("/me", headers=lines).json()["user"] is None


def test_a_session_after_one_with_an_invalid_value_is_no_session():
    lines = [
        ("cookie", "__Host-session=x,y"),
        ("cookie", f"__Host-session={signed_in_cookie(CURRENT)}"),
    ]
    assert TestClient(make_app(CURRENT)).get("/me", headers=lines).json()["user"] is None


def signed_sid(sessions: Sessions, user: str) -> str:
    session = Session.fresh(lambda: "s" * 22, lambda: NOW)
    session["user"] = user
    return sessions.encode(session)


def test_a_session_cookie_sent_twice_is_not_deleted_to_leave_the_planted_one():
    """Cookie tossing: a sibling subdomain plants a cookie of a name without the __Host-
    prefix with Domain=, and the browser sends it beside the app's own. The deletion the
    app can write is host-only: it removed the victim's own cookie and kept the planted
    one, which alone then verified, signing the victim in as the attacker."""
    config = SessionConfig(
        keys=KeyRing([CURRENT]), cookie_name="sid", clock=lambda: NOW, allow_no_csrf=True
    )
    sessions = Sessions(config)
    app = App(middleware=[sessions])

    @app.get("/me")
    async def me(request):
        return {"user": get_session(request).get("user")}

    @app.get("/logout")
    async def logout(request):
        get_session(request).clear()
        return None

    cookie = f"sid={signed_sid(sessions, 'mallory')}; sid={signed_sid(sessions, 'alice')}"
    for path in ("/me", "/logout"):
        reply = TestClient(app).get(path, headers={"cookie": cookie})
        assert reply.headers.get_all("set-cookie") == [], path


def test_a_session_issued_under_another_cookie_name_with_the_same_keys_is_no_session():
    # Two apps (or mounts) sharing a key ring: the shop's signed "user" must not sign
    # anyone in to the staff area.
    shop = Sessions(SessionConfig(keys=KeyRing([CURRENT]), clock=lambda: NOW, allow_no_csrf=True))
    session = Session.fresh(lambda: "s" * 22, lambda: NOW)
    session["user"] = "admin"
    config = SessionConfig(
        keys=KeyRing([CURRENT]), cookie_name="__Host-staff", clock=lambda: NOW, allow_no_csrf=True
    )
    staff = App(middleware=[Sessions(config)])

    @staff.get("/me")
    async def me(request):
        return {"user": get_session(request).get("user")}

    reply = TestClient(staff).get("/me", cookies={"__Host-staff": shop.encode(session)})
    assert reply.json()["user"] is None


def test_a_session_of_an_app_that_named_its_cookie_session_is_no_session_in_another():
    # "session" was left out of the binding as if it were always the plain-HTTP default:
    # a shop that chose that name for its own cookie signed users in to the staff area.
    def app_named(name: str | None) -> tuple[Sessions, App]:
        config = SessionConfig(
            keys=KeyRing([CURRENT]), cookie_name=name, clock=lambda: NOW, allow_no_csrf=True
        )
        sessions = Sessions(config)
        app = App(middleware=[sessions])

        @app.get("/me")
        async def me(request):
            return {"user": get_session(request).get("user")}

        return sessions, app

    session = Session.fresh(lambda: "s" * 22, lambda: NOW)
    session["user"] = "admin"
    shop, shop_app = app_named("session")
    staff, staff_app = app_named(None)
    from_shop = {"__Host-session": shop.encode(session)}
    assert TestClient(staff_app).get("/me", cookies=from_shop).json()["user"] is None
    from_staff = {"session": staff.encode(session)}
    assert TestClient(shop_app).get("/me", cookies=from_staff).json()["user"] is None
