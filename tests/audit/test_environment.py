"""The environment audit: each insecure setting is found, named and comes with its fix."""

from __future__ import annotations

import secrets

import pytest

from daloy_edge import ConfigError
from daloy_edge.audit import Finding, audit_environment
from tests.support.servers import ROOT

STRONG_KEY = "Zq3v8Jw1Rk5Tn0Yb7Lc2Hx9Pd4Mf6Gs1Ae8Ku3Ni5Wo"
STRONG_PASSWORD = "Vt7rQ2mX9kLp4Wz8"


def codes(env: dict[str, str]) -> list[str]:
    return [f.code for f in audit_environment(env)]


def only(env: dict[str, str], code: str) -> Finding:
    found = [f for f in audit_environment(env) if f.code == code]
    assert len(found) == 1, audit_environment(env)
    return found[0]


def test_no_configuration_has_no_errors() -> None:
    assert [f for f in audit_environment({}) if f.severity == "error"] == []


def test_unset_session_keys_in_production_is_a_warning() -> None:
    finding = only({}, "session-keys-missing")
    assert finding.severity == "warning"
    assert "secret manager" in finding.fix


def test_unset_session_keys_in_development_is_not_reported() -> None:
    assert "session-keys-missing" not in codes({"DALOY_ENV": "development"})


def test_a_fully_configured_environment_has_no_findings() -> None:
    env = {
        "DALOY_ENV": "production",
        "DALOY_SESSION_KEYS": f"{STRONG_KEY},{secrets.token_urlsafe(48)}",
        "DALOY_ADMIN_USER": "ops",
        "DALOY_ADMIN_PASSWORDS": STRONG_PASSWORD,
        "DALOY_WEBHOOK_SECRETS": secrets.token_urlsafe(32),
        "DALOY_CORS_ORIGINS": "https://app.example.com,http://localhost:3000",
        "DALOY_TRUSTED_PROXIES": "10.0.0.0/8,fc00::/7",
        "DALOY_JWKS_URL": "https://idp.example.com/.well-known/jwks.json",
        "DALOY_JWT_ISSUER": "https://idp.example.com/",
        "DALOY_JWT_AUDIENCE": "api://reports",
        "DALOY_REQUEST_TIMEOUT_MS": "5000",
    }
    assert audit_environment(env) == []


def test_development_mode_is_an_error_with_the_fix() -> None:
    finding = only({"DALOY_ENV": "development"}, "development-mode")
    assert finding.severity == "error"
    assert "DALOY_ENV=production" in finding.fix


def test_unknown_environment_name_is_an_error() -> None:
    assert only({"DALOY_ENV": "prod"}, "environment-invalid").severity == "error"


def test_wildcard_cors_with_credentials_is_an_error() -> None:
    finding = only({"DALOY_CORS_ORIGINS": "https://app.example,*"}, "cors-wildcard-credentials")
    assert finding.severity == "error"
    assert "exact origins" in finding.fix


def test_null_cors_origin_is_an_error() -> None:
    assert only({"DALOY_CORS_ORIGINS": "null"}, "cors-null-origin").severity == "error"


def test_cors_origin_with_a_path_is_an_error() -> None:
    finding = only({"DALOY_CORS_ORIGINS": "https://app.example/login"}, "cors-invalid-origin")
    assert "scheme://host[:port]" in finding.fix


def test_cors_origin_with_its_default_port_is_not_reported_invalid() -> None:
    # CORSConfig drops the default port, so the origin works as written.
    env = {"DALOY_CORS_ORIGINS": "https://app.example:443", "DALOY_SESSION_KEYS": STRONG_KEY}
    assert codes(env) == []


def test_plain_http_cors_origin_is_an_error() -> None:
    finding = only({"DALOY_CORS_ORIGINS": "http://app.example"}, "cors-insecure-origin")
    assert "HTTPS" in finding.fix


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173", "http://127.0.0.1:8000", "http://[::1]"]
)
def test_plain_http_loopback_origin_is_allowed(origin: str) -> None:
    assert codes({"DALOY_CORS_ORIGINS": origin, "DALOY_SESSION_KEYS": STRONG_KEY}) == []


