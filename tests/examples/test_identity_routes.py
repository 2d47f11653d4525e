"""The reference app's /api and /admin routes, per CONTRACT.md."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from daloy_edge import ConfigError
from daloy_edge.testing import TestClient
from examples.secure_app import create_app
from tests.jwtkit import claims, ec_key, jwks, mint, public_jwk

ISSUER, AUDIENCE = "https://idp.test", "api://daloy"


def unix_now_claims(**overrides: object) -> dict[str, object]:
    import time

    now = int(time.time())
    values = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300}
    values.update(overrides)
    return claims(**values)


@pytest.fixture
def jwks_file(tmp_path: Path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(public_jwk(ec_key(), "app-key"))))
    return str(path)


@pytest.fixture
def env(jwks_file: str) -> dict[str, str]:
    return {
        "DALOY_JWKS_FILE": jwks_file,
        "DALOY_JWT_ISSUER": ISSUER,
        "DALOY_JWT_AUDIENCE": AUDIENCE,
        "DALOY_ADMIN_USER": "admin",
        "DALOY_ADMIN_PASSWORDS": "new-password,old-password",
    }


def bearer(scope: str = "reports:read", **overrides: object) -> dict[str, str]:
    token = mint(ec_key(), "ES256", "app-key", unix_now_claims(scope=scope, **overrides))
    return {"authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


# --- unconfigured: closed -----------------------------------------------------------------


def test_unconfigured_api_answers_401_bearer():
    response = TestClient(create_app({})).get("/api/me")
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_unconfigured_api_with_a_token_answers_invalid_token():
    response = TestClient(create_app({})).get("/api/me", headers=bearer())
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_unconfigured_api_unknown_path_is_still_401():
    assert TestClient(create_app({})).get("/api/anything/else").status == 401


def test_issuer_without_audience_leaves_api_closed(jwks_file):
    app = create_app({"DALOY_JWKS_FILE": jwks_file, "DALOY_JWT_ISSUER": ISSUER})
    assert TestClient(app).get("/api/me", headers=bearer()).status == 401


def test_unconfigured_admin_from_loopback_answers_401_basic():
    response = TestClient(create_app({})).get("/admin/stats")
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_unconfigured_admin_from_elsewhere_answers_403_first():
    response = TestClient(create_app({})).get("/admin/stats", client="203.0.113.9")
    assert response.status == 403


# --- /api ---------------------------------------------------------------------------------


def test_me_returns_subject_and_scopes(env):
    response = TestClient(create_app(env)).get("/api/me", headers=bearer("b a"))
    assert response.status == 200
    assert response.json() == {"sub": "alice", "scopes": ["a", "b"]}


def test_me_without_token_is_401(env):
    response = TestClient(create_app(env)).get("/api/me")
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_me_with_expired_token_is_401_invalid_token(env):
    import time

    headers = bearer(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000)
    response = TestClient(create_app(env)).get("/api/me", headers=headers)
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_reports_list_needs_reports_read(env):
    client = TestClient(create_app(env))
    ok = client.get("/api/reports", headers=bearer("reports:read"))
    assert ok.status == 200
    assert isinstance(ok.json()["reports"], list)
    denied = client.get("/api/reports", headers=bearer("reports:write"))
    assert denied.status == 403
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]


def test_report_creation_echoes_the_body_with_201(env):
    client = TestClient(create_app(env))
    body = {"title": "Q3", "items": [1, 2]}
    response = client.post("/api/reports", headers=bearer("reports:write"), json=body)
    assert response.status == 201
    assert response.json() == {"created": body}


def test_report_creation_needs_reports_write(env):
    client = TestClient(create_app(env))
    assert client.post("/api/reports", headers=bearer("reports:read"), json={}).status == 403


def test_report_body_over_64_kib_is_413(env):
    client = TestClient(create_app(env))
    body = {"blob": "x" * (64 * 1024)}
    assert client.post("/api/reports", headers=bearer("reports:write"), json=body).status == 413


def test_report_body_of_wrong_type_is_415(env):
    client = TestClient(create_app(env))
    headers = {**bearer("reports:write"), "content-type": "text/plain"}
    assert client.post("/api/reports", headers=headers, content="hi").status == 415


def test_report_body_with_duplicate_keys_is_400(env):
    client = TestClient(create_app(env))
    headers = {**bearer("reports:write"), "content-type": "application/json"}
    response = client.post("/api/reports", headers=headers, content='{"a": 1, "a": 2}')
    assert response.status == 400


def test_unknown_api_path_with_a_valid_token_is_404(env):
    assert TestClient(create_app(env)).get("/api/nope", headers=bearer()).status == 404


def test_wrong_method_without_a_token_is_401_before_405(env):
    assert TestClient(create_app(env)).delete("/api/me").status == 401


def test_wrong_method_with_a_token_is_405(env):
    response = TestClient(create_app(env)).delete("/api/reports", headers=bearer())
    assert response.status == 405
    assert "GET" in response.headers["allow"]


def test_jwks_url_and_file_together_refuse_to_build(env):
    with pytest.raises(ConfigError):
        create_app({**env, "DALOY_JWKS_URL": "https://idp.test/jwks"})


def unreachable_jwks_url_env(url: str = "https://127.0.0.1:9/jwks.json") -> dict[str, str]:
    """Bearer auth configured with a JWKS URL nothing listens on."""
    return {"DALOY_JWKS_URL": url, "DALOY_JWT_ISSUER": ISSUER, "DALOY_JWT_AUDIENCE": AUDIENCE}


def test_jwks_url_is_not_fetched_at_build_and_an_unreachable_one_is_503():
    client = TestClient(create_app(unreachable_jwks_url_env()))
    assert client.get("/api/me").status == 401
    assert client.get("/api/me", headers=bearer()).status == 503


def test_issuer_with_a_trailing_line_break_still_accepts_that_issuers_tokens(env):
    client = TestClient(create_app({**env, "DALOY_JWT_ISSUER": ISSUER + "\n"}))
    assert client.get("/api/me", headers=bearer()).status == 200


def test_jwks_url_with_a_trailing_line_break_is_read_without_it():
    env = unreachable_jwks_url_env("https://127.0.0.1:9/jwks.json\n")
    client = TestClient(create_app(env))
    assert client.get("/api/me", headers=bearer()).status == 503


# --- /admin -------------------------------------------------------------------------------


def test_admin_stats_counts_requests(env):
    client = TestClient(create_app(env))
    client.get("/health")
    client.get("/health")
    first = client.get("/admin/stats", headers=basic("admin", "new-password")).json()
    second = client.get("/admin/stats", headers=basic("admin", "new-password")).json()
    assert isinstance(first["requests"], int) and first["requests"] >= 2
    assert second["requests"] == first["requests"] + 1


def test_admin_stats_on_a_fresh_instance_counts_its_own_request(env):
    client = TestClient(create_app(env))
    assert client.get("/admin/stats", headers=basic("admin", "new-password")).json() == {
        "requests": 1
    }


def test_admin_accepts_the_rotated_out_password(env):
    client = TestClient(create_app(env))
    assert client.get("/admin/stats", headers=basic("admin", "old-password")).status == 200


def test_admin_user_with_a_trailing_line_break_still_opens_admin(env):
    client = TestClient(create_app({**env, "DALOY_ADMIN_USER": "admin\n"}))
    assert client.get("/admin/stats", headers=basic("admin", "new-password")).status == 200


def test_admin_user_with_surrounding_spaces_is_read_without_them(env):
    client = TestClient(create_app({**env, "DALOY_ADMIN_USER": " admin "}))
    assert client.get("/admin/stats", headers=basic("admin", "new-password")).status == 200


def test_admin_wrong_password_is_401_basic(env):
    response = TestClient(create_app(env)).get("/admin/stats", headers=basic("admin", "nope"))
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_admin_from_outside_the_allow_list_is_403_even_with_credentials(env):
    client = TestClient(create_app(env))
    response = client.get("/admin/stats", headers=basic("admin", "new-password"), client="8.8.8.8")
    assert response.status == 403


def test_admin_ipv6_loopback_is_allowed(env):
    client = TestClient(create_app(env))
    assert (
        client.get("/admin/stats", headers=basic("admin", "new-password"), client="::1").status
        == 200
    )


def test_admin_unknown_path_is_still_behind_the_allow_list(env):
    assert TestClient(create_app(env)).get("/admin/secret", client="8.8.8.8").status == 403


def test_admin_unknown_path_is_still_behind_basic_auth(env):
    assert TestClient(create_app(env)).get("/admin/secret").status == 401


def test_admin_cidrs_are_configurable(env):
    client = TestClient(create_app({**env, "DALOY_ADMIN_CIDRS": "198.51.100.0/24"}))
    ok = client.get("/admin/stats", headers=basic("admin", "new-password"), client="198.51.100.4")
    assert ok.status == 200
    assert client.get("/admin/stats", headers=basic("admin", "new-password")).status == 403


@pytest.mark.parametrize("cidrs", ["\n", " , "])
def test_an_admin_allow_list_with_no_network_refuses_to_boot_naming_it(env, cidrs):
    with pytest.raises(ConfigError, match="DALOY_ADMIN_CIDRS"):
        create_app({**env, "DALOY_ADMIN_CIDRS": cidrs})


def test_spoofed_forwarded_for_does_not_open_admin(env):
    client = TestClient(create_app(env))
    headers = {**basic("admin", "new-password"), "x-forwarded-for": "127.0.0.1"}
    assert client.get("/admin/stats", headers=headers, client="203.0.113.9").status == 403


def test_trusted_proxy_forwards_the_real_client_address(env):
    client = TestClient(create_app({**env, "DALOY_TRUSTED_PROXIES": "10.0.0.0/8"}))
    headers = {**basic("admin", "new-password"), "x-forwarded-for": "127.0.0.1"}
    assert client.get("/admin/stats", headers=headers, client="10.1.2.3").status == 200
    remote = {**basic("admin", "new-password"), "x-forwarded-for": "127.0.0.1, 203.0.113.9"}
    assert client.get("/admin/stats", headers=remote, client="10.1.2.3").status == 403


# --- the JWKS file: read at boot, parsed on first use ------------------------------------


@pytest.mark.parametrize(
    "name", ["absent.json", ".", "jwks\x00.json"], ids=["missing", "a-folder", "a-nul-byte"]
)
def test_unreadable_jwks_file_refuses_to_boot_naming_the_variable(env, tmp_path, name):
    with pytest.raises(ConfigError, match="DALOY_JWKS_FILE"):
        create_app({**env, "DALOY_JWKS_FILE": str(tmp_path / name)})


def test_an_audience_list_with_no_audience_refuses_to_boot(env):
    with pytest.raises(ConfigError, match="DALOY_JWT_AUDIENCE"):
        create_app({**env, "DALOY_JWT_AUDIENCE": " , "})


def test_an_audience_list_with_no_audience_refuses_to_boot_without_a_jwks_too():
    # As `daloy-edge check` reports it, whatever else is configured.
    with pytest.raises(ConfigError, match="DALOY_JWT_AUDIENCE"):
        create_app({"DALOY_ENV": "development", "DALOY_JWT_AUDIENCE": ","})


def test_unusable_jwks_file_answers_503_on_bearer_requests(env, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"keys": []}')
    client = TestClient(create_app({**env, "DALOY_JWKS_FILE": str(broken)}))
    response = client.get("/api/me", headers=bearer())
    assert response.status == 503
