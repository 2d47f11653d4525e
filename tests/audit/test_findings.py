"""Findings, enforcement and the public surface of ``daloy_edge.audit``."""

from __future__ import annotations

import pytest

import daloy_edge.audit
from daloy_edge import ConfigError
from daloy_edge.audit import Finding, InsecureConfiguration, enforce

ERROR = Finding("hsts-off", "error", "SecureHeaders", "HSTS is off", "turn it on")
WARNING = Finding("csp-off", "warning", "SecureHeaders", "no CSP", "turn it on")


def test_public_surface_is_pinned() -> None:
    assert sorted(daloy_edge.audit.__all__) == [
        "Finding",
        "InsecureConfiguration",
        "Severity",
        "audit_app",
        "audit_environment",
        "enforce",
    ]


def test_enforce_refuses_on_an_error() -> None:
    with pytest.raises(InsecureConfiguration) as info:
        enforce([WARNING, ERROR])
    assert info.value.findings == (ERROR,)


def test_refusal_is_a_config_error_listing_each_fix() -> None:
    with pytest.raises(
        ConfigError, match=r"\[hsts-off\] SecureHeaders: HSTS is off\. Fix: turn it on\."
    ):
        enforce([ERROR])


def test_enforce_lets_warnings_through() -> None:
    enforce([WARNING])