def test_short_session_key_is_an_error_naming_the_entry() -> None:
    finding = only({"DALOY_SESSION_KEYS": f"{STRONG_KEY},too-short"}, "session-key-short")
    assert finding.severity == "error"
    assert "entry 2 of 2" in finding.problem
    assert "32" in finding.fix


@pytest.mark.parametrize(
    "key",
    [
        "change-me-change-me-change-me-change-me",
        "your-secret-session-key-goes-right-here",
        "this-is-an-example-session-key-of-40-bytes",
        "k" * 48,
        "abababababababababababababababab",
    ],
)
def test_placeholder_or_repetitive_session_key_is_an_error(key: str) -> None:
    finding = only({"DALOY_SESSION_KEYS": key}, "session-key-weak")
    assert finding.severity == "error"


def test_findings_never_contain_the_secret() -> None:
    key = "change-me-change-me-change-me-change-me"
    env = {"DALOY_SESSION_KEYS": key, "DALOY_ADMIN_PASSWORDS": "hunter2", "DALOY_ADMIN_USER": "a"}
    text = " ".join(f.message for f in audit_environment(env))
    assert key not in text
    assert "hunter2" not in text


def test_repeated_session_key_is_a_warning() -> None:
    finding = only({"DALOY_SESSION_KEYS": f"{STRONG_KEY},{STRONG_KEY}"}, "session-key-duplicate")
    assert finding.severity == "warning"


@pytest.mark.parametrize("password", ["s3cret", "short-pass"])
def test_short_admin_password_is_an_error(password: str) -> None:
    env = {"DALOY_ADMIN_USER": "ops", "DALOY_ADMIN_PASSWORDS": password}
    assert only(env, "admin-password-short").severity == "error"


@pytest.mark.parametrize(
    "password",
    ["changeme-changeme", "replace-me-before-deploy", "aaaaaaaaaaaaaaaa", "Administrator"],
)
def test_placeholder_or_default_admin_password_is_an_error(password: str) -> None:
    env = {"DALOY_ADMIN_USER": "ops", "DALOY_ADMIN_PASSWORDS": password}
    found = [f for f in audit_environment(env) if f.code.startswith("admin-password")]
    assert found
    assert all(f.severity == "error" for f in found)


def test_admin_password_equal_to_the_user_name_is_an_error() -> None:
    env = {"DALOY_ADMIN_USER": "reportbot2024", "DALOY_ADMIN_PASSWORDS": "ReportBot2024"}
    finding = only(env, "admin-password-weak")
    assert "user name" in finding.problem


def test_admin_user_without_passwords_is_a_warning_not_an_error() -> None:
    finding = only({"DALOY_ADMIN_USER": "ops"}, "admin-half-configured")
    assert finding.severity == "warning"
    assert finding.subject == "DALOY_ADMIN_PASSWORDS"


def test_blank_admin_user_with_passwords_is_reported_as_missing() -> None:
    env = {"DALOY_ADMIN_USER": "\n", "DALOY_ADMIN_PASSWORDS": STRONG_PASSWORD}
    assert only(env, "admin-half-configured").subject == "DALOY_ADMIN_USER"


def test_admin_allow_list_of_everyone_is_a_warning() -> None:
    assert only({"DALOY_ADMIN_CIDRS": "0.0.0.0/0"}, "admin-open").severity == "warning"


def test_admin_allow_list_of_every_ipv4_mapped_address_is_a_warning() -> None:
    assert only({"DALOY_ADMIN_CIDRS": "::ffff:0:0/96"}, "admin-open").severity == "warning"


@pytest.mark.parametrize("cidrs", ["0.0.0.0/1,128.0.0.0/1", "64.0.0.0/2", "2000::/3"])
def test_admin_allow_list_of_a_large_part_of_the_internet_is_a_warning(cidrs: str) -> None:
    # Two halves admit every IPv4 address as /0 does, and warned of nothing.
    assert only({"DALOY_ADMIN_CIDRS": cidrs}, "admin-open").severity == "warning"


