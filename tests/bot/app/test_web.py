"""The ASGI app as the server runs it: everything a request may need is built before it answers."""

from __future__ import annotations

import asyncio

from bot.app.container import Services
from bot.app.lifecycle import Lifecycle
from bot.app.web import create_app
from tests.conftest import fast_tuning, make_settings


def test_the_slack_side_is_built_before_the_server_answers(sqlite_url, fake_slack, example_config):
    """Bolt's imports run while the process starts, so none of them holds back a request later."""
    app = create_app(
        Lifecycle(Services(make_settings(sqlite_url, fake_slack), example_config, fast_tuning()))
    )
    starlette = app.app

    async def start_and_stop() -> None:
        async with starlette.router.lifespan_context(starlette):
            assert starlette.state.slack.bolt is not None

    asyncio.run(start_and_stop())
