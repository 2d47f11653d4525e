"""HTTP errors and the problems registered for primitive errors."""

from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError, HTTPError, NotFound, Request, register_problem
from daloy_edge.testing import TestClient
from tests.support.typecheck import TypeErrors


def test_a_problem_factory_reads_the_error_it_maps_for_a_users_checker(
    type_errors: TypeErrors,
) -> None:
    # Typed as taking any exception, a factory that reads its own error's fields (here
    # the quota's retry time) failed mypy --strict.
    assert (
        type_errors(
            """
            from daloy_edge import App, HTTPError, TooManyRequests, register_problem


            class QuotaExceeded(Exception):
                def __init__(self, retry_after: int) -> None:
                    super().__init__("quota exceeded")
                    self.retry_after = retry_after


            def quota_problem(exc: QuotaExceeded) -> HTTPError:
                return TooManyRequests(headers={"retry-after": str(exc.retry_after)})


            register_problem(QuotaExceeded, quota_problem)
            register_problem(QuotaExceeded, lambda exc: TooManyRequests(str(exc.retry_after)))
            App().register_problem(QuotaExceeded, quota_problem)
            """
        )
        == []
    )


def _refusing(error: HTTPError) -> App:
    app = App(env={}, request_log=False)

    @app.get("/x")
    async def refuse(request: Request) -> None:
        raise error

    return app


def test_an_http_error_carrying_an_upstreams_content_type_is_still_a_problem() -> None:
    error = HTTPError("upstream refused", status=502, headers={"Content-Type": "text/html"})
    response = TestClient(_refusing(error)).get("/x")
    assert response.headers.get_all("content-type") == ["application/problem+json"]
    assert response.json()["status"] == 502


def test_an_http_error_carrying_an_upstreams_content_encoding_is_not_sent_as_gzip() -> None:
    error = HTTPError("upstream refused", status=502, headers={"content-encoding": "gzip"})
    response = TestClient(_refusing(error)).get("/x")
    assert "content-encoding" not in response.headers
    assert response.json()["status"] == 502


def test_head_of_an_http_error_carrying_a_content_length_states_the_problems_length() -> None:
    error = HTTPError("upstream refused", status=502, headers={"Content-Length": "5"})
    client = TestClient(_refusing(error))
    assert client.head("/x").headers["content-length"] == str(len(client.get("/x").content))


class LedgerLocked(Exception):
    """An error of the app's own domain, knowing nothing of HTTP."""


class NightlyLock(LedgerLocked):
    pass


def _raising(error: Exception) -> App:
    app = App(env={}, request_log=False)

    @app.get("/x")
    async def fail(request: Request) -> None:
        raise error

    return app


def test_one_apps_problem_mapping_leaves_another_apps_answers_alone() -> None:
    # Mapped with the process-wide register_problem, the billing API's 409 became the
    # shop's answer too, where the same exception is a bug (500): two APIs in one
    # function, tenants and tests build apps side by side.
    billing, shop = _raising(NightlyLock()), _raising(NightlyLock())
    billing.register_problem(LedgerLocked, lambda exc: HTTPError("ledger closed", status=409))
    answer = TestClient(billing).get("/x")
    assert (answer.status, answer.json()["detail"]) == (409, "ledger closed")
    assert TestClient(shop).get("/x").status == 500


def test_an_apps_own_mapping_comes_before_the_process_wide_one_for_its_class() -> None:
    class Overdrawn(Exception):
        pass

    register_problem(Overdrawn, lambda exc: HTTPError("overdrawn", status=402))
    own, shared = _raising(Overdrawn()), _raising(Overdrawn())
    own.register_problem(Overdrawn, lambda exc: HTTPError("see billing", status=409))
    assert TestClient(own).get("/x").status == 409
    assert TestClient(shared).get("/x").status == 402


class Declined(Exception):
    pass


def _declined(exc: Declined) -> HTTPError:
    return HTTPError("declined", status=402)


@pytest.mark.parametrize(
    ("exc_type", "factory"),
    [
        (Declined(), _declined),  # an instance: kept, never matched, the error a 500
        ("Declined", _declined),
        (NotFound, _declined),  # an HTTPError is answered as it is: never mapped
        (Declined, HTTPError("declined", status=402)),  # no factory to call
    ],
)
@pytest.mark.parametrize("where", ["app", "process"])
def test_a_problem_mapping_that_could_never_be_used_refuses_to_register(
    exc_type: object, factory: object, where: str
) -> None:
    register = App().register_problem if where == "app" else register_problem
    with pytest.raises(ConfigError, match=r"register_problem needs|is an HTTPError"):
        register(exc_type, factory)  # type: ignore[arg-type]
