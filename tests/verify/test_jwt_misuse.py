from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate

NAME = "jwt-misuse"


def run(layout, code: str):
    return gate(layout({"app/auth.py": "import jwt\n" + code}), NAME)


def messages_of(layout, code: str) -> list[str]:
    return [f.message for f in run(layout, code).findings]


def test_flags_decode_without_algorithms(layout):
    assert messages_of(layout, "claims = jwt.decode(token, key)\n") == [
        "jwt decode without `algorithms=`: pin the accepted algorithms"
    ]


def test_flags_signature_verification_turned_off(layout):
    code = (
        'claims = jwt.decode(t, key, algorithms=["RS256"], options={"verify_signature": False})\n'
    )
    assert messages_of(layout, code) == [
        "jwt decode with verify_signature=False accepts forged tokens"
    ]


def test_flags_alg_none_in_allow_list(layout):
    code = 'claims = jwt.decode(t, key, algorithms=["HS256", "None"])\n'
    assert messages_of(layout, code) == ["jwt decode accepts alg `none`"]


def test_flags_algorithms_taken_from_the_token_header(layout):
    code = "h = jwt.get_unverified_header(t)\nc = jwt.decode(t, key, algorithms=[h['alg']])\n"
    assert messages_of(layout, code) == [
        "jwt decode takes its algorithms from the token's own header"
    ]


def test_flags_unsigned_encode(layout):
    assert run(layout, 'tok = jwt.encode({"sub": "a"}, None, algorithm=None)\n').findings


def test_flags_decode_through_a_pyjwt_instance(layout):
    code = "decoder = jwt.PyJWT()\nclaims = decoder.decode(t, key)\n"
    assert run(layout, code).status is Status.FAIL


def test_flags_aliased_from_import(layout):
    code = "from jwt import decode as jdecode\nclaims = jdecode(t, key, verify=False)\n"
    assert len(run(layout, code).findings) == 2


def test_passes_pinned_verified_decode_and_unrelated_decodes(layout):
    code = """
    claims = jwt.decode(t, key, algorithms=["RS256"], audience="api", issuer="https://i")
    text = b"x".decode()
    signed = jwt.encode({"sub": "a"}, key, algorithm="ES256")
    """
    assert run(layout, code.replace("\n    ", "\n")).status is Status.PASS


def test_flags_algorithm_confusion_through_a_variable_or_header_get(layout):
    code = """
    def by_alg(t, key):
        alg = jwt.get_unverified_header(t)["alg"]
        return jwt.decode(t, key, algorithms=[alg])
    def by_get(t, key, header):
        return jwt.decode(t, key, algorithms=[header.get("alg")])
    """
    assert (
        messages_of(layout, code.replace("\n    ", "\n"))
        == ["jwt decode takes its algorithms from the token's own header"] * 2
    )


def test_flags_verification_turned_off_through_a_variable_or_dict_call(layout):
    code = """
    OPTIONS = {"verify_signature": False}
    a = jwt.decode(t, key, algorithms=["RS256"], options=OPTIONS)
    b = jwt.decode(t, key, algorithms=["RS256"], options=dict(verify_signature=False))
    """
    assert (
        messages_of(layout, code.replace("\n    ", "\n"))
        == ["jwt decode with verify_signature=False accepts forged tokens"] * 2
    )


def test_flags_alg_none_in_an_allow_list_constant(layout):
    code = 'ALGORITHMS = ["HS256", "none"]\nclaims = jwt.decode(t, key, algorithms=ALGORITHMS)\n'
    assert messages_of(layout, code) == ["jwt decode accepts alg `none`"]
