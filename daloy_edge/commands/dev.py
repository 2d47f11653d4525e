"""``daloy-edge dev``: serve an app locally on embedded, development-only defaults.

Exit status: 0 when stopped, 1 when the server cannot start (the address is taken, the
target cannot be loaded), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from daloy_edge._errors import ConfigError
from daloy_edge.commands import _devhosts, _devkey

DEFAULT_TARGET = "examples.secure_app:asgi"

_RULE = "!" * 86
_BANNER = (
    "daloy-edge dev: DEVELOPMENT ONLY. Keys below are random and exist only in this",
    "process; stores are in memory; stack traces are shown. Never expose this server.",
)
# With DALOY_ENV=production (or empty) the app renders errors without exception details.
_BANNER_PRODUCTION = (
    _BANNER[0],
    "process; stores are in memory; DALOY_ENV=production: errors carry no stack trace.",
    "Never expose this server.",
)


def warning(*, debug: bool) -> str:
    """The start-up banner; it says stack traces are shown only when they are."""
    lines = _BANNER if debug else _BANNER_PRODUCTION
    return "\n".join(["", _RULE, *(f"!! {line:<80} !!" for line in lines), _RULE, ""])


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``dev`` command."""
    parser = sub.add_parser("dev", help="serve an app on 127.0.0.1 with dev-only defaults")
    parser.add_argument(
        "target",
        nargs="?",
        default=DEFAULT_TARGET,
        help=f"module:attribute of an ASGI callable (default: {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument("--port", type=_port, default=8000, help="port (default: %(default)s)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        type=_allow_host,
        metavar="NAME",
        help="also answer requests for this host name (.example.test: the domain and every"
        " name below it); IP addresses, localhost and *.localhost are always answered",
    )
    parser.set_defaults(run=run)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _allow_host(text: str) -> str:
    try:
        return _devhosts.allow_host_argument(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def dev_environment(environ: dict[str, str]) -> list[str]:
    """Fill in ephemeral development settings; returns the names that were generated."""
    generated: list[str] = []
    environ.setdefault("DALOY_ENV", "development")
    if not environ.get("DALOY_SESSION_KEYS"):
        environ["DALOY_SESSION_KEYS"] = secrets.token_urlsafe(48)
        generated.append("DALOY_SESSION_KEYS")
    return generated


def load_target(target: str) -> object:
    """Import ``module:attribute``, which must be an ASGI callable."""
    module_name, _, attr = target.partition(":")
    if not all(part.isidentifier() for part in module_name.split(".")):
        # import_module raises ValueError or TypeError for "" and ".app": not a load failure.
        raise ImportError(f"{module_name!r} is not a module name (expected module:attribute)")
    module = importlib.import_module(module_name)
    try:
        obj = getattr(module, attr or "asgi")
    except AttributeError:
        raise AttributeError(f"module {module_name} has no {attr or 'asgi'!r}") from None
    from daloy_edge import App

    if isinstance(obj, App):
        raise SystemExit(
            f"{target} is an App; point at its ASGI callable instead "
            "(asgi = daloy_edge_asgi.ASGIApp(app))"
        )
    return obj


DEV_JWKS_PATH = "/.well-known/dev-jwks.json"


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve_dev_jwks(app: Any, jwks_path: Path) -> Any:
    """Wrap an ASGI app so ``GET /.well-known/dev-jwks.json`` returns the dev public keys."""
    body = jwks_path.read_bytes()
    headers = [(b"content-type", b"application/jwk-set+json"), (b"cache-control", b"no-store")]

    async def with_jwks(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == DEV_JWKS_PATH:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return with_jwks


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (``localhost``, 127.0.0.0/8, ``::1``);
    ``0.0.0.0`` and ``::`` listen on every interface."""
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, taken before anything else so a busy port fails first."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run(args: argparse.Namespace) -> int:
    """Start uvicorn on the chosen app."""
    if importlib.util.find_spec("uvicorn") is None:
        print("daloy-edge dev needs uvicorn: pip install uvicorn", file=sys.stderr)
        return 2
    try:
        sock = listen_socket(args.host, args.port)
    except OSError as exc:
        print(f"daloy-edge dev: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit
    # lets the dev key be deleted below instead of the process dying with it on disk.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with sock:
        return _serve(args, sock)


def _serve(args: argparse.Namespace, sock: socket.socket) -> int:
    generated = dev_environment(os.environ)  # type: ignore[arg-type]
    state = _devkey.state_dir(os.environ)
    # An app without bearer tokens is served without the jwt extra; `token` says what to add.
    signing = _devkey.can_sign()
    try:
        if signing:
            generated += _devkey.prepare_dev_identity(os.environ)
    except OSError as exc:
        print(f"daloy-edge dev: cannot create the dev key in {state}: {exc}", file=sys.stderr)
        return 1
    kid = _devkey.key_id(state) if "DALOY_JWKS_FILE" in generated else None
    debug = os.environ.get("DALOY_ENV") == "development"
    print(warning(debug=debug), file=sys.stderr)
    if not is_loopback(args.host):
        traces = "stack traces and " if debug else ""
        print(
            f"!! listening on {args.host}, not on this machine alone: anyone who can reach it"
            f" sees {traces}the dev keys' public half. Use --host 127.0.0.1.",
            file=sys.stderr,
        )
    for name in generated:
        print(f"   generated ephemeral {name} (development only)", file=sys.stderr)
    if not signing:
        print(f"   no dev signing key: {_devkey.NEEDS_JWT}", file=sys.stderr)
    try:
        return _start(args, sock, jwks_made="DALOY_JWKS_FILE" in generated)
    finally:
        if kid is not None:
            _devkey.remove_dev_key(state, kid)


def _allowed_hosts(args: argparse.Namespace) -> _devhosts.HostAllowList:
    """The host names served: ``--allow-host`` and the name ``--host`` listens on."""
    names = list(args.allow_host)
    if not is_loopback(args.host) and not _devhosts.is_ip(args.host):
        names.append(args.host.lower())  # a name to listen on is one to be reached by
    print(
        "   answers Host: localhost, *.localhost, IP addresses"
        + "".join(f", {name}" for name in names)
        + "; any other name could be a web page rebinding its DNS here (421);"
        "\n   serve one with --allow-host NAME",
        file=sys.stderr,
    )
    return _devhosts.HostAllowList(names)


def _start(args: argparse.Namespace, sock: socket.socket, *, jwks_made: bool) -> int:
    import uvicorn

    sys.path.insert(0, os.getcwd())
    try:
        app: Any = load_target(args.target)
    except (ImportError, AttributeError, SyntaxError, ConfigError) as exc:
        print(f"daloy-edge dev: cannot load {args.target}: {exc}", file=sys.stderr)
        return 1
    if jwks_made:
        app = serve_dev_jwks(app, Path(os.environ["DALOY_JWKS_FILE"]))
        print(
            f"   dev JWKS at http://{args.host}:{args.port}{DEV_JWKS_PATH}; mint tokens with\n"
            '   daloy-edge token --sub alice --scope "reports:read"',
            file=sys.stderr,
        )
    app = _devhosts.guard_hosts(app, _allowed_hosts(args))
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from
    # 127.0.0.1 on its own; only the app's trusted-proxy setting may decide that.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit:
        # uvicorn ends a failed start-up (an app that refuses its configuration) with its
        # own status 3; this command's is 1 for a server that cannot start.
        return 1
    return 0 if server.started else 1
