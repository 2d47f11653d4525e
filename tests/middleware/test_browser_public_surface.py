from __future__ import annotations

import importlib

import pytest

SURFACE = {
    "daloy_edge.signing": [
        "MIN_KEY_BYTES",
        "BadSignature",
        "Signer",
        "Verified",
        "b64decode",
        "b64encode",
    ],
    "daloy_edge.webhooks": [
        "Scheme",
        "VerifiedWebhook",
        "verify_github",
        "verify_standard",
        "verify_timestamped",
        "verify_webhook",
    ],
    "daloy_edge.nonce_store": ["MemoryNonceStore"],
    "daloy_edge.middleware.sessions": [
        "Session",
        "SessionConfig",
        "SessionTooLarge",
        "Sessions",
        "get_session",
    ],
    "daloy_edge.middleware.csrf": ["CSRF_TOKEN_ISSUED", "CSRFConfig", "CSRFProtect", "csrf_token"],
    "daloy_edge.middleware.webhooks": ["WEBHOOK_STATE", "VerifyWebhook", "WebhookConfig"],
    "daloy_edge.middleware.secure_headers": ["SecureHeaders", "SecureHeadersConfig"],
    "daloy_edge.middleware.cors": ["CORS", "CORSConfig"],
    "daloy_edge.middleware.compression": [
        "Compression",
        "CompressionConfig",
        "brotli_available",
        "choose_encoding",
    ],
}


@pytest.mark.parametrize("module", sorted(SURFACE))
def test_public_names_are_pinned(module):
    assert sorted(importlib.import_module(module).__all__) == sorted(SURFACE[module])


def test_importing_the_core_loads_no_middleware():
    import subprocess
    import sys

    code = "import sys, daloy_edge; print([m for m in sys.modules if 'middleware' in m])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
