"""The reference app refuses to start in production on an insecure setting, never on an
unset one (CONTRACT.md: unset variables leave their feature closed)."""

from __future__ import annotations

import pytest

from daloy_edge import ConfigError
from daloy_edge.audit import InsecureConfiguration
from daloy_edge.testing import TestClient
from examples.secure_app import create_app

STRONG_KEY = "Zq3v8Jw1Rk5Tn0Yb7Lc2Hx9Pd4Mf6Gs1Ae8Ku3Ni5Wo"


def refusal(env: dict[str, str]) -> list[str]:
    with pytest.raises(InsecureConfiguration) as info:
        create_app(env)
    return [f.code for f in info.value.findings]


def test_starts_with_no_configuration_at_all() -> None:
    assert TestClient(create_app({})).get("/health").status == 200


def test_starts_in_production_with_only_warnings() -> None:
    env = {"DALOY_ADMIN_USER": "ops", "DALOY_JWKS_URL": "https://idp.example/jwks.json"}
    assert TestClient(create_app(env)).get("/api/me").status == 401


def test_refuses_wildcard_cors_with_credentials() -> None:
    assert refusal({"DALOY_CORS_ORIGINS": "*"}) == ["cors-wildcard-credentials"]


def test_refuses_a_short_session_key() -> None:
    assert refusal({"DALOY_SESSION_KEYS": "too-short"}) == ["session-key-short"]


@pytest.mark.parametrize(
    "env",
    [
        {"DALOY_SESSION_KEYS": "change-me-change-me-change-me-change-me"},
        {"DALOY_ADMIN_USER": "ops", "DALOY_ADMIN_PASSWORDS": "hunter2"},
        {"DALOY_WEBHOOK_SECRETS": "tiny"},
        {"DALOY_CORS_ORIGINS": "http://app.example"},
    ],
    ids=[
        "placeholder-session-key",
        "short-admin-password",
        "short-webhook-secret",
        "plain-http-cors-origin",
    ],
)
def test_deployment_advice_is_reported_by_check_but_does_not_stop_boot(
    env: dict[str, str],
) -> None:
    from daloy_edge.audit import audit_environment

    assert any(f.severity == "error" for f in audit_environment(env))
    assert TestClient(create_app(env)).get("/health").status == 200


def test_refuses_forwarded_headers_trusted_from_the_internet() -> None:
    assert refusal({"DALOY_TRUSTED_PROXIES": "0.0.0.0/1,128.0.0.0/1"}) == [
        "proxies-everyone",
        "proxies-everyone",
    ]


def test_refuses_forwarded_headers_trusted_from_an_ipv4_mapped_half_of_the_internet() -> None:
    # ::ffff:0.0.0.0/97 is how the app reads 0.0.0.0/1: a client there could name
    # itself 127.0.0.1 and pass the /admin allow-list.
    assert refusal({"DALOY_TRUSTED_PROXIES": "::ffff:0.0.0.0/97"}) == ["proxies-everyone"]


def test_refuses_a_plain_http_jwks_url_off_this_machine() -> None:
    from daloy_edge import ConfigError

    env = {"DALOY_JWKS_URL": "http://idp.example/jwks", "DALOY_JWT_ISSUER": "i"}
    with pytest.raises(ConfigError):
        create_app({**env, "DALOY_JWT_AUDIENCE": "a"})


def test_accepts_a_plain_http_jwks_url_on_loopback() -> None:
    env = {"DALOY_JWKS_URL": "http://127.0.0.1:9/jwks.json", "DALOY_JWT_ISSUER": "i"}
    app = create_app({**env, "DALOY_JWT_AUDIENCE": "a"})
    assert TestClient(app).get("/api/me").status == 401


def test_refusal_message_carries_the_fix() -> None:
    with pytest.raises(InsecureConfiguration, match="Fix: list the exact origins"):
        create_app({"DALOY_CORS_ORIGINS": "*", "DALOY_SESSION_KEYS": STRONG_KEY})