def test_admin_allow_list_of_a_private_network_is_no_warning() -> None:
    assert "admin-open" not in codes({"DALOY_ADMIN_CIDRS": "10.0.0.0/8,fd00::/8"})


def test_invalid_admin_allow_list_is_an_error() -> None:
    assert only({"DALOY_ADMIN_CIDRS": "10.0.0.1/8"}, "admin-cidrs-invalid").severity == "error"


def test_admin_allow_list_naming_no_network_is_an_error() -> None:
    # The reference app refuses to start on it; a check without a target must say so too.
    for value in (" , ", "\n"):
        assert only({"DALOY_ADMIN_CIDRS": value}, "admin-cidrs-invalid").severity == "error"


@pytest.mark.parametrize(
    ("env", "subject"),
    [
        ({"DALOY_RATE_LIMIT_URL": "https://db.upstash.example"}, "DALOY_RATE_LIMIT_TOKEN"),
        ({"DALOY_RATE_LIMIT_TOKEN": "AXyz0123456789"}, "DALOY_RATE_LIMIT_URL"),
    ],
)
def test_half_configured_rate_limit_store_is_an_error(env: dict[str, str], subject: str) -> None:
    assert only(env, "rate-limit-half-configured").subject == subject


@pytest.mark.parametrize(
    "env",
    [
        {"DALOY_RATE_LIMIT_URL": "http://db.upstash.example", "DALOY_RATE_LIMIT_TOKEN": "AXyz01"},
        {"DALOY_RATE_LIMIT_URL": "https://db.upstash.example", "DALOY_RATE_LIMIT_TOKEN": "AX\n"},
    ],
)
def test_rate_limit_store_the_app_refuses_is_an_error_without_the_token(
    env: dict[str, str],
) -> None:
    finding = only(env, "rate-limit-invalid")
    assert finding.severity == "error"
    assert env["DALOY_RATE_LIMIT_TOKEN"].strip() not in finding.message


def test_rate_limit_store_the_app_accepts_is_not_reported() -> None:
    env = {
        "DALOY_RATE_LIMIT_URL": "https://db.upstash.example",
        "DALOY_RATE_LIMIT_TOKEN": "AXyz0123456789",
    }
    codes = {f.code for f in audit_environment(env)}
    assert not codes & {"rate-limit-invalid", "rate-limit-half-configured"}


def test_short_webhook_secret_is_an_error() -> None:
    finding = only({"DALOY_WEBHOOK_SECRETS": "whsec"}, "webhook-secret-short")
    assert finding.severity == "error"
    assert "both sides" in finding.fix


def test_placeholder_webhook_secret_is_an_error() -> None:
    finding = only({"DALOY_WEBHOOK_SECRETS": "your-secret-goes-here"}, "webhook-secret-weak")
    assert finding.severity == "error"


def test_repeated_admin_password_is_a_warning() -> None:
    env = {
        "DALOY_ADMIN_USER": "ops",
        "DALOY_ADMIN_PASSWORDS": f"{STRONG_PASSWORD},{STRONG_PASSWORD}",
    }
    assert only(env, "admin-password-duplicate").severity == "warning"


def test_session_key_reused_as_webhook_secret_is_an_error() -> None:
    env = {
        "DALOY_SESSION_KEYS": STRONG_KEY,
        "DALOY_WEBHOOK_SECRETS": f"other-{STRONG_KEY},{STRONG_KEY}",
    }
    finding = only(env, "secret-reused")
    assert finding.subject == "DALOY_SESSION_KEYS and DALOY_WEBHOOK_SECRETS"
    assert finding.severity == "error"


def test_session_key_reused_as_the_upstash_token_is_an_error() -> None:
    # The token goes to Upstash as a bearer on every rate-limit check: whoever reads it
    # there (the provider, a proxy's log) could sign sessions with it.
    env = {
        "DALOY_SESSION_KEYS": STRONG_KEY,
        "DALOY_RATE_LIMIT_URL": "https://eu1-example.upstash.io",
        "DALOY_RATE_LIMIT_TOKEN": STRONG_KEY,
    }
    finding = only(env, "secret-reused")
    assert finding.subject == "DALOY_RATE_LIMIT_TOKEN and DALOY_SESSION_KEYS"
    assert finding.severity == "error"


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "0.0.0.0/1", "2000::/3"])
def test_trusting_forwarded_headers_from_everyone_is_an_error(cidr: str) -> None:
    finding = only({"DALOY_TRUSTED_PROXIES": f"10.0.0.0/8,{cidr}"}, "proxies-everyone")
    assert finding.severity == "error"
    assert "proxies" in finding.fix


