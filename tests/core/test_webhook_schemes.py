from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from daloy_edge import KeyRing
from daloy_edge.signing import BadSignature
from daloy_edge.webhooks import verify_github, verify_standard, verify_timestamped

SECRET = "whsec-test-0123456789abcdef"
NOW = 1_700_000_000
BODY = b'{"event":"ping"}'


def timestamped(secret: str, t: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def test_timestamped_signature_verifies():
    result = verify_timestamped(timestamped(SECRET, NOW, BODY), BODY, KeyRing([SECRET]), now=NOW)
    assert result.timestamp == NOW


def test_timestamped_accepts_any_v1_while_rotating():
    good = timestamped(SECRET, NOW, BODY).split(",")[1]
    header = f"t={NOW},v1={'0' * 64},{good}"
    result = verify_timestamped(header, BODY, KeyRing([SECRET]), now=NOW)
    assert result.timestamp == NOW


def test_timestamped_old_secret_in_ring_verifies():
    header = timestamped("old-secret-0123456789", NOW, BODY)
    ring = KeyRing([SECRET, "old-secret-0123456789"])
    assert verify_timestamped(header, BODY, ring, now=NOW).timestamp == NOW


def test_timestamped_replay_key_ignores_which_signature_was_sent():
    ring = KeyRing([SECRET, "old-secret-0123456789"])
    one = verify_timestamped(timestamped(SECRET, NOW, BODY), BODY, ring, now=NOW)
    two = verify_timestamped(timestamped("old-secret-0123456789", NOW, BODY), BODY, ring, now=NOW)
    assert one.replay_key == two.replay_key


def github(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_github_signature_verifies():
    result = verify_github(github(SECRET, BODY), BODY, KeyRing([SECRET]))
    assert result.timestamp is None


def test_github_signature_over_other_body_is_refused():
    with pytest.raises(BadSignature):
        verify_github(github(SECRET, BODY), BODY + b" ", KeyRing([SECRET]))


def standard_headers(secret: bytes, msg_id: str, t: int, body: bytes) -> dict[str, str | None]:
    mac = hmac.new(secret, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(t),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def test_standard_webhook_with_whsec_secret_verifies():
    raw = b"0123456789abcdef0123456789abcdef"
    ring = KeyRing(["whsec_" + base64.b64encode(raw).decode()])
    headers = standard_headers(raw, "msg_1", NOW, BODY)
    assert verify_standard(headers, BODY, ring, now=NOW).replay_key.startswith("sw:")


def test_standard_whsec_prefix_alone_is_no_empty_key_anyone_can_sign_with():
    # "whsec_" decodes to no bytes: HMAC under the empty key, which every forger knows,
    # verified the delivery.
    headers = standard_headers(b"", "msg_1", NOW, BODY)
    with pytest.raises(BadSignature):
        verify_standard(headers, BODY, KeyRing(["whsec_"]), now=NOW)


def test_standard_webhook_with_stale_timestamp_is_refused():
    headers = standard_headers(SECRET.encode(), "msg_1", NOW - 301, BODY)
    with pytest.raises(BadSignature):
        verify_standard(headers, BODY, KeyRing([SECRET]), now=NOW)


def test_standard_webhook_without_id_is_refused():
    headers = standard_headers(SECRET.encode(), "msg_1", NOW, BODY)
    headers["webhook-id"] = None
    with pytest.raises(BadSignature):
        verify_standard(headers, BODY, KeyRing([SECRET]), now=NOW)


def test_timestamped_accepts_upper_case_hex():
    header = timestamped(SECRET, NOW, BODY)
    t, v1 = header.split(",")
    result = verify_timestamped(
        f"{t},{v1.upper().replace('V1=', 'v1=')}", BODY, KeyRing([SECRET]), now=NOW
    )
    assert result.timestamp == NOW
