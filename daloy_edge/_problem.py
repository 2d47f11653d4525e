"""Turning exceptions into problem+json responses: the single rendering point."""

from __future__ import annotations

from daloy_edge._errors import InternalServerError, problem_for
from daloy_edge._headers import check_field
from daloy_edge._json import dumps
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    from daloy_edge._errors import HTTPError, Problems
    from daloy_edge._request import Request

    ErrorRenderer: TypeAlias = Callable[[Request, BaseException], Response]

__all__ = ["ErrorRenderer", "error_renderer", "problem_response", "render_error"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Fields that describe the body; the problem document is the body, so an error's own
# (headers copied from an upstream's answer) would misdescribe it.
_BODY_FIELDS = frozenset({"content-type", "content-encoding", "content-length"})


def problem_response(error: HTTPError, request_id: str | None) -> Response:
    """The problem+json response for ``error``."""
    response = Response(
        dumps(error.problem(request_id)), error.status, media_type=PROBLEM_MEDIA_TYPE
    )
    headers = response.headers
    # Checked here, not when the error was made: a field added to ``error.headers``
    # after that reaches the response too.
    for name, given in error.headers.items():
        value = check_field(name, given)
        key = name.lower()
        if key not in _BODY_FIELDS:
            headers.put_lowered(key, value)
    headers.put_lowered("cache-control", "no-store")
    return response


def error_renderer(*, debug: bool, problems: Problems | None = None) -> ErrorRenderer:
    """A renderer; ``debug`` adds exception text and trace to 500s (development only);
    ``problems`` are the app's own mappings (the dict itself, read at each error)."""

    def render(request: Request, exc: BaseException) -> Response:
        request.state.setdefault("error", exc)
        try:
            error = problem_for(exc, problems)
            if error is None:
                error = _debugged(exc) if debug else InternalServerError()
            return problem_response(error, request.request_id or None)
        except Exception as refused:
            # A field of ``error.headers`` no runtime sends, an HTTPError whose own
            # ``__init__`` skipped HTTPError's, a ``register_problem`` factory that
            # fails: the renderer is the last step of every answer, and what it raised
            # escaped the app (no answer, no line) where nothing renders after it.
            request.state["error"] = refused
            error = _debugged(refused) if debug else InternalServerError()
            return problem_response(error, request.request_id or None)

    return render


def _debugged(exc: BaseException) -> InternalServerError:
    """The development 500: the exception's text and trace, scrubbed as its log line is
    (a password or token in the message of the exception or of its cause showed as is)
    and bounded as it is (a 1 MB message made a 2 MB page)."""
    from daloy_edge.observability._record import exception_text, scrubbed_trace
    from daloy_edge.observability._redact import Redactor

    redactor = Redactor()
    error = InternalServerError()
    # The type name outside the scrubbed text, as in the trace: read as a key
    # (``KeyError: 'user_id'``), it had the message's first word replaced.
    error.detail = f"{type(exc).__name__}: {redactor.scrub(exception_text(exc))}"
    trace = scrubbed_trace(exc, redactor)
    error.extra = {"traceback": trace.splitlines(keepends=True)}
    return error


render_error: ErrorRenderer = error_renderer(debug=False)
"""The production renderer: clients learn the status and title, never the exception."""
