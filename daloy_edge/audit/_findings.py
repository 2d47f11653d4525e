"""What an audit reports, and the error that refuses to start an insecure app."""

from __future__ import annotations

from daloy_edge._errors import ConfigError
from daloy_edge._record import record

__all__ = ["Finding", "InsecureConfiguration", "Severity", "enforce"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Literal, TypeAlias

    Severity: TypeAlias = Literal["error", "warning"]


def __getattr__(name: str) -> object:
    # The alias is built (importing ``typing``) only for those who ask for it.
    if name == "Severity":
        from typing import Literal

        return Literal["error", "warning"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@record(frozen=True)
class Finding:
    """One problem found in a configuration.

    ``code`` is stable (``cors-wildcard-credentials``); ``subject`` names what is wrong
    (an environment variable or a middleware); ``problem`` says why it is unsafe and
    ``fix`` what to do. Messages never contain a secret's value.

    >>> Finding("hsts-off", "error", "SecureHeaders", "HSTS is off", "set hsts_max_age").message
    'SecureHeaders: HSTS is off. Fix: set hsts_max_age.'
    """

    code: str
    severity: Severity
    subject: str
    problem: str
    fix: str

    @property
    def message(self) -> str:
        """``<subject>: <problem>. Fix: <fix>.``"""
        return f"{self.subject}: {self.problem}. Fix: {self.fix}."


class InsecureConfiguration(ConfigError):
    """The configuration has findings of severity ``error``; the app refuses to start.

    ``findings`` holds them; the message lists each with its fix.
    """

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.findings = tuple(findings)
        lines = "\n".join(f"  - [{f.code}] {f.message}" for f in self.findings)
        super().__init__(f"insecure configuration, refusing to start:\n{lines}")


def enforce(findings: Iterable[Finding]) -> None:
    """Raise :class:`InsecureConfiguration` when any finding is an error.

    Warnings never stop an app; ``daloy-edge check --strict`` fails on them instead.
    """
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise InsecureConfiguration(errors)