def test_development_mode_skips_the_boot_audit() -> None:
    app = create_app({"DALOY_ENV": "development", "DALOY_WEBHOOK_SECRETS": "tiny"})
    assert TestClient(app).get("/health").status == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DALOY_REQUEST_TIMEOUT_MS", "abc"),
        ("DALOY_REQUEST_TIMEOUT_MS", "1e9"),
        ("DALOY_REQUEST_TIMEOUT_MS", "0"),
        ("DALOY_MAX_BODY_BYTES", "-5"),
        ("DALOY_MAX_BODY_BYTES", "9" * 5000),
        ("DALOY_ENV", "PRODUCTION"),
    ],
)
@pytest.mark.parametrize("mode", ["production", "development"])
def test_a_malformed_setting_refuses_to_build_naming_the_variable(
    name: str, value: str, mode: str
) -> None:
    # These raised a bare ValueError from int() deep in the build (or, for the long
    # number, from the audit itself): no variable named, a traceback for a typo.
    with pytest.raises(ConfigError, match=name):
        create_app({"DALOY_ENV": mode, name: value})


JWKS = {"DALOY_JWKS_URL": "https://idp.example/jwks", "DALOY_JWT_ISSUER": "i"}
MALFORMED = pytest.mark.parametrize(
    ("name", "env"),
    [
        ("DALOY_CORS_ORIGINS", {"DALOY_CORS_ORIGINS": "https://app.example/"}),
        ("DALOY_TRUSTED_PROXIES", {"DALOY_TRUSTED_PROXIES": "10.0.0.1/8"}),
        ("DALOY_FORWARDED_HEADER", {"DALOY_FORWARDED_HEADER": "x-real-ip"}),
        ("DALOY_ADMIN_CIDRS", {"DALOY_ADMIN_CIDRS": "10.0.0.1/8"}),
        ("DALOY_ADMIN_USER", {"DALOY_ADMIN_USER": "op:s", "DALOY_ADMIN_PASSWORDS": "p" * 16}),
        ("DALOY_EGRESS_ALLOW_HOSTS", {"DALOY_EGRESS_ALLOW_HOSTS": "api.example.com:443"}),
        ("DALOY_EGRESS_ALLOW_CIDRS", {"DALOY_EGRESS_ALLOW_CIDRS": "10.0.0.1/8"}),
        (
            "DALOY_JWKS_URL",
            {**JWKS, "DALOY_JWT_AUDIENCE": "a", "DALOY_JWKS_URL": "https://u:p@i.example/"},
        ),
        (
            "DALOY_RATE_LIMIT_URL",
            {"DALOY_RATE_LIMIT_URL": "https://db.example/?q", "DALOY_RATE_LIMIT_TOKEN": "t"},
        ),
        ("DALOY_JWKS_URL", {**JWKS, "DALOY_JWT_AUDIENCE": "a", "DALOY_JWKS_URL": "https://"}),
        ("DALOY_JWT_AUDIENCE", {"DALOY_JWT_AUDIENCE": " , "}),
        ("DALOY_LOG_LEVEL", {"DALOY_LOG_LEVEL": "verbose"}),
        # The JSON list a Secrets Manager secret may hold, injected into a container as it
        # is: read comma-separated, its keys were '["…"' and '"…"]', passwords all refused.
        ("DALOY_SESSION_KEYS", {"DALOY_SESSION_KEYS": f'["{STRONG_KEY}", "{STRONG_KEY}x"]'}),
        (
            "DALOY_ADMIN_PASSWORDS",
            {"DALOY_ADMIN_USER": "ops", "DALOY_ADMIN_PASSWORDS": '["Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O"]'},
        ),
        (
            "DALOY_WEBHOOK_SECRETS",
            {"DALOY_WEBHOOK_SECRETS": '{"keys": ["Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O"]}'},
        ),
    ],
)


@MALFORMED
@pytest.mark.parametrize("mode", ["production", "development"])
def test_a_malformed_list_or_url_refuses_to_build_naming_the_variable(
    name: str, env: dict[str, str], mode: str
) -> None:
    # The toolkit's own message speaks of its fields ("trusted origin", "allow_hosts"),
    # which left the operator to guess which variable to fix.
    with pytest.raises(ConfigError, match=name):
        create_app({"DALOY_ENV": mode, "DALOY_SESSION_KEYS": STRONG_KEY, **env})


@MALFORMED
def test_check_reports_a_setting_the_app_refuses_to_build_on(
    name: str, env: dict[str, str]
) -> None:
    # `daloy-edge check` without a target audits only the environment: it passed the
    # malformed JWKS URL, audience, admin user and egress entries the app refuses.
    from daloy_edge.audit import audit_environment

    found = audit_environment({"DALOY_SESSION_KEYS": STRONG_KEY, **env})
    assert any(f.severity == "error" and name in f.subject for f in found), found


