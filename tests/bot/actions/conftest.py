"""What the alert's controls act with: a real store on each database (one per test module; every
test works on alerts and accounts of its own), and the real Slack client talking to the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.alert_access import AlertAccess
from bot.alerts.delivery import make_slack_client
from bot.store import Store
from testkit.slack import TOKEN, FakeSlack
from tests.conftest import database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with database(request.param, tmp_path_factory.mktemp("actions")) as url:
        store = Store.from_url(url)
        store.upgrade()
        yield store
        store.dispose()


@pytest.fixture
def slack(fake_slack: FakeSlack) -> AsyncWebClient:
    return make_slack_client(TOKEN, fake_slack.api_url, backoff_s=0.01)


@pytest.fixture
def access(store: Store) -> AlertAccess:
    return AlertAccess(store)