@pytest.mark.parametrize("cidr", ["::ffff:0.0.0.0/97", "::ffff:0:0/96", "::ffff:8.0.0.0/101"])
def test_trusting_an_ipv4_mapped_spelling_of_the_internet_is_an_error(cidr: str) -> None:
    # The app reads ::ffff:0.0.0.0/97 as 0.0.0.0/1 (half of IPv4), but as an IPv6 /97 it
    # looked narrow, so it passed the check and the refuse-to-boot rule.
    assert only({"DALOY_TRUSTED_PROXIES": cidr}, "proxies-everyone").severity == "error"


def test_trusting_an_ipv4_mapped_private_range_is_fine() -> None:
    env = {"DALOY_TRUSTED_PROXIES": "::ffff:10.0.0.0/104", "DALOY_SESSION_KEYS": STRONG_KEY}
    assert codes(env) == []


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "172.16.0.0/12", "fc00::/7", "173.245.48.0/20"])
def test_trusting_private_or_narrow_proxy_ranges_is_fine(cidr: str) -> None:
    env = {"DALOY_TRUSTED_PROXIES": cidr, "DALOY_SESSION_KEYS": STRONG_KEY}
    assert codes(env) == []


def test_invalid_proxy_network_is_an_error() -> None:
    assert only({"DALOY_TRUSTED_PROXIES": "10.0.0.1/8"}, "proxies-invalid").severity == "error"


def test_unknown_forwarding_header_is_an_error() -> None:
    finding = only({"DALOY_FORWARDED_HEADER": "x-real-ip"}, "forwarded-header-invalid")
    assert "x-forwarded-for or forwarded" in finding.fix


@pytest.mark.parametrize(
    ("missing", "code"),
    [("DALOY_JWT_ISSUER", "jwt-issuer-missing"), ("DALOY_JWT_AUDIENCE", "jwt-audience-missing")],
)
def test_jwks_without_pinned_claim_is_a_warning(missing: str, code: str) -> None:
    env = {
        "DALOY_JWKS_URL": "https://idp.example/jwks.json",
        "DALOY_JWT_ISSUER": "https://idp.example/",
        "DALOY_JWT_AUDIENCE": "api",
    }
    del env[missing]
    finding = only(env, code)
    assert finding.severity == "warning"
    assert finding.fix.startswith(f"set {missing}")


def test_issuer_without_any_jwks_is_a_warning() -> None:
    assert only({"DALOY_JWT_ISSUER": "https://idp/"}, "jwt-keys-missing").severity == "warning"


def test_plain_http_jwks_url_is_an_error() -> None:
    env = {
        "DALOY_JWKS_URL": "http://idp.example/jwks",
        "DALOY_JWT_ISSUER": "i",
        "DALOY_JWT_AUDIENCE": "a",
    }
    assert only(env, "jwks-insecure-url").severity == "error"


def test_blank_jwks_url_is_read_as_unset_as_the_app_reads_it() -> None:
    # The app strips it and leaves /api closed; the check called " " an insecure URL.
    assert codes({"DALOY_JWKS_URL": " \n", "DALOY_SESSION_KEYS": STRONG_KEY}) == []


def test_blank_issuer_beside_a_jwks_is_reported_unpinned() -> None:
    env = {"DALOY_JWKS_URL": "https://idp.example/jwks", "DALOY_JWT_ISSUER": " \n"}
    assert only({**env, "DALOY_JWT_AUDIENCE": "a"}, "jwt-issuer-missing").severity == "warning"


