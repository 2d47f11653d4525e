"""``daloy-edge token``: mint a bearer token for the running ``daloy-edge dev`` server.

DEVELOPMENT ONLY: it signs with the ephemeral key ``daloy-edge dev`` created, which no
other server trusts.
"""

from __future__ import annotations

import argparse
import os
import sys

from daloy_edge.commands import _devkey


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``token`` command."""
    parser = sub.add_parser(
        "token", help="mint a bearer token for `daloy-edge dev` (development only)"
    )
    parser.add_argument("--sub", required=True, help="subject (user id)")
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help='space-separated scopes, e.g. "reports:read reports:write" (repeatable)',
    )
    parser.add_argument("--ttl", type=int, default=900, help="lifetime in seconds (default 900)")
    parser.add_argument("--state-dir", default=None, help="dev state directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print a token signed by the dev key."""
    if not _devkey.can_sign():
        print(f"daloy-edge token: {_devkey.NEEDS_JWT}", file=sys.stderr)
        return 1
    environ = dict(os.environ)
    if args.state_dir:
        environ["DALOY_DEV_STATE_DIR"] = args.state_dir
    try:
        state = _devkey.load_dev_key(_devkey.state_dir(environ))
        scopes = [scope for value in args.scope for scope in value.split() if scope]
        token = _devkey.mint_dev_token(state, subject=args.sub, scopes=scopes, ttl_s=args.ttl)
    except (_devkey.DevKeyMissing, ValueError) as exc:
        print(f"daloy-edge token: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0
