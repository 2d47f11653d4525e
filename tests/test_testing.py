from __future__ import annotations

import pytest

from daloy_edge import App, ConfigError
from daloy_edge.testing import TestClient


def quiet_app() -> App:
    return App(request_log=False)


def test_a_client_used_as_a_context_manager_runs_startup_on_entry_and_shutdown_on_exit():
    events: list[str] = []
    app = quiet_app()
    app.on_startup(lambda: events.append("up"))
    app.on_shutdown(lambda: events.append("down"))

    with TestClient(app):
        assert events == ["up"]
    assert events == ["up", "down"]


def test_a_client_used_as_a_context_manager_raises_a_build_error_on_entry():
    app = quiet_app()

    class Refusing:
        def check_app(self, app: App) -> None:
            raise ConfigError("refused")

        async def __call__(self, request, call_next):
            return await call_next(request)

    app.use(Refusing())
    with pytest.raises(ConfigError), TestClient(app):
        pass


async def test_a_client_used_as_an_async_context_manager_runs_the_hooks_on_the_tests_loop():
    events: list[str] = []
    app = quiet_app()
    app.on_startup(lambda: events.append("up"))
    app.on_shutdown(lambda: events.append("down"))

    async with TestClient(app):
        assert events == ["up"]
    assert events == ["up", "down"]
