"""Enrichment through the real httpx client against a fake firmographics API, with the store's cache."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bot.config.signals_file import load_signals, parse_signals
from bot.decide.accounts import Account
from bot.decide.enrich import Enricher
from bot.ops.metrics import Metrics
from bot.store import Store
from testkit.base import Reply
from testkit.enrichment import API_KEY, FakeEnrichment, signals_with_http_provider
from testkit.examples import EXAMPLE_SIGNALS
from testkit.webhook_bodies import activation
from tests.conftest import make_settings, serve


@pytest.fixture
def fake_api(monkeypatch):
    monkeypatch.setenv("ENRICH_TEST_KEY", API_KEY)
    with FakeEnrichment() as server:
        yield server


def _config(url: str, **overrides):
    data = {
        "signals": [{"name": "S", "event": "e"}],
        "routing": [{"channel": "C0TEST"}],
        "enrichment": {
            "file": str(EXAMPLE_SIGNALS.parent / "companies.json"),
            "negative_ttl": "1h",
            "http": {
                "url": url + "/v1/companies?domain={domain}",
                "auth_header": "Authorization",
                "auth_env": "ENRICH_TEST_KEY",
                "auth_prefix": "Bearer ",
                "timeout": "1s",
                "fields": {
                    "name": "name",
                    "employees": "metrics.employees",
                    "industry": "category.industry",
                    "funding_stage": "funding.stage",
                    "tech_stack": "tech",
                    "country": "geo.country_code",
                },
                **overrides,
            },
        },
    }
    return parse_signals(data, EXAMPLE_SIGNALS).enrichment


def _run(enricher_args, *domains):
    async def go():
        async with httpx.AsyncClient() as client:
            enricher = Enricher(*enricher_args[:2], client, enricher_args[2])
            return [await enricher.company(Account(key=d, domain=d, source="test")) for d in domains]

    return asyncio.run(go())


def _store(db_url) -> Store:
    store = Store.from_url(db_url)
    store.upgrade()
    return store


def test_file_first_then_api_with_field_mapping(db_url, fake_api):
    store = _store(db_url)
    acme, umbrella = _run((_config(fake_api.url), store, Metrics()), "acme.com", "umbrella.io")
    assert acme.fields["name"] == "Acme Corp" and acme.sources == ("companies file",)
    assert umbrella.fields == {
        "domain": "umbrella.io",
        "name": "Umbrella Corp",
        "employees": 900,
        "industry": "saas",
        "funding_stage": "series_c",
        "tech_stack": ["snowflake", "dbt"],
        "country": "GB",
    }
    assert fake_api.lookups() == ["umbrella.io"]  # the file answered for acme.com


def test_api_answers_are_cached_including_unknown_domains(db_url, fake_api):
    store = _store(db_url)
    metrics = Metrics()
    first = _run((_config(fake_api.url), store, metrics), "umbrella.io", "nobody.example")
    second = _run((_config(fake_api.url), store, metrics), "umbrella.io", "nobody.example")
    assert first[0].fields == second[0].fields
    assert not second[1].known
    assert fake_api.lookups() == ["umbrella.io", "nobody.example"]  # the second round came from the cache


def test_failures_are_not_cached_and_do_not_raise(db_url, fake_api):
    store = _store(db_url)
    fake_api.script(Reply(503, {"error": "busy"}), Reply(200, b"<html>", {"Content-Type": "text/html"}))
    config = _config(fake_api.url)
    failed = _run((config, store, Metrics()), "umbrella.io", "umbrella.io")
    assert [c.known for c in failed] == [False, False]
    recovered = _run((config, store, Metrics()), "umbrella.io")
    assert recovered[0].fields["name"] == "Umbrella Corp"


def test_timeout_is_bounded(db_url, fake_api):
    store = _store(db_url)
    fake_api.script(Reply(200, {"name": "late"}, delay_s=3))
    started = time.perf_counter()
    result = _run((_config(fake_api.url, timeout="0.3s"), store, Metrics()), "umbrella.io")
    assert time.perf_counter() - started < 2
    assert not result[0].known


def test_an_answer_that_trickles_in_is_cut_at_the_timeout(sqlite_url, fake_api):
    """A provider that answers at once and then sends its body a byte every 0.2 s never leaves a read
    waiting 0.5 s, yet would take a minute: `timeout` bounds the whole call, not each read."""
    store = _store(sqlite_url)
    fake_api.script(Reply(200, {"name": "Umbrella Corp", "padding": "x" * 300}, trickle_s=0.2))
    metrics = Metrics()
    started = time.perf_counter()
    result = _run((_config(fake_api.url, timeout="0.5s"), store, metrics), "umbrella.io")
    assert time.perf_counter() - started < 1.5
    assert not result[0].known
    assert 'signals_enrichment_calls_total{provider="http",result="error"} 1.0' in metrics.render().decode()


def test_concurrent_lookups_of_one_domain_share_one_request(sqlite_url, fake_api):
    store = _store(sqlite_url)
    fake_api.default_delay_s = 0.2

    async def go():
        async with httpx.AsyncClient() as client:
            enricher = Enricher(_config(fake_api.url), store, client, Metrics())
            account = Account(key="umbrella.io", domain="umbrella.io", source="test")
            return await asyncio.gather(*(enricher.company(account) for _ in range(10)))

    results = asyncio.run(go())
    assert all(r.fields["name"] == "Umbrella Corp" for r in results)
    assert fake_api.lookups() == ["umbrella.io"]


def test_missing_credential_skips_the_api(sqlite_url, fake_api, monkeypatch):
    monkeypatch.delenv("ENRICH_TEST_KEY")
    store = _store(sqlite_url)
    result = _run((_config(fake_api.url), store, Metrics()), "umbrella.io")
    assert not result[0].known
    assert fake_api.lookups() == []


def test_a_credential_of_its_own_is_sent_to_the_enrichment_api(sqlite_url, fake_slack, tmp_path, monkeypatch):
    """The bot's own settings are refused as `auth_env`; a variable of the API's own, such as
    ENRICHMENT_API_KEY, is sent as configured, and the alert carries what the API knows."""
    monkeypatch.setenv("ENRICHMENT_API_KEY", API_KEY)
    with FakeEnrichment() as enrichment:
        signals = signals_with_http_provider(tmp_path / "signals.yml", enrichment.url, "ENRICHMENT_API_KEY")
        with serve(make_settings(sqlite_url, fake_slack), load_signals(signals)) as app:
            assert app.post_webhook(activation("umbrella.io")).status_code == 202
            fake_slack.wait_for(lambda s: s.posted())
        assert [r.headers.get("authorization") for r in enrichment.requests] == [f"Bearer {API_KEY}"]
        assert "Umbrella Corp" in fake_slack.posted()[0]["text"]
