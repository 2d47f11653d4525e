"""DEVELOPMENT ONLY: the throw-away signing key shared by ``daloy-edge dev`` and ``token``.

``daloy-edge dev`` creates a fresh P-256 key at start-up in a private state directory
(``./.daloy-edge-dev`` or ``$DALOY_DEV_STATE_DIR``: made with mode 0700, or an existing
one only this user can write to; files 0600), points the app at its public JWKS through
``DALOY_JWKS_FILE`` and deletes the private key when it stops. ``daloy-edge token`` reads
the same directory to mint tokens the running dev server accepts. Nothing here is
imported by the app or any production code path.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from daloy_edge._extras import install_hint

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "NEEDS_JWT",
    "DevKeyMissing",
    "can_sign",
    "create_dev_key",
    "key_id",
    "load_dev_key",
    "mint_dev_token",
    "prepare_dev_identity",
    "remove_dev_key",
    "state_dir",
]

WARNING = "DEVELOPMENT ONLY: ephemeral key of `daloy-edge dev`; never use it anywhere else."
DEV_ISSUER = "urn:daloy-edge:dev"
DEV_AUDIENCE = "daloy-edge-dev"
KEY_FILE = "dev-signing-key.json"
JWKS_FILE = "dev-jwks.json"
MAX_TTL_S = 24 * 3600


NEEDS_JWT = f"dev bearer tokens need the 'jwt' extra: {install_hint('jwt')}"


class DevKeyMissing(Exception):
    """No usable dev key: ``daloy-edge dev`` is not running from this directory."""


def can_sign() -> bool:
    """Whether PyJWT and ``cryptography`` (the ``jwt`` extra) are there to make and use a key."""
    from importlib.util import find_spec

    return find_spec("jwt") is not None and find_spec("cryptography") is not None


def state_dir(environ: MutableMapping[str, str]) -> Path:
    """Where the dev key lives: ``$DALOY_DEV_STATE_DIR`` or ``./.daloy-edge-dev``."""
    return Path(environ.get("DALOY_DEV_STATE_DIR") or Path.cwd() / ".daloy-edge-dev")


def _write_private(path: Path, data: bytes) -> None:
    # A new file, renamed over the old one: written into a file left from a copy or a
    # restore (0644), the key was readable through any descriptor opened on it before,
    # whatever mode it was given afterwards. O_EXCL: the mode applies to new files only.
    spare = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(spare, path)
    except BaseException:
        spare.unlink(missing_ok=True)
        raise


def _private_directory(directory: Path) -> None:
    """Create ``directory`` for this user alone, or accept an existing one nobody else can
    write to: whoever can replace the public JWKS in it mints tokens the dev server accepts.

    An existing directory keeps its mode: it may be one the user shares on purpose.
    """
    try:
        directory.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        info = directory.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(f"{directory} is not a directory") from None
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(
                "other users can write to it and replace the dev server's public key: "
                "point DALOY_DEV_STATE_DIR at a directory only you can write to"
            ) from None
        return
    directory.chmod(0o700)  # whatever the umask


def create_dev_key(directory: Path, *, issuer: str, audience: str) -> Path:
    """Generate a new key in ``directory``; returns the path of the public JWKS file."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    _private_directory(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    kid = "dev-" + secrets.token_hex(8)
    private = ECAlgorithm.to_jwk(key, as_dict=True)
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    for jwk in (private, public):
        jwk.update(kid=kid, alg="ES256", use="sig")
    state = {"warning": WARNING, "issuer": issuer, "audience": audience, "jwk": private}
    _write_private(directory / KEY_FILE, json.dumps(state, indent=2).encode())
    jwks_path = directory / JWKS_FILE
    _write_private(jwks_path, json.dumps({"keys": [public]}).encode())
    return jwks_path


def load_dev_key(directory: Path) -> dict[str, Any]:
    """The dev key state; :class:`DevKeyMissing` when ``daloy-edge dev`` made no usable one."""
    path = directory / KEY_FILE
    try:
        state = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DevKeyMissing(f"no dev key in {directory}: start `daloy-edge dev` first") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DevKeyMissing(f"cannot read the dev key {path}: {reason}") from None
    if not _is_key_state(state):
        raise DevKeyMissing(f"{path} is not a dev key: restart `daloy-edge dev` to make one")
    return dict(state)


def _is_key_state(state: object) -> bool:
    if not isinstance(state, dict):
        return False
    jwk = state.get("jwk")
    fields = (state.get("issuer"), state.get("audience"), isinstance(jwk, dict) and jwk.get("kid"))
    return all(isinstance(value, str) and value for value in fields)


def key_id(directory: Path) -> str | None:
    """The ``kid`` of the dev key in ``directory``; None without a readable one."""
    try:
        return str(load_dev_key(directory)["jwk"]["kid"])
    except DevKeyMissing:
        return None


def remove_dev_key(directory: Path, kid: str) -> None:
    """Delete the private key ``kid`` (the public JWKS goes with it).

    A key another ``daloy-edge dev`` has since made in the same directory stays.
    """
    if key_id(directory) != kid:
        return
    for name in (KEY_FILE, JWKS_FILE):
        (directory / name).unlink(missing_ok=True)


def mint_dev_token(
    state: dict[str, Any], *, subject: str, scopes: list[str], ttl_s: int, now: float | None = None
) -> str:
    """A token signed with the dev key, accepted only by the dev server that made it."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm
    from jwt.exceptions import InvalidKeyError

    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL_S} seconds")
    if not subject:
        raise ValueError("the subject must not be empty: the dev server refuses such a token")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": state["issuer"],
        "aud": state["audience"],
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": secrets.token_hex(8),
    }
    try:
        key = ECAlgorithm.from_jwk(state["jwk"])
    except (InvalidKeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the dev key file holds no usable key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the dev key file holds no private key")
    headers = {"kid": state["jwk"]["kid"], "typ": "JWT"}
    return jwt.encode(claims, key, algorithm="ES256", headers=headers)


def prepare_dev_identity(environ: MutableMapping[str, str]) -> list[str]:
    """Create the dev key unless a JWKS is configured; returns the variables it set."""
    if environ.get("DALOY_JWKS_URL") or environ.get("DALOY_JWKS_FILE"):
        return []
    generated = ["DALOY_JWKS_FILE"]
    for name, value in (("DALOY_JWT_ISSUER", DEV_ISSUER), ("DALOY_JWT_AUDIENCE", DEV_AUDIENCE)):
        if not environ.get(name):
            environ[name] = value
            generated.append(name)
    jwks_path = create_dev_key(
        state_dir(environ),
        issuer=environ["DALOY_JWT_ISSUER"],
        audience=environ["DALOY_JWT_AUDIENCE"],
    )
    environ["DALOY_JWKS_FILE"] = str(jwks_path)
    return generated
