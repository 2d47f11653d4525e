"""Webhook signature schemes, verified over the raw body before anything parses it.

Pure: header strings, body bytes, secrets and an explicit ``now`` in; a
:class:`VerifiedWebhook` (with the key to remember for replay refusal) or
:class:`~daloy_edge.signing.BadSignature` out. Three schemes:

- ``timestamped``: ``X-Signature: t=<unix>,v1=<hex>``, HMAC-SHA256 of ``"<t>.<body>"``
  (several ``v1`` entries allowed while a secret rotates);
- ``github``: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the body (GitHub
  signs no timestamp, so only the replay store, keyed by the body's digest, bounds a
  replay);
- ``standard``: Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64> ...``), HMAC-SHA256 of ``"<id>.<timestamp>.<body>"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from typing import Literal, TypeAlias

from daloy_edge._record import record
from daloy_edge._secrets import KeyRing
from daloy_edge.signing import BadSignature, check_age

__all__ = [
    "Scheme",
    "VerifiedWebhook",
    "verify_github",
    "verify_standard",
    "verify_timestamped",
    "verify_webhook",
]

Scheme: TypeAlias = Literal["timestamped", "github", "standard"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")
_WEBHOOK_ID = re.compile(r"^[!-~]{1,256}$")
_MAX_HEADER = 4096
_MAX_CANDIDATES = 8


@record(frozen=True)
class VerifiedWebhook:
    """An authentic delivery: its timestamp (None for GitHub) and its replay key."""

    timestamp: int | None
    replay_key: str


def _hmac(secret: bytes, *parts: bytes) -> bytes:
    h = hmac.new(secret, None, hashlib.sha256)
    for part in parts:
        h.update(part)
    return h.digest()


def _any_matches(candidates: list[bytes], secrets: list[bytes], *parts: bytes) -> bool:
    matched = False
    for secret in secrets:
        expected = _hmac(secret, *parts)
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def _digest_key(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class _OutsideTolerance(BadSignature):
    """A timestamp outside the tolerance. Caught as :class:`BadSignature`, it is the one
    error every failure raises; the middleware tells it apart in the log alone, where a
    sender's (or this instance's) clock gone wrong showed as a wrong signature."""


def _timestamp(text: str, now: float, tolerance: float) -> int:
    if not _DIGITS.match(text):
        raise BadSignature()
    stamp = int(text)
    # Whole seconds on both sides, as the stamp is written: measured from the fractional
    # now, a stamp exactly ``tolerance`` old was refused for all but the first instant of
    # its second while one as far ahead was accepted (Standard Webhooks compares alike).
    try:
        check_age(stamp, now=now // 1, max_age=tolerance, skew=tolerance)
    except BadSignature:
        raise _OutsideTolerance() from None
    return stamp


def verify_timestamped(
    header: str | None, body: bytes, secrets: KeyRing, *, now: float, tolerance: float = 300
) -> VerifiedWebhook:
    """Verify ``t=<unix>,v1=<hex>``; the timestamp must be within ``tolerance`` both ways."""
    if header is None or len(header) > _MAX_HEADER:
        raise BadSignature()
    stamp_text: str | None = None
    candidates: list[bytes] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise BadSignature()
        if name == "t":
            if stamp_text is not None:
                raise BadSignature()
            stamp_text = value
        elif name == "v1" and _HEX64.match(value.lower()) and len(candidates) < _MAX_CANDIDATES:
            candidates.append(bytes.fromhex(value))
    if stamp_text is None or not candidates:
        raise BadSignature()
    stamp = _timestamp(stamp_text, now, tolerance)
    keys = [s.reveal() for s in secrets]
    if not _any_matches(candidates, keys, stamp_text.encode("ascii"), b".", body):
        raise BadSignature()
    return VerifiedWebhook(stamp, "t:" + _digest_key(stamp_text.encode("ascii"), body))


def verify_github(header: str | None, body: bytes, secrets: KeyRing) -> VerifiedWebhook:
    """Verify ``X-Hub-Signature-256: sha256=<hex>`` (HMAC-SHA256 of the raw body).

    Security: the replay key is the body's digest, the only thing GitHub signs; the
    ``X-GitHub-Delivery`` id is unsigned, so a replay could carry any id it likes.
    """
    if header is None or not header.startswith("sha256="):
        raise BadSignature()
    value = header.removeprefix("sha256=").strip().lower()
    if not _HEX64.match(value):
        raise BadSignature()
    if not _any_matches([bytes.fromhex(value)], [s.reveal() for s in secrets], body):
        raise BadSignature()
    return VerifiedWebhook(None, "gh:" + _digest_key(body))


def _standard_secret(secret: bytes) -> bytes:
    # Standard Webhooks secrets are "whsec_" plus base64; raw secrets are used as they are.
    if secret.startswith(b"whsec_"):
        try:
            return base64.b64decode(secret[6:], validate=True)
        except (binascii.Error, ValueError):
            return secret
    return secret


def verify_standard(
    headers: Mapping[str, str | None],
    body: bytes,
    secrets: KeyRing,
    *,
    now: float,
    tolerance: float = 300,
) -> VerifiedWebhook:
    """Verify Standard Webhooks headers (``webhook-id``, ``-timestamp``, ``-signature``)."""
    msg_id = headers.get("webhook-id")
    stamp_text = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if msg_id is None or stamp_text is None or signature is None:
        raise BadSignature()
    if not _WEBHOOK_ID.match(msg_id) or len(signature) > _MAX_HEADER:
        raise BadSignature()
    stamp = _timestamp(stamp_text, now, tolerance)
    candidates: list[bytes] = []
    for item in signature.split(" ")[:_MAX_CANDIDATES]:
        version, sep, value = item.partition(",")
        if version != "v1" or not sep:
            continue
        try:
            candidates.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not candidates:
        raise BadSignature()
    # "whsec_" alone decodes to no key at all, under which anyone can sign.
    keys = [key for key in (_standard_secret(s.reveal()) for s in secrets) if key]
    signed = (msg_id.encode("ascii"), b".", stamp_text.encode("ascii"), b".", body)
    if not _any_matches(candidates, keys, *signed):
        raise BadSignature()
    return VerifiedWebhook(stamp, "sw:" + _digest_key(msg_id.encode("ascii")))


def verify_webhook(
    scheme: Scheme,
    header: Callable[[str], str | None],
    body: bytes,
    secrets: KeyRing,
    *,
    now: float,
    tolerance: float = 300,
) -> VerifiedWebhook:
    """Verify a delivery of ``scheme``; ``header(name)`` looks a request header up."""
    if scheme == "timestamped":
        return verify_timestamped(
            header("x-signature"), body, secrets, now=now, tolerance=tolerance
        )
    if scheme == "github":
        return verify_github(header("x-hub-signature-256"), body, secrets)
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    return verify_standard(
        {n: header(n) for n in names}, body, secrets, now=now, tolerance=tolerance
    )