@pytest.mark.parametrize(
    "url", ["https://", "https://idp.example:99999/jwks", "https://u:p@idp.example/jwks"]
)
def test_malformed_jwks_url_is_an_error(url: str) -> None:
    env = {"DALOY_JWKS_URL": url, "DALOY_JWT_ISSUER": "i", "DALOY_JWT_AUDIENCE": "a"}
    assert only(env, "jwks-url-invalid").severity == "error"


@pytest.mark.parametrize("audience", [",", " ", "\n"])
def test_audience_naming_no_audience_is_an_error(audience: str) -> None:
    assert only({"DALOY_JWT_AUDIENCE": audience}, "jwt-audience-invalid").severity == "error"


@pytest.mark.parametrize("user", ["op:s", "o\x01ps"])
def test_admin_user_basic_auth_cannot_carry_is_an_error(user: str) -> None:
    env = {"DALOY_ADMIN_USER": user, "DALOY_ADMIN_PASSWORDS": STRONG_PASSWORD}
    assert only(env, "admin-user-invalid").severity == "error"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DALOY_EGRESS_ALLOW_HOSTS", "api.example.com:443"),
        ("DALOY_EGRESS_ALLOW_HOSTS", "https://api.example.com"),
        ("DALOY_EGRESS_ALLOW_HOSTS", "api.example.com."),
        ("DALOY_EGRESS_ALLOW_CIDRS", "10.0.0.1/8"),
    ],
)
def test_egress_entry_the_app_cannot_read_is_an_error(name: str, value: str) -> None:
    assert only({name: value}, "egress-invalid").subject == name


def test_jwks_url_and_file_together_is_an_error() -> None:
    env = {
        "DALOY_JWKS_URL": "https://idp.example/jwks",
        "DALOY_JWKS_FILE": "/tmp/jwks.json",
        "DALOY_JWT_ISSUER": "i",
        "DALOY_JWT_AUDIENCE": "a",
    }
    assert only(env, "jwks-ambiguous").severity == "error"


def test_egress_cidr_opt_in_is_a_warning() -> None:
    assert (
        only({"DALOY_EGRESS_ALLOW_CIDRS": "10.0.0.0/8"}, "egress-cidrs-opened").severity
        == "warning"
    )


@pytest.mark.parametrize("value", [",", " , ", "\n"])
def test_egress_host_list_naming_no_host_is_an_error(value: str) -> None:
    finding = only({"DALOY_EGRESS_ALLOW_HOSTS": value}, "egress-hosts-invalid")
    assert finding.severity == "error"


@pytest.mark.parametrize("name", ["DALOY_REQUEST_TIMEOUT_MS", "DALOY_MAX_BODY_BYTES"])
@pytest.mark.parametrize("value", ["0", "-5", "ten", "1e6"])
def test_non_positive_limits_are_errors(name: str, value: str) -> None:
    assert only({name: value}, "limit-invalid").subject == name


@pytest.mark.parametrize("level", ["verbose", "on", "0"])
def test_a_log_level_the_app_refuses_is_an_error(level: str) -> None:
    found = audit_environment({"DALOY_SESSION_KEYS": STRONG_KEY, "DALOY_LOG_LEVEL": level})
    assert [(f.code, f.severity) for f in found] == [("log-level-invalid", "error")]


@pytest.mark.parametrize("level", ["WARNING", "critical", "Exception"])
def test_a_log_level_alias_the_app_reads_is_no_finding(level: str) -> None:
    # The check page names these aliases: the app reads them as WARN, FATAL and ERROR.
    assert audit_environment({"DALOY_SESSION_KEYS": STRONG_KEY, "DALOY_LOG_LEVEL": level}) == []


CHECK_PAGE = (ROOT / "docs" / "security" / "check.md").read_text()


