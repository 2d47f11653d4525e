"""Credentials written inline in free text (messages, traces, paths, user agents), found
and replaced: ``Authorization: …``, ``Bearer …``, JWTs, ``password=…``, ``sig=…``, every
``Cookie:`` pair, ``https://user:pass@host``, AWS access key ids, private keys."""

from __future__ import annotations

from daloy_edge._lazy import LazyPattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from re import Match, Pattern

__all__ = [
    "DEFAULT_INLINE",
    "DEFAULT_SECRET_KEYS",
    "REDACTED",
    "InlineRule",
    "fold_key",
    "key_words",
    "names_a_secret",
    "normalise_key",
    "scrub_head",
    "scrub_inline",
    "scrub_text",
]

REDACTED = "[REDACTED]"
"""What a removed value is replaced with."""

DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "privatekey",
    "client_secret",
    "session",
    "credential",
    "authorization",
    "cookie",
    "signature",
    "jwt",
    "bearer",
    "access_key",
    "accesskey",
    "csrf",
    "xsrf",
    "privkey",
    "saml_response",
    "samlresponse",
    "card_number",
    "cardnumber",
    "cvv",
    "cvc",
)
"""Key fragments that mark a value as secret, matched anywhere in a normalised key."""

# Short names are secret as a whole word of a key (``db_pwd``, ``stripeKey``, ``x-auth-key``)
# but not inside one (``keyboard``, ``passenger``, ``author``), nor when a last word says
# the value only describes the secret (``key_id``, ``auth_type``, ``KeyError``).
_SECRET_KEY_WORDS = frozenset(
    {
        "key",
        "pass",
        "pwd",
        "pw",
        "pin",
        "otp",
        "totp",
        "sig",
        "mac",
        "hmac",
        "salt",
        "auth",
        "authentication",
        "passcode",
        "cred",
        "creds",
    }
)
_DESCRIPTIVE_WORDS = frozenset(
    {"id", "ids", "count", "type", "name", "length", "size", "version", "error", "exception"}
)
_DIGITS = "0123456789"
_COMMON_PARTS = frozenset({"number", "response"})
_CUT_MARGIN = 4096
_CUT_GUARD = 2048

# Every repetition below is bounded or possessive, so scrubbing stays linear in the
# length of attacker-controlled text (no catastrophic backtracking). The patterns are
# compiled on first use: most requests never need one, and ``re`` and the compiling
# would cost every cold start.

