from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate, messages

NAME = "secret-comparisons"


def run(layout, code: str):
    return gate(layout({"app/handlers.py": code}), NAME)


def test_flags_signature_compared_with_eq(layout):
    result = run(layout, "def ok(signature, expected):\n    return signature == expected\n")
    assert result.status is Status.FAIL
    assert messages(result) == [
        "app/handlers.py:2:12 `signature` looks secret-derived and is compared with `==`: "
        "use hmac.compare_digest()"
    ]


def test_flags_header_value_assigned_then_compared(layout):
    code = """
    def check(request, expected):
        provided = request.headers.get("X-Hub-Signature-256")
        if provided != expected:
            raise ValueError
    """
    result = run(layout, code)
    assert [f.line for f in result.findings] == [4]


def test_flags_hmac_digest_compared_with_unnamed_value(layout):
    code = """
    import hashlib, hmac
    def check(key, body, received):
        return hmac.new(key, body, hashlib.sha256).hexdigest() == received
    """
    assert run(layout, code).status is Status.FAIL


def test_flags_token_membership_in_candidate_list(layout):
    code = "def check(token, valid):\n    return token in [v.strip() for v in valid]\n"
    assert run(layout, code).status is Status.FAIL


def test_flags_startswith_against_secret_prefix(layout):
    code = "def check(authorization, expected):\n    return authorization.startswith(expected)\n"
    assert run(layout, code).status is Status.FAIL


def test_flags_session_cookie_compared(layout):
    code = """
    def check(request, stored):
        return request.cookies.get("__Host-session") == stored
    """
    assert run(layout, code).status is Status.FAIL


def test_flags_walrus_bound_csrf_value(layout):
    code = """
    def check(form, expected):
        if (sent := form["csrf_token"]) != expected:
            raise ValueError(sent)
    """
    assert run(layout, code).status is Status.FAIL


def test_passes_compare_digest(layout):
    code = """
    import hmac
    def check(signature, expected):
        return hmac.compare_digest(signature, expected)
    """
    result = run(layout, code)
    assert result.status is Status.PASS
    assert result.detail == "1 files"


def test_ignores_literals_metadata_and_lengths(layout):
    code = """
    def check(token, token_type, other_type, cookie_name, name, authorization, n):
        a = token_type == other_type
        b = cookie_name != name
        c = len(token) == n
        d = token is None or token == ""
        e = authorization.startswith("Bearer ")
        f = token.count(".") != 2
        return a, b, c, d, e, f
    """
    assert run(layout, code).status is Status.PASS


def test_ignores_cookies_that_hold_no_secret(layout):
    code = """
    def theme(request, preferred, supported):
        lang = request.cookies.get("lang")
        return request.cookies.get("theme") == preferred or lang in supported
    """
    assert run(layout, code).status is Status.PASS


def test_reassignment_clears_taint(layout):
    code = """
    def check(request, other):
        value = request.headers.get("authorization")
        value = len(other)
        return value == other
    """
    assert run(layout, code).status is Status.PASS


def test_leaves_test_files_alone(layout):
    result = gate(layout({"tests/test_x.py": "assert token == other\n"}), NAME)
    assert result.status is Status.PASS
    assert result.detail == "0 files"


def test_ignores_membership_in_a_public_constant_set(layout):
    code = """
    SCHEMES = frozenset({"bearer", "basic"})
    MAC_BYTES = 32
    RAW_BYTES = 8 + MAC_BYTES
    def parse(tokens, signature):
        return tokens[0].lower() in SCHEMES and len(signature) != RAW_BYTES
    """
    assert run(layout, code).status is Status.PASS


def test_flags_hash_of_a_password_compared_with_eq(layout):
    code = """
    import hashlib
    def login(password, stored):
        return hashlib.sha256(password.encode()).hexdigest() == stored
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_flags_home_made_mac_from_an_imported_hash(layout):
    code = """
    from hashlib import sha256
    def check(secret, body, received):
        expected = sha256(secret + body).hexdigest()
        return received == expected
    """
    assert [f.line for f in run(layout, code).findings] == [5]


def test_flags_hash_object_fed_a_secret_then_compared(layout):
    code = """
    import hashlib
    def check(api_key, stored):
        h = hashlib.sha256()
        h.update(api_key)
        return h.digest() != stored
    """
    assert [f.line for f in run(layout, code).findings] == [6]


def test_ignores_hash_of_public_data(layout):
    code = """
    import hashlib
    def etag_matches(body, if_none_match):
        return hashlib.sha256(body).hexdigest() == if_none_match
    """
    assert run(layout, code).status is Status.PASS


def test_flags_eq_dunder_called_on_a_signature(layout):
    result = run(layout, "def ok(signature, expected):\n    return signature.__eq__(expected)\n")
    assert messages(result) == [
        "app/handlers.py:2:12 `signature` looks secret-derived and is compared with "
        "`__eq__()`: use hmac.compare_digest()"
    ]


def test_flags_bytes_ne_dunder_called_with_a_mac(layout):
    code = """
    import hashlib, hmac
    def check(key, body, sent):
        return bytes.__ne__(hmac.new(key, body, hashlib.sha256).digest(), sent)
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_flags_operator_eq_on_a_token(layout):
    code = """
    from operator import eq
    def check(request, expected):
        return eq(expected, request.headers.get("Authorization"))
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_ignores_eq_dunder_with_a_literal(layout):
    code = "def check(token):\n    return token.__eq__('') or token.__ne__(None)\n"
    assert run(layout, code).status is Status.PASS


def test_flags_sent_value_looked_up_in_a_list_of_secrets(layout):
    code = """
    def check(request, config):
        sent = request.headers.get("X-Key", "")
        return sent in [s.reveal() for s in config.secrets]
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_flags_sent_value_looked_up_in_a_set_of_configured_secrets(layout):
    code = """
    import os
    def check(sent):
        return sent not in set(os.environ["WEBHOOK_SECRETS"].split(","))
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_flags_loop_comparing_each_secret(layout):
    code = """
    def check(sent, secrets):
        for s in secrets:
            if s == sent:
                return True
        return False
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_flags_comprehension_comparing_each_token(layout):
    code = "def check(sent, tokens):\n    return any(t == sent for t in tokens)\n"
    assert [f.line for f in run(layout, code).findings] == [2]


