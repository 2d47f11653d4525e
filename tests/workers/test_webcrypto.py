"""WebCrypto (in Pyodide) and CPython (PyJWT over cryptography) judge every JWS alike."""

from __future__ import annotations

import json

import pytest

from tests.support.workers import PyodideHarness
from tests.workers.jws_corpus import CASE_IDS, Case, build_corpus

pytestmark = pytest.mark.slow

VERIFY_ALL = """
import base64, json
from daloy_edge import Secret
from daloy_edge_cloudflare import InvalidKey, WebCryptoBackend

class Key:
    def __init__(self, jwk):
        self.params = {k: v for k, v in jwk.items() if k != "k"}
        self.secret = Secret(base64.urlsafe_b64decode(jwk["k"] + "==")) if "k" in jwk else None

def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

async def main():
    backend = WebCryptoBackend()
    verdicts = {}
    for case in json.loads(CORPUS):
        try:
            prepared = await backend.import_key(Key(case["jwk"]), case["alg"])
        except InvalidKey:
            verdicts[case["id"]] = False
            continue
        verdicts[case["id"]] = await backend.verify(
            case["alg"], prepared, case["signing_input"].encode(), unb64(case["signature"])
        )
    return verdicts
"""


@pytest.fixture(scope="module")
def corpus() -> dict[str, Case]:
    return {case.case_id: case for case in build_corpus()}


@pytest.fixture(scope="module")
def webcrypto_verdicts(workers_harness: PyodideHarness, corpus: dict[str, Case]) -> dict[str, bool]:
    document = json.dumps([case.as_json() for case in corpus.values()])
    return workers_harness.run(f"CORPUS = {document!r}\n{VERIFY_ALL}")  # type: ignore[no-any-return]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_webcrypto_agrees_with_cpython(
    case_id: str, corpus: dict[str, Case], webcrypto_verdicts: dict[str, bool]
) -> None:
    assert webcrypto_verdicts[case_id] is corpus[case_id].cpython_verdict


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if c.endswith("-valid")])
def test_valid_signature_is_accepted(case_id: str, webcrypto_verdicts: dict[str, bool]) -> None:
    assert webcrypto_verdicts[case_id] is True


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if not c.endswith(("-valid", "-high-s"))])
def test_forged_signature_is_refused(case_id: str, webcrypto_verdicts: dict[str, bool]) -> None:
    assert webcrypto_verdicts[case_id] is False


def test_key_of_another_type_is_refused_at_import(
    workers_harness: PyodideHarness, corpus: dict[str, Case]
) -> None:
    jwk = corpus["ES256-valid"].jwk
    result = workers_harness.run(
        f"""
from daloy_edge_cloudflare import InvalidKey, WebCryptoBackend

class Key:
    params = {jwk!r}
    secret = None

async def main():
    refused = []
    for alg in ("RS256", "PS256", "ES384", "EdDSA", "HS256"):
        try:
            await WebCryptoBackend().import_key(Key(), alg)
        except InvalidKey:
            refused.append(alg)
    return refused
"""
    )
    assert result == ["RS256", "PS256", "ES384", "EdDSA", "HS256"]


def test_imported_keys_are_cached_per_isolate(
    workers_harness: PyodideHarness, corpus: dict[str, Case]
) -> None:
    jwk = corpus["RS256-valid"].jwk
    result = workers_harness.run(
        f"""
from daloy_edge_cloudflare import WebCryptoBackend

class Key:
    def __init__(self):
        self.params = dict({jwk!r}, kid="rotated-{{}}".format(id(self)))
        self.secret = None

async def main():
    first = await WebCryptoBackend().import_key(Key(), "RS256")
    again = await WebCryptoBackend().import_key(Key(), "RS256")
    other_alg = await WebCryptoBackend().import_key(Key(), "RS384")
    return [first is again, first is other_alg]
"""
    )
    assert result == [True, False]


def test_private_members_never_reach_importkey(
    workers_harness: PyodideHarness, corpus: dict[str, Case]
) -> None:
    jwk = dict(corpus["EdDSA-valid"].jwk, d="A" * 43, alg="RS256", use="enc")
    result = workers_harness.run(
        f"""
from daloy_edge_cloudflare import WebCryptoBackend

class Key:
    params = {jwk!r}
    secret = None

async def main():
    key = await WebCryptoBackend().import_key(Key(), "EdDSA")
    return [key.type, key.algorithm.name, list(key.usages)]
"""
    )
    assert result == ["public", "Ed25519", ["verify"]]


CANCELLED_VERIFY = """
import asyncio

from js import Object, crypto
from pyodide.ffi import to_js

from daloy_edge_cloudflare import WebCryptoBackend


class Key:
    def __init__(self, jwk):
        self.params = jwk
        self.secret = None


async def main():
    spec = {"name": "RSASSA-PKCS1-v1_5", "modulusLength": 2048,
            "publicExponent": to_js(bytes([1, 0, 1])), "hash": "SHA-256"}
    pair = await crypto.subtle.generateKey(
        to_js(spec, dict_converter=Object.fromEntries), True, to_js(["sign", "verify"])
    )
    jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)).to_py()
    backend = WebCryptoBackend()
    key = await backend.import_key(Key({m: jwk[m] for m in ("kty", "n", "e")}), "RS256")
    waiting = asyncio.ensure_future(backend.verify("RS256", key, b"x" * 100_000, bytes(256)))
    await asyncio.sleep(0)  # awaiting crypto.subtle.verify now
    waiting.cancel()
    await asyncio.sleep(0.5)  # the verification settles meanwhile
    return waiting.cancelled()
"""


def test_a_verification_its_request_gave_up_on_settles_later_with_nothing_uncaught(
    workers_harness: PyodideHarness,
) -> None:
    # The request deadline cancels the JWT check it interrupts; WebCrypto still answers
    # later. Pyodide 0.26.0a (Workers with the bare python_workers flag) then set the
    # cancelled future's result and raised InvalidStateError in the promise's reaction.
    assert workers_harness.run(CANCELLED_VERIFY) is True
    assert workers_harness.run("async def main():\n    return 1") == 1
