"""The application audit reads the configuration the middleware exposes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from daloy_edge import App, KeyRing, Request, Response, Router
from daloy_edge.audit import Finding, audit_app
from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig
from daloy_edge.middleware.cors import CORS, CORSConfig
from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect
from daloy_edge.middleware.secure_headers import SecureHeaders, SecureHeadersConfig
from daloy_edge.middleware.sessions import SessionConfig, Sessions
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.types import CallNext
from examples.secure_app import create_app

KEYS = KeyRing(["Zq3v8Jw1Rk5Tn0Yb7Lc2Hx9Pd4Mf6Gs1Ae8Ku3Ni5Wo"])


def app_with(*middleware: object, environment: str = "production") -> App:
    app = App(environment=environment, env={})  # type: ignore[arg-type]
    app.use(SecureHeaders(), *middleware)  # type: ignore[arg-type]

    @app.post("/items")
    async def create(request: Request) -> dict[str, bool]:
        return {"created": True}

    return app


def only(app: App, code: str) -> Finding:
    found = [f for f in audit_app(app) if f.code == code]
    assert len(found) == 1, audit_app(app)
    return found[0]


def test_secure_app_has_no_findings() -> None:
    assert audit_app(app_with()) == []


def test_reference_app_without_configuration_has_no_findings() -> None:
    assert audit_app(create_app({})) == []


def test_app_without_secure_headers_has_hsts_off() -> None:
    finding = only(App(env={}), "hsts-off")
    assert finding.severity == "error"
    assert "SecureHeaders()" in finding.fix


def test_hsts_max_age_zero_is_hsts_off() -> None:
    app = App(env={}, middleware=[SecureHeaders(SecureHeadersConfig(hsts_max_age=0))])
    assert only(app, "hsts-off").subject == "SecureHeaders"


def test_short_hsts_is_a_warning() -> None:
    app = App(env={}, middleware=[SecureHeaders(SecureHeadersConfig(hsts_max_age=3600))])
    assert only(app, "hsts-short").severity == "warning"


def test_csp_off_is_a_warning() -> None:
    app = App(env={}, middleware=[SecureHeaders(SecureHeadersConfig(csp=False))])
    assert only(app, "csp-off").severity == "warning"


def test_report_only_csp_is_a_warning() -> None:
    app = App(env={}, middleware=[SecureHeaders(SecureHeadersConfig(csp_report_only=True))])
    assert only(app, "csp-report-only").severity == "warning"


def test_development_app_is_an_error() -> None:
    assert only(app_with(environment="development"), "development-mode").severity == "error"


def test_wildcard_cors_without_credentials_is_a_warning() -> None:
    app = app_with(CORS(CORSConfig(allow_origins=("*",))))
    assert only(app, "cors-wildcard").severity == "warning"


def test_credentialed_cors_for_a_plain_http_origin_is_an_error() -> None:
    cors = CORS(CORSConfig(allow_origins=("http://app.example",), allow_credentials=True))
    assert only(app_with(cors), "cors-insecure-origin").subject == "CORS"


@dataclass(frozen=True)
class LaxCORSConfig:
    allow_origins: tuple[str, ...]
    allow_credentials: bool


class HomeMadeCORS:
    """A CORS middleware of someone else's making, with the same configuration shape."""

    def __init__(self) -> None:
        self.config = LaxCORSConfig(allow_origins=("*",), allow_credentials=True)

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        return await call_next(request)


def test_any_middleware_with_wildcard_cors_and_credentials_is_an_error() -> None:
    finding = only(app_with(HomeMadeCORS()), "cors-wildcard-credentials")
    assert finding.subject == "HomeMadeCORS"


def test_cors_on_a_mount_is_audited() -> None:
    app = app_with()
    api = Router()

    @api.get("/x")
    async def x(request: Request) -> dict[str, bool]:
        return {}

    cors = CORS(CORSConfig(allow_origins=("http://app.example",), allow_credentials=True))
    app.mount("/api", api, middleware=[cors])
    assert only(app, "cors-insecure-origin").severity == "error"


def test_sessions_without_csrf_is_an_error_naming_the_routes() -> None:
    finding = only(app_with(Sessions(SessionConfig(keys=KEYS))), "sessions-without-csrf")
    assert finding.severity == "error"
    assert "POST /items" in finding.problem
    assert "CSRFProtect" in finding.fix


