"""The audit of a built :class:`~daloy_edge.App`, through the configuration its middleware
exposes (``mw.config``). Middleware is recognised by the shape of its configuration, so
any middleware with the same fields is audited the same way."""

from __future__ import annotations

from daloy_edge._secrets import KeyRing
from daloy_edge.audit import _rules
from daloy_edge.audit._findings import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from daloy_edge._app import App
    from daloy_edge.types import Middleware

__all__ = ["audit_app"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MIN_HSTS_SECONDS = 180 * 24 * 3600


def audit_app(app: App) -> list[Finding]:
    """Findings for ``app``'s mode and middleware configuration, errors first.

    >>> from daloy_edge import App
    >>> [f.code for f in audit_app(App(environment="production"))]
    ['hsts-off']
    """
    app_wide: list[Middleware] = list(getattr(app, "_middleware", ()))
    found: list[Finding] = []
    if app.debug:
        found.append(
            Finding(
                "development-mode",
                "error",
                "App",
                "development mode puts exception text and stack traces into error responses",
                "build the app with environment='production' (the default) or DALOY_ENV=production",
            )
        )
    found += _secure_headers(app_wide)
    found += _sessions_and_csrf(app, app_wide)
    configs = list(_configs(app, app_wide))
    for name, config in configs:
        found += _middleware_findings(name, config)
    found += _reused(config for _, config in configs)
    return sorted(dict.fromkeys(found), key=lambda f: f.severity != "error")


def _every_middleware(app: App, app_wide: list[Middleware]) -> Iterator[Middleware]:
    seen: set[int] = set()
    for mw in [*app_wide, *(m for _, _, chain in app.route_middleware() for m in chain)]:
        if id(mw) not in seen:
            seen.add(id(mw))
            yield mw


def _configs(app: App, app_wide: list[Middleware]) -> Iterator[tuple[str, object]]:
    for mw in _every_middleware(app, app_wide):
        config = getattr(mw, "config", None)
        if config is not None:
            yield type(mw).__name__, config


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, tuple | list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _middleware_findings(name: str, config: object) -> list[Finding]:
    found: list[Finding] = []
    origins = _strings(getattr(config, "allow_origins", None))
    if origins is not None and hasattr(config, "allow_credentials"):
        credentials = getattr(config, "allow_credentials", False) is True
        found += _rules.cors_origins(name, origins, credentials=credentials)
    if getattr(config, "insecure_http_cookies", False) is True:
        found.append(
            Finding(
                "session-insecure-cookies",
                "error",
                name,
                "insecure_http_cookies=True sends the session cookie over plain HTTP",
                "remove insecure_http_cookies (it is for local plain-HTTP development only)",
            )
        )
    keys = getattr(config, "keys", None)
    if isinstance(keys, KeyRing):
        found += _rules.session_keys(name, [key.reveal() for key in keys])
    secrets = getattr(config, "secrets", None)
    if isinstance(secrets, KeyRing):
        found += _rules.webhook_secrets(name, [secret.reveal() for secret in secrets])
    proxies = _strings(getattr(config, "proxies", None))
    if proxies is not None:
        found += _rules.trusted_proxies(name, proxies)
    return found


def _reused(configs: Iterable[object]) -> list[Finding]:
    """A webhook secret that also signs sessions or CSRF tokens: the sender holds it.

    Sessions and CSRF sharing one ring is no reuse: each derives keys for its purpose.
    """
    signing: list[bytes] = []
    webhooks: list[bytes] = []
    for config in configs:
        keys, secrets = getattr(config, "keys", None), getattr(config, "secrets", None)
        if isinstance(keys, KeyRing):
            signing += [key.reveal() for key in keys]
        if isinstance(secrets, KeyRing):
            webhooks += [secret.reveal() for secret in secrets]
    return _rules.reused_secrets({"session/CSRF keys": signing, "webhook secrets": webhooks})


def _secure_headers(app_wide: list[Middleware]) -> list[Finding]:
    configs = [
        c
        for mw in app_wide
        if isinstance(getattr(c := getattr(mw, "config", None), "hsts_max_age", None), int)
    ]
    if not configs:
        return [
            Finding(
                "hsts-off",
                "error",
                "App",
                "no SecureHeaders middleware, so no Strict-Transport-Security: a first visit "
                "over plain HTTP can be intercepted and downgraded",
                "add app.use(SecureHeaders()) first among the app-wide middleware",
            )
        ]
    found: list[Finding] = []
    for config in configs:
        found += _header_settings(config)
    return found


def _header_settings(config: object) -> list[Finding]:
    max_age = int(getattr(config, "hsts_max_age", 0))
    if max_age == 0:
        return [
            Finding(
                "hsts-off",
                "error",
                "SecureHeaders",
                "hsts_max_age=0 turns HSTS off (and tells browsers to forget it)",
                "keep the default hsts_max_age=31536000 (one year)",
            )
        ]
    found: list[Finding] = []
    if max_age < MIN_HSTS_SECONDS:
        found.append(
            Finding(
                "hsts-short",
                "warning",
                "SecureHeaders",
                f"hsts_max_age={max_age} lapses in under 180 days between visits",
                "use hsts_max_age=31536000 (one year) once HTTPS works everywhere",
            )
        )
    if not getattr(config, "csp", True):
        found.append(
            Finding(
                "csp-off",
                "warning",
                "SecureHeaders",
                "csp=False sends HTML without a Content-Security-Policy, so one injection is "
                "enough for cross-site scripting",
                "keep csp=True and put request.csp_nonce on your <script> tags",
            )
        )
    elif getattr(config, "csp_report_only", False):
        found.append(
            Finding(
                "csp-report-only",
                "warning",
                "SecureHeaders",
                "csp_report_only=True reports violations but blocks nothing",
                "switch to csp_report_only=False once the reports are clean",
            )
        )
    return found


def _sessions_and_csrf(app: App, app_wide: list[Middleware]) -> list[Finding]:
    sessions = [
        mw
        for mw in _every_middleware(app, app_wide)
        if hasattr(getattr(mw, "config", None), "allow_no_csrf")
    ]
    if not sessions:
        return []
    if any(getattr(mw, "protects_against_csrf", False) for mw in app_wide):
        return []
    bare = sorted(
        f"{method} {path}"
        for path, method, chain in app.route_middleware()
        if method in UNSAFE_METHODS
        and not any(getattr(mw, "protects_against_csrf", False) for mw in chain)
    )
    if not bare:
        return []
    opted_out = all(getattr(getattr(mw, "config", None), "allow_no_csrf", False) for mw in sessions)
    return [
        Finding(
            "sessions-without-csrf",
            "warning" if opted_out else "error",
            "Sessions",
            "cookie sessions with unsafe routes that no CSRF check guards"
            + (" (allow_no_csrf=True)" if opted_out else "")
            + f": {', '.join(bare)}",
            "add app.use(CSRFProtect(CSRFConfig(keys=...))) after Sessions, or wrap each "
            "unsafe route in csrf.token_required",
        )
    ]