def test_ignores_names_looked_up_in_cookie_jars_and_literal_keyed_tables(layout):
    code = """
    import hashlib
    _HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}
    def check(request, name, alg, auth_trait):
        schemes = [auth_type for auth_type in auth_trait if auth_type != name]
        return name in request.cookies and alg in _HMAC and schemes
    """
    assert run(layout, code).status is Status.PASS


def test_flags_sent_value_looked_up_in_the_configured_api_keys(layout):
    code = """
    import os
    def check(sent):
        return sent in os.environ["API_KEYS"].split(",")
    """
    assert [f.line for f in run(layout, code).findings] == [4]


def test_flags_session_looked_up_by_its_token(layout):
    result = run(layout, "def load(sessions, token):\n    return sessions[token]\n")
    assert messages(result) == [
        "app/handlers.py:2:12 `token` looks secret-derived and is used as a lookup key in "
        "`[]`: look the entry up by a public id, then hmac.compare_digest() the secret"
    ]


def test_flags_user_looked_up_by_the_api_key_header(layout):
    code = """
    def caller(request, users):
        return users.get(request.headers.get("X-API-Key"))
    """
    assert [f.line for f in run(layout, code).findings] == [3]


def test_ignores_lookups_by_types_constants_and_public_keys(layout):
    code = """
    CSRF_TOKEN_ISSUED = "daloy.csrf_token_issued"
    def check(state, tokens, i, token_id) -> tuple[Secret, ...]:
        return state.get(CSRF_TOKEN_ISSUED), tokens[i], tokens[0], state.pop(token_id)
    """
    assert run(layout, code).status is Status.PASS


def test_flags_mac_returned_by_a_helper_then_compared(layout):
    code = """
    import hashlib, hmac
    def _expected(key, body):
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    def check(key, body, provided):
        wanted = _expected(key, body)
        return provided == _expected(key, body) or wanted != provided
    """
    assert [f.line for f in run(layout, code).findings] == [7, 7]


def test_flags_mac_returned_by_a_method_or_a_helper_of_a_helper(layout):
    code = """
    import hashlib, hmac
    class Verifier:
        async def check(self, body, provided):
            return await self._wanted(body) == provided
        async def _wanted(self, body):
            return self._mac(body).hex()
        def _mac(self, body):
            h = hmac.new(self.key, None, hashlib.sha256)
            h.update(body)
            return h.digest()
    """
    assert [f.line for f in run(layout, code).findings] == [5]


def test_ignores_helpers_returning_a_verdict_or_a_hash_of_public_data(layout):
    code = """
    import hashlib, hmac
    def _matches(key, body, provided):
        return hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), provided)
    def _etag(body):
        return hashlib.sha256(body).hexdigest()
    def check(key, body, provided, if_none_match):
        return _matches(key, body, provided) == True or _etag(body) == if_none_match
    """
    assert run(layout, code).status is Status.PASS


def test_flags_revealed_secret_compared_whatever_names_it(layout):
    code = """
    def check(config, ring, sent):
        if config.key.reveal() != sent:
            return any(key.reveal() == sent for key in ring)
        return True
    """
    assert [f.line for f in run(layout, code).findings] == [3, 4]


def test_flags_stored_digest_of_a_configured_key_compared_in_another_method(layout):
    code = """
    import hashlib
    class ApiKeyCheck:
        def __init__(self, api_key, fragments):
            self._expected = hashlib.sha256(api_key.encode()).digest()
            self._names = DEFAULT_SECRET_KEYS + fragments
        def __call__(self, sent, field):
            return hashlib.sha256(sent.encode()).digest() == self._expected or any(
                n in field for n in self._names
            )
    """
    assert [f.line for f in run(layout, code).findings] == [8]
