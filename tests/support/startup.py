"""Start-up hooks for tests of a start-up that fails."""

from __future__ import annotations

from daloy_edge import App


def failing_first_startup(app: App) -> list[int]:
    """Register a start-up hook that raises the first time it runs only (a secrets
    endpoint not reachable at a cold start); the list records each run."""
    runs: list[int] = []

    @app.on_startup
    def load_keys() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise OSError("secrets endpoint not reachable")

    return runs
