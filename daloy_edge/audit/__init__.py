"""Refuse-to-boot audit: insecure configurations found before the first request.

Two audits, both pure (no network, no disk):

- :func:`audit_environment` reads the ``DALOY_*`` variables of the reference app
  (CONTRACT.md): wildcard CORS with credentials, short or placeholder secrets, forwarding
  headers trusted from everyone, development mode, unpinned JWT issuer/audience, ...
- :func:`audit_app` reads a built :class:`~daloy_edge.App` through its middleware
  configuration: HSTS off, sessions without CSRF, insecure cookies, weak keys, ...

Each :class:`Finding` carries its fix. :func:`enforce` raises
:class:`InsecureConfiguration` (a :class:`~daloy_edge.ConfigError`) on any error; the
reference app calls it in production, ``daloy-edge check`` prints every finding.

>>> from daloy_edge.audit import audit_environment, enforce
>>> enforce(audit_environment({"DALOY_ENV": "production"}))  # warnings never refuse
"""

from __future__ import annotations

from daloy_edge._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.audit._application import audit_app
    from daloy_edge.audit._environment import audit_environment
    from daloy_edge.audit._findings import Finding, InsecureConfiguration, Severity, enforce

__all__ = [
    "Finding",
    "InsecureConfiguration",
    "Severity",
    "audit_app",
    "audit_environment",
    "enforce",
]

# Each name loads its module on first access, so ``enforce`` or ``Finding`` alone does not
# load the rules, and an app that only audits its environment skips the app audit.
_HOME = {
    "Finding": "_findings",
    "InsecureConfiguration": "_findings",
    "Severity": "_findings",
    "enforce": "_findings",
    "audit_app": "_application",
    "audit_environment": "_environment",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME, globals())
