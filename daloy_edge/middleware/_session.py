"""The session object handlers see as ``request.session``."""

from __future__ import annotations

from _collections_abc import MutableMapping  # collections.abc would import collections

from daloy_edge.signing import b64encode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from daloy_edge.types import JSON, RandomBytes


__all__ = ["Session", "random_session_id"]

SID_BYTES = 16


class Session(MutableMapping[str, "JSON"]):
    """Dict-like session data that lives, signed, in the session cookie.

    Values must be JSON. Changing anything marks the session ``modified`` so the response
    carries a fresh cookie; :meth:`regenerate` (on login) gives it a new identity, which
    also invalidates CSRF tokens issued before; :meth:`clear` (on logout) empties it and
    drops its identity, and the cookie is deleted.
    """

    __slots__ = ("_created", "_data", "_id", "_new_id", "_now", "cleared", "modified", "pinned")

    def __init__(
        self,
        data: dict[str, JSON],
        *,
        session_id: str | None,
        created: int | None,
        new_id: Callable[[], str],
        now: Callable[[], int],
    ) -> None:
        self._data = data
        self._id = session_id
        self._created: int | None = created
        self.modified = False
        self.pinned = False
        self.cleared = False
        self._new_id = new_id
        self._now = now

    @classmethod
    def fresh(cls, new_id: Callable[[], str], now: Callable[[], int]) -> Session:
        """A new, empty session with a new identity and creation time (both drawn when
        first needed: most requests without a session cookie never use theirs)."""
        # Set field by field rather than through ``__init__``'s keywords: every request
        # without a session cookie builds one (about 2k instructions fewer).
        session = cls.__new__(cls)
        session._data = {}
        session._id = session._created = None
        session.modified = session.pinned = session.cleared = False
        session._new_id = new_id
        session._now = now
        return session

    @property
    def created(self) -> int:
        """When the session began (epoch seconds): its absolute lifetime counts from here."""
        created = self._created
        if created is None:
            created = self._created = self._now()
        return created

    @created.setter
    def created(self, value: int) -> None:
        self._created = value

    @property
    def id(self) -> str:
        """The session's identity: 128 random bits, URL-safe."""
        session_id = self._id
        if session_id is None:
            session_id = self._id = self._new_id()
        return session_id

    @property
    def identified(self) -> bool:
        """True when the session has its identity: the one its cookie carried, or one
        drawn since. A session made without a cookie has none until :attr:`id` is read."""
        return self._id is not None

    def __getitem__(self, key: str) -> JSON:
        return self._data[key]

    def __setitem__(self, key: str, value: JSON) -> None:
        self._data[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"<Session keys={sorted(self._data)!r} modified={self.modified}>"

    def clear(self) -> None:
        """Drop every value and the identity (logout); the response deletes the cookie.

        Whatever the same response stores afterwards (a CSRF token for the next sign-in, a
        message) starts a new session: tokens bound to the old identity stop verifying.
        """
        self._data.clear()
        self._id = self._created = None
        self.pinned = False
        self.modified = True
        # The cookie it came in is deleted even if this request fails later on.
        self.cleared = True

    def regenerate(self) -> None:
        """Give the session a new identity and a new absolute lifetime (call on login).

        Tokens bound to the old identity, CSRF tokens above all, stop verifying.
        """
        self._id = self._new_id()
        self.created = self._now()
        self.modified = True

    def pin(self) -> None:
        """Keep an empty session (its identity) in a cookie, e.g. once a CSRF token is bound
        to it."""
        if not self.pinned:
            self.pinned = True
            # A session holding values is kept anyway; only an empty one needs a new cookie.
            if not self._data:
                self.modified = True

    def data(self) -> dict[str, JSON]:
        """A shallow copy of the values."""
        return dict(self._data)


def random_session_id(random_bytes: RandomBytes) -> str:
    """A fresh session identity: 128 random bits, URL-safe."""
    return b64encode(random_bytes(SID_BYTES))
