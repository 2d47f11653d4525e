"""``daloy-edge dev``: serve an app locally on embedded, development-only defaults."""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import sys

DEFAULT_TARGET = "examples.secure_app:asgi"

WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! daloy-edge dev: DEVELOPMENT ONLY. Keys below are random and exist only in this   !!
!! process; stores are in memory; stack traces are shown. Never expose this server. !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``dev`` command."""
    parser = sub.add_parser("dev", help="serve an app on 127.0.0.1 with dev-only defaults")
    parser.add_argument("target", nargs="?", default=DEFAULT_TARGET, help="module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(run=run)


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
    module = importlib.import_module(module_name)
    obj = getattr(module, attr or "asgi")
    from daloy_edge import App

    if isinstance(obj, App):
        raise SystemExit(
            f"{target} is an App; point at its ASGI callable instead "
            "(asgi = daloy_edge_asgi.ASGIApp(app))"
        )
    return obj


def run(args: argparse.Namespace) -> int:
    """Start uvicorn on the chosen app."""
    try:
        import uvicorn
    except ImportError:
        print("daloy-edge dev needs uvicorn: pip install uvicorn", file=sys.stderr)
        return 2
    generated = dev_environment(os.environ)  # type: ignore[arg-type]
    print(WARNING, file=sys.stderr)
    for name in generated:
        print(f"   generated ephemeral {name} (development only)", file=sys.stderr)
    sys.path.insert(0, os.getcwd())
    app = load_target(args.target)
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host=args.host,
        port=args.port,
        log_level="warning",
        server_header=False,
    )
    return 0
