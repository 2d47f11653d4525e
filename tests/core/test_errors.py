"""HTTP errors and the problems registered for primitive errors."""

from __future__ import annotations

from tests.support.typecheck import TypeErrors


def test_a_problem_factory_reads_the_error_it_maps_for_a_users_checker(
    type_errors: TypeErrors,
) -> None:
    # Typed as taking any exception, a factory that reads its own error's fields (here
    # the quota's retry time) failed mypy --strict.
    assert (
        type_errors(
            """
            from daloy_edge import HTTPError, TooManyRequests, register_problem


            class QuotaExceeded(Exception):
                def __init__(self, retry_after: int) -> None:
                    super().__init__("quota exceeded")
                    self.retry_after = retry_after


            def quota_problem(exc: QuotaExceeded) -> HTTPError:
                return TooManyRequests(headers={"retry-after": str(exc.retry_after)})


            register_problem(QuotaExceeded, quota_problem)
            register_problem(QuotaExceeded, lambda exc: TooManyRequests(str(exc.retry_after)))
            """
        )
        == []
    )
