import pickle

import pytest

from daloy_edge import ConfigError, KeyRing, Secret


def test_secret_repr_is_masked():
    assert "hunter2" not in repr(Secret("hunter2"))
    assert "hunter2" not in str(Secret("hunter2"))
    assert "hunter2" not in f"{Secret('hunter2')}"


def test_secret_equals_is_exact():
    assert Secret("abc").equals("abc")
    assert not Secret("abc").equals("abd")
    assert not Secret("abc").equals(b"ab")


def test_secret_equals_text_with_a_lone_surrogate_is_false_rather_than_an_error():
    # A Lambda event's JSON can carry "\ud800" in a header compared against an API key.
    assert not Secret("k" * 16).equals("\ud800")


def test_secret_refuses_pickling():
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_secret_refuses_its_state_to_serialisers_that_fall_back_to_getstate():
    # jsonpickle, refused by __reduce__, read the slots through object.__getstate__ and
    # wrote the key as base64: {"_value": {"py/b64": "aHVudGVyMg=="}}.
    with pytest.raises(TypeError):
        Secret("hunter2").__getstate__()


def test_secret_is_copied_as_itself_while_pickling_stays_refused():
    # copy fell back to __reduce__: deep-copying a configuration or a pydantic model
    # holding a Secret raised "Secret values are not picklable".
    import copy

    secret = Secret("hunter2")
    assert copy.copy(secret) is secret
    copied = copy.deepcopy({"ring": KeyRing([secret]), "key": secret})
    assert copied["key"] is secret and next(iter(copied["ring"])) is secret
    with pytest.raises(TypeError):
        pickle.dumps(copied)


def test_key_ring_first_key_signs():
    ring = KeyRing.from_csv("first-key, second-key")
    assert ring.primary.equals("first-key")
    assert len(ring) == 2


def test_key_ring_refuses_short_keys():
    with pytest.raises(ConfigError):
        KeyRing(["short"], min_bytes=32)


@pytest.mark.parametrize("minimum", [float("nan"), -1, True])
def test_key_ring_refuses_a_minimum_that_is_no_byte_count(minimum):
    # min_bytes=float("nan") compared False against every length: a one-byte key
    # passed the check meant to refuse it.
    with pytest.raises(ConfigError):
        KeyRing(["k"], min_bytes=minimum)


def test_key_ring_refuses_empty():
    with pytest.raises(ConfigError):
        KeyRing.from_csv(" , ")


@pytest.mark.parametrize("empty", ["", b"", Secret("")], ids=["str", "bytes", "secret"])
def test_key_ring_refuses_an_empty_key_whatever_its_minimum(empty):
    # KeyRing([os.environ.get("ADMIN_PASSWORD", "")]): the variable was missing, and the
    # empty password it gave let in whoever sent the user name and nothing after the colon.
    with pytest.raises(ConfigError):
        KeyRing([empty])
    with pytest.raises(ConfigError):
        KeyRing(["a-real-key", empty], min_bytes=0)


def test_key_ring_repr_hides_keys():
    assert "first" not in repr(KeyRing.from_csv("first-key"))


@pytest.mark.parametrize(
    "keys", ["correct-horse-battery", b"correct-horse-battery"], ids=["str", "bytes"]
)
def test_key_ring_of_a_bare_string_refuses_to_build_rather_than_accept_each_character(keys):
    # Iterated, the string was a ring of one-character keys: basic auth took "c" as a password.
    with pytest.raises(ConfigError):
        KeyRing(keys)


def test_secret_of_a_number_is_refused_rather_than_made_of_zero_bytes():
    # bytes(64) is 64 zero bytes: a known key that passes every length check.
    with pytest.raises(TypeError):
        Secret(64)