# Credentials after an auth scheme: ``k=v, k="v"`` parameters (Digest) or one token.
_PARAM = (
    r"[A-Za-z0-9!#$%&*+.^_`|~\-]{1,64}+\s{0,8}+=\s{0,8}+"
    r"(?:\"[^\"\r\n]{0,512}+\"?|[^\s,\"]{0,512}+)"
)
_PARAMS = rf"{_PARAM}(?:\s{{0,8}}+,\s{{0,8}}+{_PARAM}){{0,32}}+"
# Not a word that names the credential instead of being one ("a bearer token is
# required", "basic auth failed"), unless more token characters follow it.
_PROSE = r"(?:tokens?+|auth|authentication|credentials?+)(?![A-Za-z0-9._~+/=\-])"
_SCHEME = LazyPattern(
    rf"(?i)\b(bearer|basic|digest|negotiate)\s{{1,8}}+(?!{_PROSE})"
    rf"(?:{_PARAMS}|[A-Za-z0-9._~+/=\-]{{4,}}+)"
)
# Any scheme (``token``, ``ApiKey`` ...) or a bare credential, the scheme included.
_AUTHORIZATION = LazyPattern(
    r"(?i)\b((?:proxy-)?authorization[\"']?\s{0,8}+[:=]\s{0,8}+)[^\s\"',;]++"
    rf"(?:[ \t]{{1,8}}+(?:{_PARAMS}|[A-Za-z0-9._~+/=\-]++))?+"
)
# Every pair of a ``Cookie`` or ``Set-Cookie`` header, not only the first.
_COOKIE = LazyPattern(
    r"(?i)\b((?:set-)?cookie[\"']?\s{0,8}+[:=]\s{0,8}+)[^\s\"',;]++(?:;[ \t]{0,8}+[^\s\"',;]++)*+"
)
# An unquoted value, with the comma-separated parts after it: a signature header lists
# its parts so ("t=…,v1=<hmac>" of Stripe and the webhooks here, "v1,<hmac>" of Standard
# Webhooks, which separates the signatures of a rotation with a space).
_BARE_PART = r"[^\s\"',;&}\]]++"
# A part after a comma belongs to the value unless it starts another ``name=value`` pair
# (``token=abc,user=ana`` keeps ``user=ana``); a signature's own ``t=`` and ``v1=`` do
# not, nor does base64 ending in its padding (``v1,K5oZ…E=``).
_NEXT_PART = (
    rf",(?:(?=t=|v[0-9]{{1,3}}+=)|(?![A-Za-z0-9_.\-]{{1,64}}+=[^=\s\"',;&}}\]])){_BARE_PART}"
)
_BARE_VALUE = rf"(?!\[REDACTED\]){_BARE_PART}(?:{_NEXT_PART})*+(?:[ ]v[0-9]{{1,3}}+,{_BARE_PART})*+"
# A JWT: ``eyJ`` at a word boundary, then at least four token characters, a dot, at least
# four more, and an optional third segment. Searched for as a whole run of token characters
# with its dot (``_JWT_RUN``), so a long run with no dot after it is read once: a search for
# ``\beyJ`` restarted at every ``-eyJ`` of the run, and read the rest of it each time.
_JWT_RUN = LazyPattern(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{7,}+\.(?=[A-Za-z0-9_\-]{4})")
_JWT_TAIL = LazyPattern(r"[A-Za-z0-9_\-]{4,}+(?:\.[A-Za-z0-9_\-]*+)?")
# The user may be empty (``redis://:pass@host``); the password runs to the last ``@``. No
# ``\b``: a scheme glued to the word before it (``xxhttps://``) is still a scheme.
_URL_USERINFO = LazyPattern(
    r"(?i)([a-z][a-z0-9+.\-]{0,15}+://[^\s:/@]{0,128}+:)(?:[^\s@/]{0,256}+@){1,4}+"
)
# The secret access key (40 base64 characters) is taken too when it comes next, as in a
# credentials file line, a CSV row or a pair of environment values.
_AWS_KEY_ID = LazyPattern(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"(?:[\s,:;=|\"']{1,8}+[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))?+"
)
# OpenSSL's "RSA", "EC", "ENCRYPTED" … keys, OpenSSH's, and PGP's "PRIVATE KEY BLOCK".
_PEM_KEY = LazyPattern(
    r"(?s)-----BEGIN (?:[A-Z]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END (?:[A-Z]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----|$)"
)


def _fewest(words: Iterable[str]) -> list[str]:
    """``words`` without those that contain another (``pwd`` has ``pw``): a search for
    the rest finds the same texts, and each alternative costs a search at every place."""
    kept = sorted(set(words))
    return [w for w in kept if not any(o != w and o in w for o in kept)]


class InlineRule:
    """``key=value`` scrubbing for one key list, with cheap substring triggers first.

    Both patterns are compiled when first needed: the key alternation is the most
    expensive pattern here, and many processes never see a string that needs it.
    """

    __slots__ = ("_fragments", "_pattern", "_triggers")

    def __init__(self, fragments: Iterable[str]) -> None:
        self._fragments = tuple(fragments)
        self._pattern: Pattern[str] | None = None
        self._triggers: Pattern[str] | None = None

    def triggers(self) -> Pattern[str]:
        """Matches any secret fragment in lower-cased text (a cheap pre-check)."""
        if self._triggers is None:
            import re

            # Each fragment's longest part appears in every spelling (api_key, api-key,
            # apikey), unless it is a word of ordinary text ("response" of saml_response).
            parts = {
                max([p for p in f.split("_") if p not in _COMMON_PARTS] or [f], key=len)
                for f in self._fragments
            }
            self._triggers = re.compile("|".join(re.escape(p) for p in _fewest(parts)))
        return self._triggers

    def pattern(self) -> Pattern[str]:
        """Matches ``key=value`` (or ``"key": "value"``) with a secret-shaped key."""
        if self._pattern is None:
            import re

            names = "|".join(re.escape(f).replace("_", "[_\\-]?") for f in self._fragments)
            # The key is matched from its secret fragment on (what precedes it stays as it
            # is), then the separator, an optional quote, and the value that gets replaced.
            self._pattern = re.compile(
                rf"(?i)(?P<key>(?:{names})[A-Za-z0-9_.\-]{{0,32}}+)(?P<q1>[\"']?)"
                r"(?P<sep>\s{0,8}+[:=]\s{0,8}+)(?P<q2>[\"'])?"
                rf"(?P<value>(?(q2)[^\"'\r\n]{{1,512}}+|{_BARE_VALUE}))"
            )
        return self._pattern


DEFAULT_INLINE = InlineRule(DEFAULT_SECRET_KEYS)
_WORD_TRIGGERS = LazyPattern("|".join(_fewest(_SECRET_KEY_WORDS)))
_KEY_SEPARATOR = LazyPattern(
    r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]{1,64}+)([\"']?)\s{0,8}+([:=])\s{0,8}+"
)
_VALUE = LazyPattern(rf"([\"'])?(?(1)[^\"'\r\n]{{1,512}}+|{_BARE_VALUE})")


def _inline_sub(match: Match[str]) -> str:
    return f"{match['key']}{match['q1']}{match['sep']}{match['q2'] or ''}{REDACTED}"


def _scheme_sub(match: Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


def _named_sub(match: Match[str]) -> str:
    return f"{match.group(1)}{REDACTED}"


def _url_sub(match: Match[str]) -> str:
    return f"{match.group(1)}{REDACTED}@"


def _scrub_jwts(text: str) -> str:
    """``text`` with every JWT replaced (see ``_JWT_RUN``)."""
    pieces: list[str] = []
    done = 0
    search, tail = _JWT_RUN.compiled.search, _JWT_TAIL.compiled.match
    while (run := search(text, done)) is not None:
        start = _jwt_start(text, run.start(), run.end() - 1)
        match = tail(text, run.end()) if start is not None else None
        if match is None:
            # The next run starts after the dot: its second segment may begin a JWT.
            pieces.append(text[done : run.end()])
            done = run.end()
            continue
        pieces.append(f"{text[done:start]}{REDACTED}")
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _jwt_start(text: str, start: int, end: int) -> int | None:
    """Where in the run ``text[start:end]`` its first ``eyJ`` at a word boundary is, if
    four characters follow it in the run (a later one would have fewer)."""
    before = text[start - 1 : start]
    if text.startswith("eyJ", start) and not (before.isalnum() or before == "_"):
        found = start
    else:
        found = text.find("-eyJ", start, end) + 1
        if not found:
            return None
    return found if end - found >= 7 else None


def _scrub_word_keys(text: str) -> str:
    """``key=value`` where a word of the key is a short secret name (``sig=``, ``db_pwd=``,
    ``"pin": "1234"``), judged as :meth:`Redactor.is_secret_key` judges a key. A bare
    short name takes ``:`` only when quoted: ``missing key: id`` is prose."""
    pieces: list[str] = []
    done = 0
    for match in _KEY_SEPARATOR.compiled.finditer(text):
        if match.start() < done:
            continue  # inside a value already replaced
        words = key_words(match[1])
        if not names_a_secret(words):
            continue
        if match[3] == ":" and not match[2] and len(words) == 1:
            continue
        value = _VALUE.compiled.match(text, match.end())
        if value is not None:
            pieces.append(f"{text[done : match.end()]}{value[1] or ''}{REDACTED}")
            done = value.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def scrub_inline(text: str, rule: InlineRule) -> str:
    """``text`` with every inline credential replaced, ``rule`` naming the secret keys."""
    if len(text) < 6:
        return text
    # Substring checks run in C and rule out almost every string; the regexes run only
    # on text that could hold what they look for.
    lowered = text.lower()
    if "private key" in lowered:
        text = _PEM_KEY.sub(REDACTED, text)
    if "authorization" in lowered:
        text = _AUTHORIZATION.sub(_named_sub, text)
    if "bearer" in lowered or "basic" in lowered or "digest" in lowered or "negotiate" in lowered:
        text = _SCHEME.sub(_scheme_sub, text)
    if "eyJ" in text:
        text = _scrub_jwts(text)
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(_url_sub, text)
    if "AKIA" in text or "ASIA" in text:
        text = _AWS_KEY_ID.sub(REDACTED, text)
    if "=" in text or ":" in text:
        if "cookie" in lowered:
            text = _COOKIE.sub(_named_sub, text)
        if rule.triggers().search(lowered):
            text = rule.pattern().sub(_inline_sub, text)
        if _WORD_TRIGGERS.search(lowered):
            text = _scrub_word_keys(text)
    return text


def scrub_head(text: str, limit: int, rule: InlineRule) -> str:
    """The first ``limit`` characters of ``text`` scrubbed, reading past the cut.

    The scrubber reads ``_CUT_MARGIN`` characters past the cut, further than any
    credential's start lies from what identifies it, so a credential the cut splits is
    recognised whole. Where the text goes on past that reading, what is kept stays
    ``_CUT_GUARD`` scrubbed characters short of its end (only replacements that shrank
    the text a lot bring it closer), so a credential split there is never kept either.
    """
    window = text[: limit + _CUT_MARGIN]
    scrubbed = scrub_inline(window, rule)
    if len(window) < len(text):
        limit = min(limit, max(len(scrubbed) - _CUT_GUARD, 0))
    return scrubbed[:limit]


def scrub_text(text: str) -> str:
    """Remove credentials that appear inline in free text (messages, traces, paths).

    >>> scrub_text("login failed for password=hunter2 with Bearer abc.def.ghi")
    'login failed for password=[REDACTED] with Bearer [REDACTED]'
    """
    return scrub_inline(text, DEFAULT_INLINE)


def fold_key(key: str) -> str:
    """``key`` as NFKC compatibility folding writes it, without format characters: the
    key a system that folds Unicode reads (fullwidth letters spelling ``password`` are
    ``password``, as in a Python identifier) or a reader sees (``pass\\u200bword``)."""
    import unicodedata  # only non-ASCII keys need it

    folded = unicodedata.normalize("NFKC", key)
    return "".join(char for char in folded if unicodedata.category(char) != "Cf")


def normalise_key(key: str) -> str:
    """``key`` lower-cased, with ``-`` and spaces as ``_`` (``X-Api-Key`` gives ``x_api_key``)."""
    return key.lower().replace("-", "_").replace(" ", "_")


def key_words(key: str) -> list[str]:
    """The lower-cased words of ``key``, split on ``_ - .``, spaces and camelCase
    (``dbPwd`` and ``APIKey`` give ``db, pwd`` and ``api, key``)."""
    if not key.islower():
        marked: list[str] = []
        before = ""
        for index, char in enumerate(key):
            if char.isupper() and (
                before.islower()
                or before.isdigit()
                or (before.isupper() and key[index + 1 : index + 2].islower())
            ):
                marked.append("_")
            marked.append(char)
            before = char
        key = "".join(marked)
    return normalise_key(key).replace(".", "_").split("_")


def names_a_secret(words: list[str]) -> bool:
    """True when a key of these words holds a secret: a short secret name among them, bare
    or numbered (``pass1``, ``key2``), and no last word saying the value only describes
    one (``key_id``, ``auth_type``)."""
    if words[-1] in _DESCRIPTIVE_WORDS:
        return False
    if not _SECRET_KEY_WORDS.isdisjoint(words):
        return True
    return any(word[-1:].isdigit() and word.rstrip(_DIGITS) in _SECRET_KEY_WORDS for word in words)