def test_sessions_with_app_wide_csrf_are_fine() -> None:
    app = app_with(Sessions(SessionConfig(keys=KEYS)), CSRFProtect(CSRFConfig(keys=KEYS)))
    assert audit_app(app) == []


def test_sessions_with_per_route_csrf_are_fine() -> None:
    csrf = CSRFProtect(CSRFConfig(keys=KEYS))
    app = App(env={}, middleware=[SecureHeaders(), Sessions(SessionConfig(keys=KEYS))])

    @app.post("/form", middleware=[csrf.token_required])
    async def form(request: Request) -> None:
        return None

    assert audit_app(app) == []


def test_sessions_that_opted_out_of_csrf_are_a_warning() -> None:
    sessions = Sessions(SessionConfig(keys=KEYS, allow_no_csrf=True))
    assert only(app_with(sessions), "sessions-without-csrf").severity == "warning"


def test_insecure_session_cookies_are_an_error() -> None:
    config = SessionConfig(keys=KEYS, insecure_http_cookies=True, allow_no_csrf=True)
    assert only(app_with(Sessions(config)), "session-insecure-cookies").severity == "error"


def test_placeholder_session_key_is_an_error() -> None:
    keys = KeyRing(["replace-me-with-a-real-key-of-32-bytes!"])
    app = app_with(Sessions(SessionConfig(keys=keys)), CSRFProtect(CSRFConfig(keys=KEYS)))
    assert only(app, "session-key-weak").subject == "Sessions"


def test_short_webhook_secret_below_the_library_default_is_an_error() -> None:
    verify = VerifyWebhook(WebhookConfig(secrets=KeyRing(["short"]), min_secret_bytes=1))
    app = app_with()

    @app.post("/hook", middleware=[verify])
    async def hook(request: Request) -> None:
        return None

    assert only(app, "webhook-secret-short").subject == "VerifyWebhook"


def test_a_webhook_secret_that_also_signs_sessions_is_an_error() -> None:
    # The sender holds the webhook secret: as a session key it lets the sender sign in as
    # anyone. The environment audit said so for DALOY_*; an app built in code was not asked.
    app = app_with(Sessions(SessionConfig(keys=KEYS)), CSRFProtect(CSRFConfig(keys=KEYS)))
    verify = VerifyWebhook(WebhookConfig(secrets=KeyRing([*KEYS])))

    @app.post("/hook", middleware=[verify])
    async def hook(request: Request) -> None:
        return None

    finding = only(app, "secret-reused")
    assert finding.subject == "session/CSRF keys and webhook secrets"
    assert finding.severity == "error"


def test_sessions_and_csrf_sharing_their_keys_is_no_reuse() -> None:
    # Each signs with keys derived for its own purpose from the ring.
    app = app_with(Sessions(SessionConfig(keys=KEYS)), CSRFProtect(CSRFConfig(keys=KEYS)))
    assert [f for f in audit_app(app) if f.code == "secret-reused"] == []


@pytest.mark.parametrize("cidr", ["0.0.0.0/1", "2000::/3"])
def test_trusted_proxies_covering_the_internet_are_an_error(cidr: str) -> None:
    proxies = TrustedProxies(TrustedProxiesConfig(proxies=(cidr,)))
    assert only(app_with(proxies), "proxies-everyone").severity == "error"


def test_every_message_names_its_fix() -> None:
    app = App(env={}, environment="development")
    app.use(Sessions(SessionConfig(keys=KEYS)), CORS(CORSConfig(allow_origins=("*",))))

    @app.post("/x")
    async def x(request: Request) -> None:
        return None

    for finding in audit_app(app):
        assert finding.message.endswith(f"Fix: {finding.fix}.")


@dataclass(frozen=True)
class TokenCheckConfig:
    keys: object
    secrets: object
    proxies: str
    clock: object = None
    tolerance: float = 300


class TokenCheck:
    """A middleware whose configuration reuses field names with other meanings."""

    def __init__(self) -> None:
        self.config = TokenCheckConfig(keys=lambda: [], secrets={"k": "v"}, proxies="0.0.0.0/0")

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        return await call_next(request)


def test_fields_of_other_types_are_not_misread_as_keys_or_proxies() -> None:
    assert audit_app(app_with(TokenCheck())) == []
