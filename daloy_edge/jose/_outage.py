"""What a JWKS client tells the operator about its issuer: fetches failing, and working again."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logging import Logger

__all__ = ["OutageLog"]

# One warning per this many seconds while fetches fail (the failures between are counted),
# whatever error_backoff_s allows: a back-off of 0 refetches on every request.
_LOG_EVERY_S = 10.0


class OutageLog:
    """Warns (logger ``daloy_edge.jose``) when fetches of ``url`` fail, and once when one
    works again: with stale keys serving, bearer requests pass and nothing else tells an
    operator the issuer is down until the keys run out and every request answers 503.
    Never a key, a token or a response body: the URL without its query, the failure's
    reason and counts."""

    __slots__ = ("_failures", "_last_log", "_since", "_url")

    def __init__(self, url: str) -> None:
        # Without its query, which may carry a token (``?key=``, a signed URL's
        # signature): logs are read by more people than the configuration. The client
        # refuses a URL with credentials or a fragment.
        base, query, _ = url.partition("?")
        self._url = base + "?..." if query else base
        self._since: float | None = None
        self._failures = 0
        self._last_log = 0.0

    def failed(self, reason: str, now: float, usable_for_s: float | None) -> None:
        """Count a failed fetch at ``now`` (the client's clock); ``usable_for_s`` is how
        long the cached keys serve on, ``None`` without any."""
        self._failures += 1
        if self._since is None:
            self._since = now
        elif 0 <= now - self._last_log < _LOG_EVERY_S:
            return
        self._last_log = now
        if usable_for_s is None:
            serving = "no keys cached: bearer requests answer 503"
        else:
            serving = f"serving the cached keys for {max(usable_for_s, 0):.0f} s more"
        _logger().warning(
            "JWKS fetch from %s failed (%s); %s (%d failed fetches in %.0f s)",
            self._url,
            reason,
            serving,
            self._failures,
            now - self._since,
        )

    def recovered(self, now: float) -> None:
        """A fetch at ``now`` worked: say so once if others had failed."""
        since = self._since
        if since is None:
            return
        _logger().warning(
            "JWKS fetch from %s works again after %d failed fetches over %.0f s",
            self._url,
            self._failures,
            now - since,
        )
        self._since, self._failures = None, 0


def _logger() -> Logger:
    import logging  # only once a fetch failed: not at a cold start

    return logging.getLogger("daloy_edge.jose")
