"""Malformed and hostile Basic credentials: always 401 with a Basic challenge, never 500."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from daloy_edge import App, ConfigError, KeyRing, Request
from daloy_edge.middleware.basic_auth import BasicAuth, BasicAuthConfig
from daloy_edge.testing import TestClient
from tests.support.calls import instructions_run

CHALLENGE = 'Basic realm="admin", charset="UTF-8"'


@pytest.fixture(scope="module")
def client() -> TestClient:
    config = BasicAuthConfig(
        users={"admin": KeyRing(["current-password", "previous-password"]), "ops": KeyRing(["o"])},
        realm="admin",
    )
    app = App()

    @app.get("/stats", middleware=[BasicAuth(config)])
    async def stats(request: Request) -> dict[str, str]:
        return {"user": request.principal.subject}  # type: ignore[union-attr]

    return TestClient(app)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def assert_refused(client: TestClient, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    response = client.get("/stats", headers=headers)
    assert response.status == 401
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.headers["content-type"] == "application/problem+json"


def test_correct_credentials_pass(client):
    response = client.get("/stats", headers={"authorization": basic(b"admin:current-password")})
    assert response.json() == {"user": "admin"}


def test_an_answer_to_basic_credentials_is_not_stored_by_caches(client):
    response = client.get("/stats", headers={"authorization": basic(b"admin:current-password")})
    assert response.headers.get_all("cache-control") == ["no-store"]


def test_rotated_previous_password_still_passes(client):
    response = client.get("/stats", headers={"authorization": basic(b"admin:previous-password")})
    assert response.status == 200


def test_scheme_is_case_insensitive(client):
    header = basic(b"admin:current-password").replace("Basic", "bAsIc")
    assert client.get("/stats", headers={"authorization": header}).status == 200


@pytest.mark.parametrize("header", ["\t{}", "{}\t", " \t{} \t"])
def test_tabs_around_the_field_value_are_ignored_as_http_servers_do(client, header):
    value = header.format(basic(b"admin:current-password"))
    assert client.get("/stats", headers={"authorization": value}).status == 200


def test_no_credentials(client):
    assert_refused(client, None)


def test_wrong_password(client):
    assert_refused(client, basic(b"admin:wrong"))


def test_password_of_another_user(client):
    assert_refused(client, basic(b"ops:current-password"))


def test_unknown_user(client):
    assert_refused(client, basic(b"root:current-password"))


def test_password_prefix_is_not_enough(client):
    assert_refused(client, basic(b"admin:current"))


def test_password_with_extra_suffix(client):
    assert_refused(client, basic(b"admin:current-password\x00"))


def test_user_name_case_is_significant(client):
    assert_refused(client, basic(b"ADMIN:current-password"))


def test_bearer_scheme(client):
    assert_refused(client, "Bearer abc")


def test_scheme_without_credentials(client):
    assert_refused(client, "Basic")


def test_scheme_with_only_spaces(client):
    assert_refused(client, "Basic    ")


def test_invalid_base64(client):
    assert_refused(client, "Basic !!!notbase64!!!")


def test_base64_without_padding(client):
    assert_refused(client, "Basic " + base64.b64encode(b"admin:x").decode().rstrip("="))


def test_base64url_alphabet(client):
    raw = base64.urlsafe_b64encode(b"admin:\xfb\xff current-password").decode()
    assert_refused(client, "Basic " + raw)


def test_base64_with_embedded_whitespace(client):
    encoded = base64.b64encode(b"admin:current-password").decode()
    assert_refused(client, f"Basic {encoded[:4]} {encoded[4:]}")


def test_no_colon(client):
    assert_refused(client, basic(b"admincurrent-password"))


def test_empty_user(client):
    assert_refused(client, basic(b":current-password"))


def test_empty_password(client):
    assert_refused(client, basic(b"admin:"))


def test_non_utf8_credentials(client):
    assert_refused(client, basic(b"admin:\xff\xfe"))


def test_control_character_in_user(client):
    assert_refused(client, basic(b"adm\x01in:current-password"))


def test_newline_in_password(client):
    assert_refused(client, basic(b"admin:current-password\nX-Injected: 1"))


def test_oversized_credentials(client):
    assert_refused(client, basic(b"admin:" + b"a" * 5000))


def test_correct_credentials_one_block_past_the_size_bound_are_refused():
    # The bound holds for a right password too: it is what keeps a header of any size
    # from being decoded, normalised and hashed. Both passwords below are accepted ones.
    app = App()
    ring = KeyRing(["p" * 42, "p" * 45])
    config = BasicAuthConfig(users={"admin": ring}, max_credentials_bytes=64)

    @app.get("/stats", middleware=[BasicAuth(config)])
    async def stats(request: Request) -> dict[str, str]:
        return {"user": request.principal.subject}  # type: ignore[union-attr]

    client = TestClient(app)
    at_bound, past_bound = basic(b"admin:" + b"p" * 42), basic(b"admin:" + b"p" * 45)
    assert (len(at_bound), len(past_bound)) == (len("Basic ") + 64, len("Basic ") + 68)
    assert client.get("/stats", headers={"authorization": at_bound}).status == 200
    response = client.get("/stats", headers={"authorization": past_bound})
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'Basic realm="restricted", charset="UTF-8"'


def test_two_authorization_headers(client):
    good = basic(b"admin:current-password")
    response = client.get("/stats", headers=[("authorization", good), ("authorization", good)])
    assert response.status == 401


def test_user_name_with_colon_splits_at_the_first_colon(client):
    assert_refused(client, basic(b"admin:current-password:extra"))


def test_digest_scheme(client):
    assert_refused(client, 'Digest username="admin", response="x"')


@pytest.mark.parametrize(
    "credentials",
    [b"admin:wrong-password", b"nobody:wrong-password", b"ops:current-password"],
    ids=["known-user-wrong-password", "unknown-user", "password-of-another-user"],
)
def test_a_refusal_does_the_work_of_a_success_so_time_tells_no_user_apart(
    client, monkeypatch, credentials
):
    # User enumeration by timing: every user and every password is compared, whatever
    # was sent. The comparisons and hashes are counted on the real functions.
    import hashlib
    import hmac

    def counted(name: str, function: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            work[name] += 1
            return function(*args, **kwargs)

        return call

    client.get("/stats", headers={"authorization": basic(b"admin:current-password")})
    work = {"compare": 0, "hash": 0}
    monkeypatch.setattr(hmac, "compare_digest", counted("compare", hmac.compare_digest))
    monkeypatch.setattr(hashlib, "sha256", counted("hash", hashlib.sha256))
    client.get("/stats", headers={"authorization": basic(b"admin:current-password")})
    success = dict(work)
    work.update(compare=0, hash=0)
    assert_refused(client, basic(credentials))
    assert work == success
    assert success["compare"] == 5  # two users, three passwords
    assert success["hash"] == 2  # what was sent; the configured side was hashed once


def test_a_known_user_with_a_wrong_password_runs_what_an_unknown_user_runs(client):
    """User enumeration by work done: ``user_ok and password_ok`` skipped the second read
    for a wrong user, so a known one ran two more instructions. Same-length credentials,
    so the decoding runs alike."""
    counts = set()
    for credentials in (b"admin:wrong-password", b"nobod:wrong-password", b"ops:current-password"):
        header = {"authorization": basic(credentials)}
        client.get("/stats", headers=header)
        counts.add(instructions_run(lambda header=header: client.get("/stats", headers=header)))
    assert len(counts) == 1


NFC_PASSWORD, NFD_PASSWORD = "caf\u00e9-pa\u00df", "cafe\u0301-pa\u00df"


def _unicode_client(user: str, password: str) -> TestClient:
    app = App()
    config = BasicAuthConfig(users={user: KeyRing([password])}, realm="admin")

    @app.get("/stats", middleware=[BasicAuth(config)])
    async def stats(request: Request) -> dict[str, str]:
        return {"user": request.principal.subject}  # type: ignore[union-attr]

    return TestClient(app)


def test_password_sent_decomposed_matches_the_composed_password():
    client = _unicode_client("admin", NFC_PASSWORD)
    header = basic(f"admin:{NFD_PASSWORD}".encode())
    assert client.get("/stats", headers={"authorization": header}).status == 200


def test_password_configured_decomposed_matches_the_composed_one_sent():
    client = _unicode_client("admin", NFD_PASSWORD)
    header = basic(f"admin:{NFC_PASSWORD}".encode())
    assert client.get("/stats", headers={"authorization": header}).status == 200


def test_user_name_sent_decomposed_matches_the_composed_user():
    client = _unicode_client("jos\u00e9", "pw")
    response = client.get("/stats", headers={"authorization": basic("jose\u0301:pw".encode())})
    assert response.json() == {"user": "jos\u00e9"}


def test_password_of_thirty_combining_marks_in_a_row_matches():
    client = _unicode_client("admin", "a" + "\u0316\u0301" * 15)
    header = basic(("admin:a" + "\u0301" * 15 + "\u0316" * 15).encode())
    assert client.get("/stats", headers={"authorization": header}).status == 200


def test_long_run_of_combining_marks_is_refused_before_it_is_normalised(monkeypatch):
    # NFC sorts a run of combining marks by insertion: time quadratic in the run's length
    # (1,500 marks in 4 KB of credentials: 5 ms; 16 KB, if allowed: 80 ms).
    from daloy_edge.middleware import basic_auth

    normalised: list[str] = []
    nfc = basic_auth._nfc
    monkeypatch.setattr(basic_auth, "_nfc", lambda text: normalised.append(text) or nfc(text))
    client = _unicode_client("admin", "pw")

    assert_refused(client, basic(("admin:a" + "\u0301" * 700 + "\u0316" * 700).encode()))
    assert_refused(client, basic(("admin:a" + "\u0301" * 31).encode()))
    assert normalised == []


def test_tibetan_vowel_signs_decomposing_to_two_marks_are_refused_before_normalising(
    monkeypatch,
):
    # U+0F73, U+0F75 and U+0F81 are starters themselves (combining class 0) but decompose
    # to two combining marks of different classes: a run of them is a run of marks for NFC
    # to sort (1,000 of them in 4 KB of credentials: 5 ms; 16 KB, if allowed: 70 ms).
    from daloy_edge.middleware import basic_auth

    normalised: list[str] = []
    nfc = basic_auth._nfc
    monkeypatch.setattr(basic_auth, "_nfc", lambda text: normalised.append(text) or nfc(text))
    client = _unicode_client("admin", "pw")

    for sign in ("\u0f73", "\u0f75", "\u0f81"):
        assert_refused(client, basic(("admin:a" + sign * 1000).encode()))
        assert_refused(client, basic(("admin:a" + sign * 16).encode()))
    assert normalised == []


def test_fifteen_tibetan_vowel_signs_in_a_row_match():
    client = _unicode_client("admin", "a" + "\u0f71\u0f72" * 15)
    header = basic(("admin:a" + "\u0f73" * 15).encode())
    assert client.get("/stats", headers={"authorization": header}).status == 200


@pytest.mark.parametrize("user", ["", "a:b", "a\nb"])
def test_invalid_user_names_refuse_to_build(user):
    with pytest.raises(ConfigError):
        BasicAuthConfig(users={user: KeyRing(["pw"])})


def test_empty_password_of_a_missing_variable_refuses_to_build_rather_than_open_the_door():
    # A ring of one empty password built, and "admin:" (no password at all) signed in.
    with pytest.raises(ConfigError):
        BasicAuthConfig(users={"admin": KeyRing([""])})


def test_no_users_refuses_to_build():
    with pytest.raises(ConfigError):
        BasicAuthConfig(users={})


def _texts(seed: int, count: int = 3000) -> list[str]:
    import random

    alphabet = "aZ0 :!\"#\\'~\x00\x01\t\n\r\x1f\x7f\x80\x9f\xa0é€\u2028😀"
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randint(0, 70))) for _ in range(count)]


def _builds(**config: object) -> bool:
    options: dict[str, object] = {"users": {"admin": KeyRing(["pw"])}}
    options.update(config)
    try:
        BasicAuthConfig(**options)  # type: ignore[arg-type]
    except ConfigError:
        return False
    return True


def test_realms_and_user_names_accepted_as_the_former_regexes_did():
    import re

    realm = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")
    control = re.compile(r"[\x00-\x1f\x7f]")
    for text in [*_texts(1), "r" * 64, "r" * 65, "a\n"]:
        assert _builds(realm=text) is (realm.fullmatch(text) is not None), repr(text)
        expected = bool(text) and ":" not in text and control.search(text) is None
        assert _builds(users={text: KeyRing(["pw"])}) is expected, repr(text)


def test_control_characters_in_credentials_refused_as_the_former_regex_did():
    import re

    from daloy_edge.middleware._credentials import MalformedCredentials
    from daloy_edge.middleware.basic_auth import _decode

    control = re.compile(r"[\x00-\x1f\x7f]")
    for text in _texts(2):
        raw = "u:" + text
        try:
            _decode(base64.b64encode(raw.encode("utf-8")).decode(), 4096)
        except MalformedCredentials:
            refused = True
        else:
            refused = False
        assert refused is (control.search(raw) is not None), repr(raw)


def test_a_credentials_size_bound_of_nan_refuses_to_build() -> None:
    # No header is longer than NaN: credentials of any size were decoded and hashed.
    with pytest.raises(ConfigError, match="max_credentials_bytes"):
        BasicAuthConfig(users={"admin": KeyRing(["pw"])}, max_credentials_bytes=float("nan"))
