"""Company firmographics for an account: PostHog group properties, the companies file, and an optional
HTTP provider behind a TTL cache (with a shorter negative cache for unknown domains).

A failing provider never blocks an alert: the account is scored with what is known, and the failure
is counted. Concurrent lookups of one domain share a single request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from bot.config.signals_file import Enrichment, HttpProvider
from bot.decide.accounts import Account
from bot.decide.domains import normalise_domain
from bot.decide.matching import MISSING, lookup
from bot.ops.metrics import Metrics
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Company:
    fields: dict[str, Any]
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def known(self) -> bool:
        return bool(self.sources)


class EnrichmentError(Exception):
    """A provider could not answer this time (timeout, 5xx, bad JSON); nothing is cached."""


def load_companies_file(path: Path) -> dict[str, dict[str, Any]]:
    """The companies file keyed by normalised domain. Raises ValueError naming the bad entry."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a JSON object keyed by domain")
    companies: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        domain = normalise_domain(key)
        if domain is None:
            raise ValueError(f"{path}: {key!r} is not a domain")
        if not isinstance(value, dict):
            raise ValueError(f"{path}: {key}: must be an object of company fields")
        companies[domain] = {**value, "domain": domain}
    return companies


class HttpCompanies:
    """A generic firmographics API: URL template with {domain}, header auth, field mapping."""

    name = "http"

    def __init__(self, config: HttpProvider, client: httpx.AsyncClient):
        self.config = config
        self.client = client

    def _headers(self) -> dict[str, str]:
        if not self.config.auth_header or not self.config.auth_env:
            return {}
        credential = os.environ.get(self.config.auth_env, "").strip()
        if not credential:
            raise EnrichmentError(f"environment variable {self.config.auth_env} is not set")
        return {self.config.auth_header: self.config.auth_prefix + credential}

    async def fetch(self, domain: str) -> dict[str, Any] | None:
        """Mapped fields, or None when the provider does not know the domain."""
        url = self.config.url.replace("{domain}", quote(domain, safe=""))
        timeout_s = self.config.timeout.total_seconds()
        try:
            # httpx's timeout applies per phase (connect, each read); this bounds the whole call.
            async with asyncio.timeout(timeout_s):
                response = await self.client.get(url, headers=self._headers(), timeout=timeout_s)
        except TimeoutError:
            raise EnrichmentError(f"no answer within {timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise EnrichmentError(f"{type(exc).__name__}") from None
        if response.status_code in self.config.not_found_status:
            return None
        if response.status_code != 200:
            raise EnrichmentError(f"HTTP {response.status_code}")
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise EnrichmentError("the response is not JSON") from None
        if not isinstance(data, dict):
            raise EnrichmentError("the response is not a JSON object")
        mapped = {}
        for name, path in self.config.fields.items():
            value = lookup(data, path)
            if value is not MISSING and value is not None:
                mapped[name] = value
        return mapped or None


class Enricher:
    def __init__(self, config: Enrichment, store: Store, client: httpx.AsyncClient, metrics: Metrics):
        self.config = config
        self.store = store
        self.metrics = metrics
        self.companies = load_companies_file(config.file) if config.file else {}
        self.http = HttpCompanies(config.http, client) if config.http else None
        self._inflight: dict[str, asyncio.Future[dict[str, Any] | None]] = {}

    async def company(self, account: Account) -> Company:
        fields: dict[str, Any] = {}
        sources: list[str] = []
        if account.group_properties:
            fields.update(account.group_properties)
            sources.append("PostHog group")
        if account.domain:
            fields.setdefault("domain", account.domain)
            known = self.companies.get(account.domain)
            if known is not None:
                self.metrics.enrichment_calls.labels(provider="file", result="hit").inc()
                fields.update(known)
                sources.append("companies file")
            elif self.http is not None:
                found = await self._http_company(account.domain)
                if found:
                    fields.update(found)
                    sources.append("enrichment API")
        return Company(fields=fields, sources=tuple(sources))

    async def _http_company(self, domain: str) -> dict[str, Any] | None:
        pending = self._inflight.get(domain)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._inflight[domain] = future
        try:
            value = await self._cached_http_company(domain)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_result(None)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return None
        finally:
            del self._inflight[domain]

    async def _cached_http_company(self, domain: str) -> dict[str, Any] | None:
        assert self.http is not None
        hit, value = await self.store.call(self.store.cache_get, "http", domain, time.time())
        if hit:
            self.metrics.enrichment_calls.labels(provider="http", result="cached").inc()
            return value
        started = time.perf_counter()
        try:
            value = await self.http.fetch(domain)
        except EnrichmentError as exc:
            self.metrics.enrichment_calls.labels(provider="http", result="error").inc()
            log.warning("enrichment failed for %s: %s", domain, exc)
            return None
        finally:
            self.metrics.enrichment_seconds.observe(time.perf_counter() - started)
        ttl = self.config.cache_ttl if value is not None else self.config.negative_ttl
        self.metrics.enrichment_calls.labels(provider="http", result="found" if value else "not_found").inc()
        await asyncio.to_thread(self.store.cache_put, "http", domain, value, ttl.total_seconds())
        return value