@pytest.mark.parametrize(
    "env",
    [
        {"DALOY_ADMIN_USER": "ops:root", "DALOY_ADMIN_PASSWORDS": STRONG_PASSWORD},
        {"DALOY_JWKS_URL": "https://user:pass@idp.example/jwks"},
        {"DALOY_JWT_AUDIENCE": " , "},
        {"DALOY_EGRESS_ALLOW_HOSTS": ","},
        {"DALOY_EGRESS_ALLOW_CIDRS": "10.0.0.1/8"},
        {"DALOY_LOG_LEVEL": "verbose"},
        {"DALOY_TRUSTED_PROXIES": "0.0.0.0/0"},
    ],
    ids=lambda env: next(iter(env)),
)
def test_every_finding_is_named_on_the_check_page(env: dict[str, str]) -> None:
    # The page lists what the audit finds: a code it leaves out is one an operator
    # meets with no description of the fix.
    found = audit_environment({"DALOY_SESSION_KEYS": STRONG_KEY, **env})
    assert found
    for finding in found:
        assert f"`{finding.code}`" in CHECK_PAGE, finding.code


def test_errors_come_before_warnings() -> None:
    found = audit_environment({"DALOY_CORS_ORIGINS": "*", "DALOY_ADMIN_USER": "ops"})
    severities = [f.severity for f in found]
    assert severities == sorted(severities)


def test_every_finding_message_carries_its_fix() -> None:
    env = {
        "DALOY_ENV": "development",
        "DALOY_CORS_ORIGINS": "*,null,http://x.example",
        "DALOY_SESSION_KEYS": "short",
        "DALOY_TRUSTED_PROXIES": "0.0.0.0/0",
        "DALOY_JWKS_URL": "http://idp",
    }
    for finding in audit_environment(env):
        assert finding.message.endswith(f"Fix: {finding.fix}.")


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:daloy-AbCdEf"


def test_secrets_passed_by_arn_are_not_reported_missing() -> None:
    # The Lambda template passes the secrets as <NAME>_SECRET_ARN, read at a cold start:
    # the function's own environment audited as session-keys-missing, admin-half-configured
    # and (an error, exit status 1) rate-limit-half-configured.
    env = {
        "DALOY_SESSION_KEYS_SECRET_ARN": ARN,
        "DALOY_ADMIN_USER": "ops",
        "DALOY_ADMIN_PASSWORDS_SECRET_ARN": ARN,
        "DALOY_WEBHOOK_SECRETS_SECRET_ARN": ARN,
        "DALOY_RATE_LIMIT_URL": "https://eu1-example.upstash.io",
        "DALOY_RATE_LIMIT_TOKEN_SECRET_ARN": ARN,
    }
    assert codes(env) == []


def test_an_arn_for_the_token_still_has_the_rate_limit_url_checked() -> None:
    env = {"DALOY_RATE_LIMIT_URL": "http://db.example", "DALOY_RATE_LIMIT_TOKEN_SECRET_ARN": ARN}
    assert only(env, "rate-limit-invalid").severity == "error"


def test_an_admin_user_basic_auth_cannot_carry_is_reported_with_passwords_by_arn() -> None:
    env = {"DALOY_ADMIN_USER": "op:s", "DALOY_ADMIN_PASSWORDS_SECRET_ARN": ARN}
    assert only(env, "admin-user-invalid").severity == "error"


@pytest.mark.parametrize(
    "name",
    [
        "DALOY_SESSION_KEYS",
        "DALOY_ADMIN_PASSWORDS",
        "DALOY_WEBHOOK_SECRETS",
        "DALOY_RATE_LIMIT_TOKEN",
    ],
)
def test_a_secret_set_both_directly_and_by_arn_is_reported(name: str) -> None:
    # The Lambda entry refuses to start on it (a stale plain value would shadow the
    # managed one), while check judged the plain value alone and passed it.
    from daloy_edge_aws_lambda.secrets_manager import env_with_secrets

    env = {
        "DALOY_ADMIN_USER": "ops",
        "DALOY_RATE_LIMIT_URL": "https://eu1-example.upstash.io",
        name: "Zq3v8Jw1Rk5Tn0Yb7Lc2Hx9Pd4Mf6Gs1Ae8Ku3Ni5Wo",
        name + "_SECRET_ARN": ARN,
    }
    with pytest.raises(ConfigError, match=name):
        env_with_secrets(env, [name], client=object())  # type: ignore[arg-type]
    assert only(env, "secret-set-twice").severity == "error"
