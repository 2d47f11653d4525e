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
