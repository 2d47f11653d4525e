"""Attacks on bearer JWTs, each through the JWT middleware of a real app.

Every refused token must get 401 with ``WWW-Authenticate: Bearer error="invalid_token"``
and must never reach the handler.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from daloy_edge import App, Request
from daloy_edge.jose import JWKSet
from daloy_edge.middleware.jwt import JWTAuth, JWTConfig
from daloy_edge.testing import TestClient
from tests.jwtkit import (
    AUDIENCE,
    ISSUER,
    NOW,
    assemble,
    b64,
    claims,
    ec_key,
    ed_key,
    jwks,
    mint,
    public_jwk,
    raw_signature,
    rsa_key,
    sign_raw,
)

REFUSED = 'Bearer error="invalid_token"'
ALGORITHMS = ("RS256", "PS256", "ES256", "ES384", "EdDSA")


def key_set() -> JWKSet:
    return JWKSet.parse(
        jwks(
            public_jwk(rsa_key(), "rsa-1", alg="RS256", use="sig"),
            public_jwk(ec_key(), "ec-256"),
            public_jwk(ec_key("ec-384", "P-384"), "ec-384"),
            public_jwk(ed_key(), "ed-1"),
            public_jwk(ec_key("enc", "P-256"), "enc-1", use="enc"),
            public_jwk(ec_key("ops", "P-256"), "ops-1", key_ops=["encrypt"]),
            public_jwk(rsa_key("small", 1024), "rsa-small"),
            # The identity point of edwards25519 as a public key: a placeholder of zeros.
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-identity", "x": b64(b"\x01" + bytes(31))},
        )
    )


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = App()
    reached: list[str] = []
    app.state_reached = reached  # type: ignore[attr-defined]
    config = JWTConfig(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=ALGORITHMS,
        keys=key_set(),
        clock=lambda: NOW,
        max_lifetime_s=3600,
        max_token_bytes=4096,
    )

    @app.get("/me", middleware=[JWTAuth(config)])
    async def me(request: Request) -> dict[str, object]:
        reached.append("me")
        return {"sub": request.principal.subject}  # type: ignore[union-attr]

    return TestClient(app)


def send(client: TestClient, token: str) -> object:
    return client.get("/me", headers={"authorization": f"Bearer {token}"})


def assert_refused(client: TestClient, token: str) -> None:
    before = len(client.app.state_reached)  # type: ignore[attr-defined]
    response = send(client, token)
    assert response.status == 401
    assert response.headers["www-authenticate"] == REFUSED
    assert response.headers["content-type"] == "application/problem+json"
    assert len(client.app.state_reached) == before  # type: ignore[attr-defined]


def rs256(body: dict | None = None, **headers: object) -> str:
    return mint(rsa_key(), "RS256", "rsa-1", body, **headers)


# --- sanity: the fixture accepts good tokens, so refusals below mean something -----------


def test_valid_rs256_token_is_accepted(client):
    response = send(client, rs256())
    assert response.status == 200
    assert response.json() == {"sub": "alice"}


def test_valid_es256_eddsa_and_es384_tokens_are_accepted(client):
    for token in (
        mint(ec_key(), "ES256", "ec-256"),
        mint(ed_key(), "EdDSA", "ed-1"),
        mint(ec_key("ec-384", "P-384"), "ES384", "ec-384"),
    ):
        assert send(client, token).status == 200


# --- alg none ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_refuses_alg_none_in_any_casing(client, alg):
    header = {"alg": alg, "kid": "rsa-1", "typ": "JWT"}
    assert_refused(client, assemble(header, claims(), b"x"))


def test_refuses_unsigned_token_with_trailing_dot(client):
    header = b64(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    assert_refused(client, f"{header}.{b64(json.dumps(claims()).encode())}.")


def test_refuses_rs256_header_with_empty_signature(client):
    token = rs256()
    assert_refused(client, token.rsplit(".", 1)[0] + ".")


# --- key confusion and algorithm/key mismatch ------------------------------------------------


def test_refuses_hs256_signed_with_rsa_public_key_pem(client):
    pem = (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = sign_raw({"alg": "HS256", "kid": "rsa-1"}, json.dumps(claims()), pem, "HS256")
    assert_refused(client, token)


def test_refuses_hs256_signed_with_rsa_public_key_der(client):
    der = (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = sign_raw({"alg": "HS256", "kid": "rsa-1"}, json.dumps(claims()), der, "HS256")
    assert_refused(client, token)


def test_refuses_hs256_signed_with_the_jwk_json_as_secret(client):
    secret = json.dumps(public_jwk(rsa_key(), "rsa-1")).encode()
    token = sign_raw({"alg": "HS256", "kid": "rsa-1"}, json.dumps(claims()), secret, "HS256")
    assert_refused(client, token)


def test_refuses_es256_token_naming_an_rsa_kid(client):
    token = mint(ec_key(), "ES256", "rsa-1")
    assert_refused(client, token)


def test_refuses_ps256_when_the_key_pins_rs256(client):
    assert_refused(client, mint(rsa_key(), "PS256", "rsa-1"))


def test_refuses_es384_header_on_a_p256_key(client):
    message_key = ec_key()
    token = sign_raw({"alg": "ES384", "kid": "ec-256"}, json.dumps(claims()), message_key, "ES256")
    assert_refused(client, token)


def test_refuses_rs256_header_on_an_ed25519_key(client):
    assert_refused(client, mint(rsa_key(), "RS256", "ed-1"))


def test_refuses_algorithm_outside_the_allow_list(client):
    assert_refused(client, mint(rsa_key(), "RS512", "rsa-1"))


def test_refuses_an_algorithm_outside_the_allow_list_on_a_key_that_could_verify_it():
    # The key names no alg, so only the allow-list stands between an RS256-only
    # configuration and a token the same key signed with RS512 (or PS256).
    app = App()
    config = JWTConfig(
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=("RS256",),
        keys=JWKSet.parse(jwks(public_jwk(rsa_key(), "rsa-1"))),
        clock=lambda: NOW,
    )

    @app.get("/me", middleware=[JWTAuth(config)])
    async def me(request: Request) -> dict[str, object]:
        return {"sub": request.principal.subject}  # type: ignore[union-attr]

    only_rs256 = TestClient(app)
    assert send(only_rs256, rs256()).status == 200
    for alg in ("RS512", "PS256"):
        response = send(only_rs256, mint(rsa_key(), alg, "rsa-1"))
        assert (response.status, response.headers["www-authenticate"]) == (401, REFUSED)


# --- kid attacks ---------------------------------------------------------------------------


def test_refuses_unknown_kid(client):
    assert_refused(client, mint(rsa_key(), "RS256", "rsa-2"))


def test_refuses_path_traversal_kid(client):
    assert_refused(client, mint(rsa_key(), "RS256", "../../../../../../dev/null"))


def test_refuses_sql_injection_kid(client):
    assert_refused(client, mint(rsa_key(), "RS256", "' OR '1'='1"))


def test_refuses_kid_with_control_characters(client):
    assert_refused(client, mint(rsa_key(), "RS256", "rsa-1\x00"))


def test_refuses_missing_kid(client):
    assert_refused(client, mint(rsa_key(), "RS256", None))


def test_refuses_non_string_kid(client):
    token = sign_raw({"alg": "RS256", "kid": 1}, json.dumps(claims()), rsa_key(), "RS256")
    assert_refused(client, token)


def test_refuses_key_published_for_encryption(client):
    assert_refused(client, mint(ec_key("enc", "P-256"), "ES256", "enc-1"))


def test_refuses_key_whose_key_ops_exclude_verify(client):
    assert_refused(client, mint(ec_key("ops", "P-256"), "ES256", "ops-1"))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_refuses_token_signed_by_a_1024_bit_rsa_key(client):
    assert_refused(client, mint(rsa_key("small", 1024), "RS256", "rsa-small"))


def test_refuses_signature_forged_under_a_small_order_ed25519_key(client):
    # R = the identity point, S = 0: under the identity as public key it verifies every
    # message, and OpenSSL and WebCrypto would import that key.
    forged = b"\x01" + bytes(31) + bytes(32)
    assert_refused(client, assemble({"alg": "EdDSA", "kid": "ed-identity"}, claims(), forged))


# --- keys carried by the token itself --------------------------------------------------------


def test_refuses_embedded_jwk_header_signed_by_that_key(client):
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = mint(attacker, "RS256", "rsa-1", jwk=public_jwk(attacker, "rsa-1"))
    assert_refused(client, token)


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"keys": []}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _CountingHandler.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refuses_jku_header_and_never_fetches_it(client, attacker_server):
    assert_refused(client, rs256(jku=f"{attacker_server}/jwks.json"))
    assert _CountingHandler.hits == []


def test_refuses_x5u_header_and_never_fetches_it(client, attacker_server):
    assert_refused(client, rs256(x5u=f"{attacker_server}/cert.pem"))
    assert _CountingHandler.hits == []


def test_refuses_x5c_header(client):
    cert = base64.b64encode(b"0\x82\x01\x00not-really-a-certificate").decode()
    assert_refused(client, rs256(x5c=[cert]))


def test_refuses_crit_header(client):
    assert_refused(client, rs256(crit=["exp"]))


def test_refuses_unencoded_payload_option(client):
    assert_refused(client, rs256(b64=False, crit=["b64"]))


def test_refuses_compressed_payload_header(client):
    assert_refused(client, rs256(zip="DEF"))


def test_refuses_nested_jwt_content_type(client):
    assert_refused(client, rs256(cty="JWT"))


# --- time claims ------------------------------------------------------------------------------


def test_refuses_expired_token(client):
    assert_refused(client, rs256(claims(exp=int(NOW) - 3600)))


def test_refuses_token_expired_just_past_the_leeway(client):
    assert_refused(client, rs256(claims(exp=int(NOW) - 31)))


def test_refuses_token_without_exp(client):
    assert_refused(client, rs256(claims(exp=None)))


def test_refuses_exp_as_string(client):
    assert_refused(client, rs256(claims(exp=str(int(NOW) + 600))))


def test_refuses_exp_as_boolean(client):
    assert_refused(client, rs256(claims(exp=True)))


def test_refuses_infinite_exp(client):
    body = json.dumps(claims()).replace(str(int(NOW) + 600), "1e400")
    assert_refused(client, sign_raw({"alg": "RS256", "kid": "rsa-1"}, body, rsa_key(), "RS256"))


def test_refuses_future_nbf(client):
    assert_refused(client, rs256(claims(nbf=int(NOW) + 120)))


def test_refuses_iat_in_the_future(client):
    assert_refused(client, rs256(claims(iat=int(NOW) + 120)))


def test_refuses_lifetime_above_the_maximum(client):
    assert_refused(client, rs256(claims(iat=int(NOW) - 10, exp=int(NOW) + 7200)))


def test_refuses_far_future_exp_without_iat(client):
    assert_refused(client, rs256(claims(iat=None, exp=int(NOW) + 10 * 365 * 86400)))


# --- audience and issuer ---------------------------------------------------------------------


def test_refuses_wrong_audience(client):
    assert_refused(client, rs256(claims(aud="api://other")))


def test_refuses_missing_audience(client):
    assert_refused(client, rs256(claims(aud=None)))


def test_refuses_audience_list_without_ours(client):
    assert_refused(client, rs256(claims(aud=["api://a", "api://b"])))


def test_refuses_audience_list_with_a_non_string(client):
    assert_refused(client, rs256(claims(aud=[AUDIENCE, 7])))


def test_refuses_wrong_issuer(client):
    assert_refused(client, rs256(claims(iss="https://evil.test")))


def test_refuses_missing_issuer(client):
    assert_refused(client, rs256(claims(iss=None)))


def test_refuses_issuer_with_trailing_slash(client):
    assert_refused(client, rs256(claims(iss=ISSUER + "/")))


def test_refuses_token_without_subject(client):
    assert_refused(client, rs256(claims(sub=None)))


def test_refuses_empty_subject_that_would_pass_as_a_token_without_one(client):
    assert_refused(client, rs256(claims(sub="")))


def test_refuses_non_string_scope_claim(client):
    assert_refused(client, rs256(claims(scope={"reports:read": True})))


# --- structure, size and encoding -------------------------------------------------------------


def test_refuses_oversized_token(client):
    assert_refused(client, rs256(claims(pad="x" * 5000)))


def test_refuses_two_segment_token(client):
    assert_refused(client, rs256().rsplit(".", 1)[0])


def test_refuses_five_segment_jwe(client):
    assert_refused(client, "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d")


def test_refuses_four_segment_token(client):
    assert_refused(client, rs256() + ".extra")


def test_refuses_padded_base64_segment(client):
    header, payload, signature = rs256().split(".")
    assert_refused(client, f"{header}=.{payload}.{signature}")


def test_refuses_standard_base64_alphabet_in_signature(client):
    header, payload, signature = rs256().split(".")
    altered = "+" + signature[1:].replace("-", "+").replace("_", "/")
    assert_refused(client, f"{header}.{payload}.{altered}")


def test_refuses_non_canonical_trailing_bits(client):
    token = mint(ec_key(), "ES256", "ec-256")
    header, payload, signature = token.split(".")
    # 64 bytes encode to 86 characters: the last carries 4 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(signature[-1]) | 1]
    assert_refused(client, f"{header}.{payload}.{signature[:-1]}{last}")


def test_refuses_header_that_is_not_json(client):
    _, payload, signature = rs256().split(".")
    assert_refused(client, f"{b64(b'alg=RS256')}.{payload}.{signature}")


def test_refuses_header_that_is_a_json_array(client):
    _, payload, signature = rs256().split(".")
    assert_refused(client, f"{b64(b'[1,2]')}.{payload}.{signature}")


def test_refuses_payload_that_is_not_an_object(client):
    token = sign_raw({"alg": "RS256", "kid": "rsa-1"}, '["not", "claims"]', rsa_key(), "RS256")
    assert_refused(client, token)


def test_refuses_non_utf8_payload(client):
    token = sign_raw({"alg": "RS256", "kid": "rsa-1"}, b'{"sub":"\xff"}', rsa_key(), "RS256")
    assert_refused(client, token)


def test_refuses_non_ascii_token(client):
    header, payload, signature = rs256().split(".")
    assert_refused(client, f"{header}.{payload}é.{signature}")


def test_refuses_deeply_nested_header(client):
    header = '{"alg":"RS256","kid":"rsa-1","x":' + "[" * 40 + "]" * 40 + "}"
    assert_refused(client, sign_raw(header, json.dumps(claims()), rsa_key(), "RS256"))


# --- duplicate members -------------------------------------------------------------------------


def test_refuses_duplicate_claim_keys(client):
    body = json.dumps(claims())[:-1] + ', "sub": "admin"}'
    token = sign_raw({"alg": "RS256", "kid": "rsa-1"}, body, rsa_key(), "RS256")
    assert_refused(client, token)


def test_refuses_duplicate_header_keys(client):
    header = '{"alg":"RS256","kid":"rsa-1","alg":"none"}'
    assert_refused(client, sign_raw(header, json.dumps(claims()), rsa_key(), "RS256"))


def test_refuses_prototype_pollution_claim(client):
    body = json.dumps(claims())[:-1] + ', "__proto__": {"admin": true}}'
    assert_refused(client, sign_raw({"alg": "RS256", "kid": "rsa-1"}, body, rsa_key(), "RS256"))


def test_refuses_claim_beyond_a_double_that_no_handler_could_write_back(client):
    body = json.dumps(claims())[:-1] + ', "balance": 1e400}'
    assert_refused(client, sign_raw({"alg": "RS256", "kid": "rsa-1"}, body, rsa_key(), "RS256"))


def test_refuses_claim_holding_a_lone_surrogate(client):
    # A JavaScript string may hold one, and JSON.stringify writes it as this escape.
    body = json.dumps(claims())[:-1] + ', "name": "mallory\\ud800"}'
    assert_refused(client, sign_raw({"alg": "RS256", "kid": "rsa-1"}, body, rsa_key(), "RS256"))


# --- signatures --------------------------------------------------------------------------------


def _with_signature(token: str, signature: bytes) -> str:
    return token.rsplit(".", 1)[0] + "." + b64(signature)


def test_refuses_all_zero_es256_signature(client):
    token = mint(ec_key(), "ES256", "ec-256")
    assert_refused(client, _with_signature(token, bytes(64)))


def test_refuses_der_encoded_r_s_zero_signature(client):
    token = mint(ec_key(), "ES256", "ec-256")
    assert_refused(client, _with_signature(token, bytes.fromhex("3006020100020100")))


def test_refuses_es256_signature_with_r_and_s_equal_to_the_curve_order(client):
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    token = mint(ec_key(), "ES256", "ec-256")
    assert_refused(client, _with_signature(token, order.to_bytes(32, "big") * 2))


def test_refuses_all_zero_rsa_signature(client):
    assert_refused(client, _with_signature(rs256(), bytes(256)))


def test_refuses_truncated_rsa_signature(client):
    token = rs256()
    header, payload, signature = token.split(".")
    assert_refused(client, f"{header}.{payload}.{signature[:-4]}")


def test_refuses_truncated_es256_signature(client):
    token = mint(ec_key(), "ES256", "ec-256")
    header, payload, signature = token.split(".")
    assert_refused(client, f"{header}.{payload}.{signature[:-3]}")


def test_refuses_signature_with_one_bit_flipped(client):
    token = rs256()
    signature = bytearray(base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "=="))
    signature[10] ^= 1
    assert_refused(client, _with_signature(token, bytes(signature)))


def test_refuses_payload_swapped_under_a_valid_signature(client):
    header, _, signature = rs256().split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    assert_refused(client, f"{header}.{forged}.{signature}")


def test_refuses_token_signed_by_another_key_with_the_same_kid(client):
    attacker = ec.generate_private_key(ec.SECP256R1())
    assert_refused(client, mint(attacker, "ES256", "ec-256"))


def test_refuses_eddsa_signature_from_another_key(client):
    signature = raw_signature(ed_key("other"), "EdDSA", b"x")
    token = mint(ed_key(), "EdDSA", "ed-1")
    assert_refused(client, _with_signature(token, signature))


# --- where the token comes from ----------------------------------------------------------------


def test_ignores_token_in_query_string(client):
    response = client.get(f"/me?access_token={rs256()}")
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_ignores_token_in_a_cookie(client):
    response = client.get("/me", headers={"cookie": f"access_token={rs256()}"})
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_refuses_two_authorization_headers(client):
    token = rs256()
    response = client.get(
        "/me",
        headers=[("authorization", f"Bearer {token}"), ("authorization", "Bearer other")],
    )
    assert response.status == 401
    assert response.headers["www-authenticate"] == REFUSED


def test_refuses_two_authorization_headers_joined_into_one_field(client):
    # HTTP APIs, GCF and Workers hand the app repeated fields as one, joined by commas.
    response = client.get("/me", headers={"authorization": f"Basic YWxpY2U6cHc=, Bearer {rs256()}"})
    assert response.status == 401
    assert response.headers["www-authenticate"] == REFUSED


def test_two_basic_authorization_headers_are_no_bearer_token_as_when_joined(client):
    # Asked apart as the joining runtimes cannot: invalid_token here, a bare challenge there.
    basic = "Basic YWxpY2U6cHc="
    for headers in ([("authorization", basic)] * 2, [("authorization", f"{basic},{basic}")]):
        response = client.get("/me", headers=headers)
        assert response.status == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_refuses_a_token_after_a_tab_instead_of_a_space(client):
    response = client.get("/me", headers={"authorization": f"Bearer\t{rs256()}"})
    assert response.status == 401
    assert response.headers["www-authenticate"] == REFUSED


def test_tabs_around_the_field_value_are_ignored_as_http_servers_do(client):
    response = client.get("/me", headers={"authorization": f"\tBearer {rs256()}\t"})
    assert response.status == 200


def test_refuses_bearer_scheme_without_token(client):
    response = client.get("/me", headers={"authorization": "Bearer "})
    assert response.status == 401
    assert response.headers["www-authenticate"] == REFUSED


def test_refuses_token_with_spaces_inside(client):
    assert_refused(client, rs256().replace(".", ". ", 1))


def test_accepts_bearer_scheme_in_any_case(client):
    response = client.get("/me", headers={"authorization": f"bEaReR {rs256()}"})
    assert response.status == 200


def test_basic_credentials_do_not_count_as_a_bearer_token(client):
    response = client.get("/me", headers={"authorization": "Basic YWxpY2U6cHc="})
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


# --- sender-constrained tokens (a proof of possession this middleware cannot check) --------


@pytest.mark.parametrize(
    "cnf",
    [
        {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
        {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
        {"kid": "holder-key"},
    ],
    ids=["dpop-jkt", "mtls-x5t-s256", "rfc7800-kid"],
)
def test_refuses_a_key_bound_token_presented_as_a_plain_bearer_token(client, cnf):
    """RFC 9449 7.2 and RFC 8705 3: a DPoP- or certificate-bound access token is refused
    when the binding cannot be checked; accepted as a bearer token, a stolen one worked."""
    assert_refused(client, rs256(claims(cnf=cnf)))


def test_a_key_bound_token_is_refused_each_time_it_is_sent(client):
    token = rs256(claims(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}))
    assert_refused(client, token)
    assert_refused(client, token)  # a refused token is not remembered as verified


# --- other JWTs of the same issuer (explicit typing, RFC 8725 3.11) -------------------------


@pytest.mark.parametrize("typ", ["logout+jwt", "secevent+jwt", "application/dpop+jwt"])
def test_refuses_another_kind_of_jwt_of_the_issuer_as_an_access_token(client, typ):
    """A back-channel logout token or security event token carries the issuer's iss, an aud
    and a sub, signed with the same JWKS; its typ says it is no access token."""
    events = {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert_refused(client, rs256(claims(events=events, jti="e-1"), typ=typ))


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "application/at+jwt"])
def test_accepts_access_token_types(client, typ):
    assert send(client, rs256(typ=typ)).status == 200
