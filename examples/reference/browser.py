"""Browser-facing routes and defenses: sessions, the CSRF-protected form, signed webhooks,
secure headers, CORS and compression.

App-wide order (outermost first): SecureHeaders, Compression, CORS, Sessions, CSRF.
"""

from __future__ import annotations

import os
import sys

from daloy_edge import App, BadRequest, KeyRing, Request, Response, Unauthorized
from daloy_edge.middleware.compression import Compression
from daloy_edge.middleware.cors import CORS, CORSConfig
from daloy_edge.middleware.csrf import CSRFConfig, CSRFProtect, csrf_token
from daloy_edge.middleware.secure_headers import SecureHeaders
from daloy_edge.middleware.sessions import SessionConfig, Sessions, get_session
from daloy_edge.middleware.webhooks import VerifyWebhook, WebhookConfig
from daloy_edge.nonce_store import MemoryNonceStore
from daloy_edge.signing import MIN_KEY_BYTES
from examples.reference.variables import entries, naming

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.types import NonceStore

__all__ = ["install", "session_keys"]

USER = r"[A-Za-z0-9._@-]{1,64}"
"""A user name at sign-in (a regular expression)."""
WEBHOOK_TOLERANCE_S = 300

FORM_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Form</title></head>
<body>
<h1>Hello, {user}</h1>
<form method="post" action="/form">
<input type="hidden" name="csrf_token" value="{token}">
<label>Note <input name="note" maxlength="200"></label>
<button type="submit">Send</button>
</form>
<p id="status">Scripts are off.</p>
<section>
<h2>What protects this form</h2>
<ul>
<li>Your session lives in a signed <code>__Host-session</code> cookie: Secure, HttpOnly,
SameSite=Lax, Path=/, re-signed with the newest key whenever an older key verified it.</li>
<li>The hidden <code>csrf_token</code> field (or an <code>X-CSRF-Token</code> header) must
carry a token bound to that session; each page gets a freshly masked one.</li>
<li>Requests from other sites are refused on their <code>Sec-Fetch-Site</code> or
<code>Origin</code> header before the token is even looked at.</li>
<li>Only the script carrying this response's nonce runs: the Content-Security-Policy allows
<code>'nonce-&hellip;' 'strict-dynamic'</code> and requires Trusted Types for DOM sinks.</li>
<li>This page carries a secret token, so it is never compressed (BREACH).</li>
</ul>
</section>
<script nonce="{nonce}">
document.documentElement.dataset.script = "ran";
document.getElementById("status").textContent = "Scripts are on.";
</script>
</body>
</html>
"""


def session_keys(env: Mapping[str, str], *, production: bool) -> KeyRing:
    """``DALOY_SESSION_KEYS`` (first signs, others verify), or a random per-process key.

    Without the variable every process gets its own random key, with a warning: sessions
    then end whenever the process does and do not carry across instances. In production
    the warning is louder, because that is almost certainly a missing setting.
    """
    configured = entries(env.get("DALOY_SESSION_KEYS"))
    if configured:
        with naming("DALOY_SESSION_KEYS"):
            return KeyRing(configured, min_bytes=MIN_KEY_BYTES)
    if production:
        print(
            "daloy_edge: WARNING: DALOY_SESSION_KEYS is not set in production; using a random "
            "per-process key: sessions will not survive restarts or span instances",
            file=sys.stderr,
        )
    else:
        print(
            "daloy_edge: DALOY_SESSION_KEYS is not set; using a random per-process key",
            file=sys.stderr,
        )
    return KeyRing([os.urandom(MIN_KEY_BYTES)])


def _webhook_secrets(env: Mapping[str, str]) -> KeyRing | None:
    configured = entries(env.get("DALOY_WEBHOOK_SECRETS"))
    if not configured:
        return None
    if any(len(s.encode()) < 16 for s in configured):
        # Providers choose webhook secrets; a short one is accepted, but said out loud.
        print("daloy_edge: WARNING: a webhook secret is under 16 bytes", file=sys.stderr)
    return KeyRing(configured)


def install(app: App, env: Mapping[str, str], *, nonce_store: NonceStore | None = None) -> None:
    """Add the browser routes and their app-wide middleware to ``app``.

    ``nonce_store`` is the replay store for webhooks (memory when None; pass the shared
    Upstash store when one is configured).
    """
    keys = session_keys(env, production=not app.debug)
    origins = tuple(entries(env.get("DALOY_CORS_ORIGINS")))
    with naming("DALOY_CORS_ORIGINS"):
        csrf = CSRFProtect(CSRFConfig(keys=keys, trusted_origins=origins, allow_origin_only=True))
        cors = CORS(
            CORSConfig(
                allow_origins=origins,
                allow_methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
                allow_headers=("content-type", "authorization", "x-csrf-token", "x-request-id"),
                # The bearer challenge too: a page on another origin tells an expired
                # token (refresh it) from a missing scope (do not) by its error.
                expose_headers=(
                    "x-request-id",
                    "retry-after",
                    "ratelimit",
                    "ratelimit-policy",
                    "www-authenticate",
                ),
                allow_credentials=True,
            )
        )
    app.use(SecureHeaders(), Compression(), cors, Sessions(SessionConfig(keys=keys)), csrf)
    _session_routes(app)
    _form_routes(app, csrf)
    _webhook_route(app, env, nonce_store)


def _signed_in_user(request: Request) -> str:
    user = get_session(request).get("user")
    if not isinstance(user, str):
        raise Unauthorized("no valid session", slug="no-session")
    return user


def _session_routes(app: App) -> None:
    @app.post("/session/login", max_body=1024)
    async def login(request: Request) -> Response:
        body = await request.json()
        user = body.get("user") if isinstance(body, dict) else None
        import re  # loaded by the first sign-in rather than by every cold start

        if not isinstance(user, str) or not re.fullmatch(USER, user):
            raise BadRequest("user must be 1-64 letters, digits or . _ @ -")
        session = get_session(request)
        session.clear()
        session.regenerate()
        session["user"] = user
        return Response.empty(204)

    @app.get("/session/me")
    async def me(request: Request) -> Response:
        return Response.json({"user": _signed_in_user(request)})

    @app.post("/session/logout", max_body=1024)
    async def logout(request: Request) -> Response:
        get_session(request).clear()
        return Response.empty(204)


def _form_routes(app: App, csrf: CSRFProtect) -> None:
    @app.get("/form")
    async def form_page(request: Request) -> Response:
        import html  # only this page escapes text into HTML

        user = _signed_in_user(request)
        page = FORM_PAGE.format(
            user=html.escape(user),
            token=html.escape(csrf_token(request)),
            nonce=html.escape(request.csp_nonce or ""),
        )
        return Response.html(page, headers={"cache-control": "no-store"})

    @app.post("/form", middleware=[csrf.token_required], max_body=16384)
    async def form_submit(request: Request) -> Response:
        _signed_in_user(request)
        return Response.json({"ok": True})


def _webhook_route(app: App, env: Mapping[str, str], store: NonceStore | None) -> None:
    ring = _webhook_secrets(env)
    if ring is None:

        @app.post("/webhooks/ingest")
        async def unconfigured(request: Request) -> Response:
            raise Unauthorized("invalid webhook signature", slug="webhook-signature")

        return
    verify = VerifyWebhook(
        WebhookConfig(
            secrets=ring,
            tolerance=WEBHOOK_TOLERANCE_S,
            store=store or MemoryNonceStore(),
            min_secret_bytes=1,
        )
    )

    @app.post("/webhooks/ingest", middleware=[verify])
    async def ingest(request: Request) -> Response:
        return Response.json({"received": True})
