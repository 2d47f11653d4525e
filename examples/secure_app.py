"""The reference app: every route of the contract, served identically on every runtime.

Run it locally with ``daloy-edge dev``; deploy it with the entry points below. ``app`` and
every entry point are built on first access, so importing ``create_app`` alone (as the
Lambda and Workers entries do, with their own configuration) builds nothing.
"""

from __future__ import annotations

import gc
import os


class PausedCollector:
    """``with PausedCollector(): ...`` for start-up code: imports and building the app.

    Start-up allocates what the process keeps until it ends (modules, classes, the app),
    so garbage collection meanwhile frees next to nothing; yet each collection walks
    everything allocated so far. The collector is paused instead, and what start-up built
    (with the little garbage it left) is frozen (``gc.freeze()``) so that no later
    collection walks it again. Collection then resumes as usual for what requests
    allocate. About 5% of the reference app's cold start (``bench``'s ``instructions``).
    """

    def __enter__(self) -> None:
        self.collecting = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.collecting:
            gc.freeze()
            gc.enable()


with PausedCollector():
    from daloy_edge import App, ConfigError
    from examples.reference import abuse, browser, core_routes, egress, identity
    from examples.reference import observability as observability_area

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from daloy_edge_asgi import ASGIApp
    from daloy_edge_asgi._adapter import Receive, Scope, Send

    from daloy_edge.audit import Finding

__all__ = [  # noqa: F822
    "PausedCollector",
    "app",
    "asgi",
    "create_app",
    "gcf_handler",
    "lambda_handler",
]

# What refuses to boot in production (DESIGN.md): settings that are insecure whatever the
# deployment. Everything else ``daloy-edge check`` reports stays a report: it is advice
# about the deployment, and the app must still serve the contract with it.
REFUSE_TO_BOOT = frozenset(
    {
        "cors-wildcard-credentials",
        "proxies-everyone",
        "session-key-short",
        "session-insecure-cookies",
        "sessions-without-csrf",
        "hsts-off",
    }
)


def _refuse_insecure(findings: Iterable[Finding]) -> None:
    from daloy_edge.audit import enforce

    enforce([f for f in findings if f.code in REFUSE_TO_BOOT])


def create_app(env: Mapping[str, str] = os.environ) -> App:
    """Build the reference app from environment variables (no network I/O).

    In production an insecure setting refuses to start (``InsecureConfiguration``, a
    ``ConfigError``) with the fix in the message; unset variables never do: the features
    they configure stay closed instead (see CONTRACT.md).
    """
    _refuse_undecodable(env)
    _refuse_json_lists(env)
    mode = env.get("DALOY_ENV") or "production"
    if mode not in ("production", "development"):
        raise ConfigError(f"DALOY_ENV must be production or development, not {mode!r}")
    production = mode == "production"
    if production:
        from daloy_edge.audit import audit_environment

        _refuse_insecure(audit_environment(env))
    timeout_ms = _positive_int(env, "DALOY_REQUEST_TIMEOUT_MS", 10_000)
    max_body = _positive_int(env, "DALOY_MAX_BODY_BYTES", 1_048_576)
    app = App(env=env, request_timeout=timeout_ms / 1000, max_body=max_body)
    core_routes.install(app)
    # First among the areas that add middleware: its resolver sets the client address
    # and scheme that the browser area's origin checks and the rate limits read.
    identity.install(app, env)
    browser.install(app, env, nonce_store=abuse.nonce_store(app, env))
    abuse.install(app, env)
    egress.install(app, env)
    observability_area.install(app, env)
    if production:
        from daloy_edge.audit import audit_app

        _refuse_insecure(audit_app(app))
    return app


# Read as UTF-8 bytes: the secrets, and the admin name hashed beside its passwords.
_UTF8_SETTINGS = (
    "DALOY_SESSION_KEYS",
    "DALOY_ADMIN_USER",
    "DALOY_ADMIN_PASSWORDS",
    "DALOY_WEBHOOK_SECRETS",
    "DALOY_RATE_LIMIT_TOKEN",
)


