"""Shared fixtures: databases (SQLite file, PostgreSQL schema), fake servers, and the real app served by
uvicorn in a thread on 127.0.0.1."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.app.container import Services
from bot.app.lifecycle import Lifecycle
from bot.app.server import prompt_server, uvicorn_options
from bot.app.tuning import Tuning
from bot.app.web import create_app
from bot.config.settings import Settings
from bot.config.signals_file import SignalsConfig, load_signals
from bot.store import Store, metadata
from testkit.examples import EXAMPLE_SIGNALS
from testkit.postgres import postgres_schema
from testkit.posthog import PROJECT_KEY, FakePostHog
from testkit.slack import SIGNING_SECRET, TOKEN, FakeSlack
from testkit.webhook_bodies import WEBHOOK_SECRET
from tests.support import stored


def pytest_configure(config: pytest.Config) -> None:
    """Compiled modules are cached in `__pycache__` even where PYTHONDONTWRITEBYTECODE is set: the suite
    starts about a hundred Python processes (servers, their workers, commands, test workers), and
    without the cache each compiles the app and the tests again. Set before xdist starts its workers,
    so they and every process a test starts inherit it."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


def database(kind: str, directory: Path) -> AbstractContextManager[str]:
    """The URL of an empty database of this kind: a SQLite file in `directory`, or a fresh
    PostgreSQL schema (for fixtures of any scope, parametrized over both)."""
    if kind == "postgres":
        return postgres_schema()
    return nullcontext(f"sqlite:///{directory / 'signals.db'}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Runs the test on SQLite and on the real PostgreSQL."""
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One real store for a whole test module, on SQLite and on PostgreSQL: for tests that each keep
    to events and accounts of their own, so they share its tables without seeing one another."""
    with database(request.param, tmp_path_factory.mktemp("store")) as url:
        store = Store.from_url(url)
        store.upgrade()
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture
def store(module_store: Store) -> Iterator[Store]:
    """The module's store (SQLite and PostgreSQL), emptied after each test."""
    yield module_store
    with module_store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def worker_store(db_url: str) -> Iterator[Store]:
    """A new store on SQLite and on PostgreSQL whose worker `w1` beats, as claims and commits need."""
    store = Store.from_url(db_url)
    store.upgrade()
    store.heartbeat("w1")
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'signals.db'}"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def fake_posthog() -> Iterator[FakePostHog]:
    with FakePostHog() as server:
        yield server


@pytest.fixture
def example_config() -> SignalsConfig:
    return load_signals(EXAMPLE_SIGNALS)


def make_settings(
    database_url: str, slack: FakeSlack | None = None, posthog: FakePostHog | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url if slack else "http://127.0.0.1:9/api/",
        "posthog_host": posthog.url if posthog else "http://127.0.0.1:9",
        "posthog_app_host_setting": "https://us.posthog.com",
        "posthog_project_api_key": PROJECT_KEY if posthog else None,
        "posthog_project_id": "12345",
        "posthog_webhook_secret": WEBHOOK_SECRET,
        "database_url": database_url,
        "slack_retry_backoff_s": 0.01,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def fast_tuning(**overrides: Any) -> Tuning:
    values: dict[str, Any] = {
        "worker_poll_s": 0.05,
        "event_retry_base_s": 0.05,
        "delivery_poll_s": 0.1,
        "alert_retry_base_s": 0.05,
        "channel_interval_s": 0.0,
        "busy_timeout_s": 1.0,
        "heartbeat_s": 0.1,
        "stale_after_s": 2.0,
        "crm_recovery_wait_s": 0.5,
        "crm_timeout_s": 1.0,
        "tally_interval_s": 0.05,
        "posthog_options": {"flush_interval": 0.05, "flush_at": 5, "max_retries": 1},
    }
    values.update(overrides)
    return Tuning(**values)


class RunningApp:
    def __init__(self, services: Services, url: str):
        self.services = services
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def post_webhook(self, body: Any, secret: str = WEBHOOK_SECRET, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
        return self.http.post("/posthog/webhook", json=body, headers=headers, **kwargs)

    def wait_decided(self, uuids: list[str], timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            entries = self.services.store.ledger_entries(uuids)
            if len(entries) == len(set(uuids)):
                return entries
            time.sleep(0.02)
        raise AssertionError(f"events not decided within {timeout}s: {uuids}")

    def totals(self, timeout: float = 10.0) -> dict[tuple[int, str], int]:
        """The ledger's totals of events no signal listens to, (minute, event name) -> events, once
        the tally has added everything it counted."""
        deadline = time.time() + timeout
        while self.services.tally.waiting:
            assert time.time() < deadline, f"the tally did not add its counts within {timeout}s"
            time.sleep(0.01)
        return stored.totals(self.services.store)


@contextmanager
def serve(
    settings: Settings, config: SignalsConfig, tuning: Tuning | None = None, clock: Any = time.time
) -> Iterator[RunningApp]:
    """The real ASGI app under uvicorn in a thread, with its worker and delivery running."""
    lifecycle = Lifecycle(Services(settings, config, tuning or fast_tuning(), clock=clock))
    app = create_app(lifecycle)
    options = {**uvicorn_options(settings, lifecycle.services.tuning), "timeout_graceful_shutdown": 5}
    server = prompt_server(uvicorn.Config(app, host="127.0.0.1", port=0, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    running = RunningApp(lifecycle.services, f"http://127.0.0.1:{port}")
    try:
        yield running
    finally:
        running.http.close()
        server.request_exit()
        thread.join(timeout=15)