class _OneSecret:
    """The slice of a boto3 secretsmanager client the Lambda entry calls."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get_secret_value(self, **_: object) -> dict[str, str]:
        return {"SecretString": self.value}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DALOY_ADMIN_PASSWORDS", "[Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O]"),
        ("DALOY_ADMIN_PASSWORDS", "{Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O},[Xc2Vb6Nq1Er7Ty3Ui9OHs4d8]"),
        ("DALOY_WEBHOOK_SECRETS", "[Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O]"),
    ],
)
def test_a_secret_in_brackets_that_is_no_json_list_is_served(name: str, value: str) -> None:
    # Refused as "a JSON document": a password beginning with "[" or "{" and ending with
    # "]" or "}" stopped the app, though it is no JSON and was read as it was before.
    from daloy_edge.audit import audit_environment

    env = {"DALOY_SESSION_KEYS": STRONG_KEY, "DALOY_ADMIN_USER": "ops", name: value}
    assert "secret-list-json" not in [f.code for f in audit_environment(env)]
    assert TestClient(create_app({"DALOY_ENV": "development", **env})).get("/health").status == 200


def test_a_bracketed_password_from_a_secrets_manager_json_list_is_served() -> None:
    # The Lambda entry reads the JSON list ["[...]"] into the value [...], which the app
    # then refused as the JSON list it had already read: "only the Lambda entry reads a
    # JSON list", said on Lambda.
    from daloy_edge_aws_lambda.secrets_manager import env_with_secrets

    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:admin"
    env = env_with_secrets(
        {
            "DALOY_ENV": "development",
            "DALOY_ADMIN_USER": "ops",
            "DALOY_ADMIN_PASSWORDS_SECRET_ARN": arn,
        },
        ["DALOY_ADMIN_PASSWORDS"],
        client=_OneSecret('["[Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O]"]'),
    )
    client = TestClient(create_app({"DALOY_SESSION_KEYS": STRONG_KEY, **env}))
    assert (
        client.get("/admin/stats", headers=_basic("ops", "[Hs4d8Xc2Vb6Nq1Er7Ty3Ui9O]")).status
        == 200
    )


def _basic(user: str, password: str) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": "Basic " + token}


def test_a_short_session_key_in_development_refuses_to_build_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="DALOY_SESSION_KEYS"):
        create_app({"DALOY_ENV": "development", "DALOY_SESSION_KEYS": "too-short"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DALOY_CLOUDWATCH_LOG_GROUP", "/daloy/my api"),
        ("DALOY_CLOUDWATCH_LOG_STREAM", "host:1234"),
        ("DALOY_CLOUDWATCH_ENDPOINT_URL", "localhost:4566"),
    ],
)
def test_a_malformed_cloudwatch_setting_refuses_to_build_naming_the_variable(
    name: str, value: str
) -> None:
    # The shipper's message spoke of its fields (log_group, log_stream), none of the
    # variables; an endpoint boto3 refuses failed only in the sender thread, every line lost.
    env = {
        "DALOY_SESSION_KEYS": STRONG_KEY,
        "DALOY_CLOUDWATCH_LOG_GROUP": "/daloy/api",
        name: value,
    }
    with pytest.raises(ConfigError, match=name):
        create_app(env)


@pytest.mark.parametrize("value", [",", " , ", "\n"])
def test_an_egress_host_list_naming_no_host_refuses_to_build(value: str) -> None:
    # An empty list lets /fetch reach any public host: "," meant a list, not that.
    with pytest.raises(ConfigError, match="DALOY_EGRESS_ALLOW_HOSTS"):
        create_app({"DALOY_ENV": "development", "DALOY_EGRESS_ALLOW_HOSTS": value})


@pytest.mark.parametrize("mode", ["production", "development"])
@pytest.mark.parametrize(
    "name", ["DALOY_SESSION_KEYS", "DALOY_ADMIN_PASSWORDS", "DALOY_ADMIN_USER"]
)
def test_a_setting_of_bytes_the_locale_could_not_decode_refuses_naming_the_variable(
    mode: str, name: str
) -> None:
    # How os.environ hands over a UTF-8 "é" under LC_ALL=C with PYTHONUTF8=0, or bytes that
    # are no UTF-8: lone surrogates, which failed deep inside with a UnicodeEncodeError.
    value = STRONG_KEY + "\udcc3\udca9"
    env = {"DALOY_ENV": mode, "DALOY_SESSION_KEYS": STRONG_KEY, name: value}
    with pytest.raises(ConfigError, match=f"{name} holds bytes that are not UTF-8"):
        create_app(env)