def _refuse_undecodable(env: Mapping[str, str]) -> None:
    # Bytes the locale could not decode reach os.environ as lone surrogates (a key with an
    # "é" under LC_ALL=C and PYTHONUTF8=0, or bytes that are no UTF-8 at all): they failed
    # deep inside with a UnicodeEncodeError, at build or at a request. These settings
    # alone: a walk over os.environ decodes every variable (0.35M instructions a start).
    for name in _UTF8_SETTINGS:
        value = env.get(name)
        if value is not None and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError(
                    f"{name} holds bytes that are not UTF-8 text; set it as UTF-8 and run"
                    " Python in a UTF-8 locale (LANG=C.UTF-8 or PYTHONUTF8=1)"
                ) from None


# A secret kept in Secrets Manager may hold a JSON list, which the Lambda entry reads into
# the comma-separated list; the same secret injected into a container's environment as it
# is (ECS task secrets, a Kubernetes secret) was read comma-separated: keys '["new"' and
# '"old"]', every admin password refused, and nothing said why.
def _refuse_json_lists(env: Mapping[str, str]) -> None:
    # The audit's own list and reading.
    from daloy_edge.audit._environment import LISTED_VARIABLES, json_document

    for name in LISTED_VARIABLES:
        if json_document(env.get(name) or ""):
            raise ConfigError(
                f"{name} holds a JSON document; set it as a comma-separated list (new,old):"
                " only the Lambda entry reads a JSON list, from Secrets Manager"
            )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = (env.get(name) or "").strip() or str(default)
    # Nine digits at most, as the audit's limit-invalid finding says (int() raises past
    # 4300 digits, and no limit needs more than nine).
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) == 0:
        raise ConfigError(
            f"{name} must be a positive whole number of at most nine digits, not {text[:40]!r}"
        )
    return int(text)


app: App
"""``create_app()``: the app built from ``os.environ`` (on first access)."""


class _ASGIEntry:
    """The ASGI 3 callable serving :data:`app`, which it builds on its first call.

    A name in the module's namespace, not one answered by ``__getattr__``: Hypercorn
    looks ``module:name`` up in that namespace, where ``__getattr__`` is never asked
    (``hypercorn examples.secure_app:asgi`` failed with ``NoAppError``).
    """

    __slots__ = ("_served",)

    def __init__(self) -> None:
        self._served: ASGIApp | None = None

    @property
    def app(self) -> App:
        return self._adapter().app

    def _adapter(self) -> ASGIApp:
        served = self._served
        if served is None:
            with PausedCollector():
                from daloy_edge_asgi import ASGIApp

                self._served = served = ASGIApp(_app())
        return served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served = self._served
        if served is None:
            try:
                served = self._adapter()
            except Exception as exc:
                served = _not_started(exc)
        await served(scope, receive, send)


def _not_started(error: Exception) -> ASGIApp:
    """What serves in place of an app whose building raised ``error``: its start-up fails.

    Built on the server's first call rather than at import, a configuration the app
    refuses reached the server from inside that call: uvicorn read the lifespan's error
    as "lifespan unsupported" and served on, a bare 500 without request id or headers to
    every request. As a failed start-up, the server logs it and exits; a server without
    a lifespan answers 503 problems, and its next call builds again.
    """
    from daloy_edge_asgi import ASGIApp

    from daloy_edge.middleware.secure_headers import SecureHeaders

    # The variables may be what broke; the secure headers every answer carries, kept.
    refused = App(environment="production", env={}, middleware=[SecureHeaders()])

    @refused.on_startup
    def fail() -> None:
        raise error

    return ASGIApp(refused)


asgi = _ASGIEntry()


def _app() -> App:
    built = globals().get("app")
    if not isinstance(built, App):
        globals()["app"] = built = create_app()
    return built


def __getattr__(name: str) -> object:
    with PausedCollector():
        return _entry(name)


def _entry(name: str) -> object:
    # Built when first asked for, and adapters imported only then, so importing this
    # module builds nothing and never pulls in an adapter, boto3, flask, mangum or js
    # (a Lambda cold start never loads the ASGI adapter).
    if name == "app":
        return _app()
    if name == "lambda_handler":
        from daloy_edge_aws_lambda import handler

        return _keep(name, handler(_app()))
    if name == "gcf_handler":
        from daloy_edge_gcp_functions import handler as gcf

        return _keep(name, gcf(_app()))
    raise AttributeError(name)


def _keep(name: str, entry: object) -> object:
    globals()[name] = entry
    return entry
