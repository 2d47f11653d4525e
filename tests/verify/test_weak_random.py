from __future__ import annotations

from daloy_edge.verify import Status
from tests.verify.conftest import gate, messages

NAME = "weak-random"


def run(layout, code: str):
    return gate(layout({"app/ids.py": code}), NAME)


def test_flags_random_choice_building_a_token(layout):
    code = """
    import random
    ALPHABET = "abc"
    def login():
        token = "".join(random.choice(ALPHABET) for _ in range(32))
        return token
    """
    result = run(layout, code)
    assert messages(result) == [
        "app/ids.py:5:21 `random.choice()` feeds the value `token`: use the secrets module "
        "(secrets.token_urlsafe, secrets.token_bytes) or os.urandom"
    ]


def test_flags_id_factory_returning_getrandbits(layout):
    code = "from random import getrandbits\ndef new_request_id():\n    return getrandbits(64)\n"
    assert [f.line for f in run(layout, code).findings] == [3]


def test_flags_seeded_instance_feeding_a_nonce_header(layout):
    code = """
    import random
    rng = random.Random(42)
    def headers():
        return {"x-nonce": str(rng.random())}
    """
    assert run(layout, code).status is Status.FAIL


def test_flags_keyword_argument_named_key(layout):
    code = "import random as r\ndef build(make):\n    return make(key=r.randbytes(32))\n"
    assert run(layout, code).status is Status.FAIL


def test_passes_jitter_shuffles_and_secrets(layout):
    code = """
    import random, secrets
    def backoff(attempt, servers):
        delay = random.uniform(0, 2 ** attempt)
        random.shuffle(servers)
        token = secrets.token_urlsafe(32)
        session_id = random.SystemRandom().choice(servers)
        return delay, token, session_id
    """
    assert run(layout, code).status is Status.PASS


def test_ignores_a_local_object_named_random(layout):
    code = "def pick(random, things):\n    token = random.choice(things)\n    return token\n"
    assert run(layout, code).status is Status.PASS


def test_flags_session_id_made_by_a_helper_returning_random_output(layout):
    code = """
    import random
    ALPHABET = "abc"
    class Sessions:
        def create(self):
            self.session_id = self._random_string(32)
        def _random_string(self, n):
            return _pick(n)
    def _pick(n):
        return "".join(random.choice(ALPHABET) for _ in range(n))
    """
    assert [f.line for f in run(layout, code).findings] == [6]


def test_ignores_helpers_returning_random_output_used_for_jitter(layout):
    code = """
    import random
    def _jitter(base):
        return base * random.uniform(0.5, 1.5)
    def backoff(attempt):
        delay = _jitter(2 ** attempt)
        return delay
    """
    assert run(layout, code).status is Status.PASS


def test_flags_random_output_bound_to_a_token_by_walrus(layout):
    code = """
    import random
    def issue(store):
        if (token := random.getrandbits(64)) not in store:
            store.add(token)
    """
    assert [f.line for f in run(layout, code).findings] == [4]
