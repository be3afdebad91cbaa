"""Prometheus metrics. Outcomes and queue depth are read from the shared store at scrape time, so they
agree with the ledger across restarts and processes. The counters are this server's: when `serve` runs
the worker in its own process, both processes write them to PROMETHEUS_MULTIPROC_DIR and the web
process adds them up for `/metrics` (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


STORE_READ_TIMEOUT_S = 1.0
_STORE_READS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="metrics-store")


class _StoreCollector(Collector):
    def __init__(self, outcomes: Callable[[], dict[str, int]], depth: Callable[[], int]):
        self._outcomes = outcomes
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        # A scrape must not fail, nor hang, because the store is down or stopped answering: the
        # other counters (webhooks refused, say) matter most just then.
        read = _STORE_READS.submit(lambda: (self._outcomes(), self._depth()))
        try:
            counts, depth = read.result(timeout=STORE_READ_TIMEOUT_S)
        except Exception as exc:
            log.warning("metrics: store unavailable: %s", type(exc).__name__)
            return
        outcomes = CounterMetricFamily(
            "signals_outcomes", "Events by recorded outcome (the decision ledger)", labels=["outcome"]
        )
        for outcome, count in sorted(counts.items()):
            outcomes.add_metric([outcome], count)
        yield outcomes
        yield GaugeMetricFamily(
            "signals_queue_depth", "Events not yet decided plus alerts not yet posted", depth
        )


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class WebhookCounts(Collector):
    """`signals_webhook_events_total{result}`: counted in plain integers, because only the web process
    that serves `/metrics` counts them, and a shared-memory counter per request costs real throughput."""

    RESULTS = ("accepted", "duplicate", "rejected")

    def __init__(self) -> None:
        self._counts = dict.fromkeys(self.RESULTS, 0)

    def add(self, result: str, count: int = 1) -> None:
        self._counts[result] += count

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("signals_webhook_events", "Webhook events by result", labels=["result"])
        for result, count in self._counts.items():
            family.add_metric([result], count)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        shared = multiprocess_dir()
        if shared:
            # Values live in files shared by this server's processes; expose their sum, not ours.
            multiprocess.MultiProcessCollector(self.registry, path=shared)
        r = None if shared else self.registry
        self.webhook_events = WebhookCounts()
        self.registry.register(self.webhook_events)
        self.alerts_posted = Counter("signals_alerts_posted", "Alerts posted to Slack", registry=r)
        self.webhook_to_slack = Histogram(
            "signals_webhook_to_slack_seconds",
            "From webhook receipt to Slack accepting the alert",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.slack_errors = Counter(
            "signals_slack_errors", "Slack API errors by error code", ["error"], registry=r
        )
        self.enrichment_calls = Counter(
            "signals_enrichment_calls",
            "Enrichment lookups by provider and result",
            ["provider", "result"],
            registry=r,
        )
        self.enrichment_seconds = Histogram(
            "signals_enrichment_seconds", "Enrichment API call duration", registry=r
        )
        self.summaries = Counter("signals_summaries", "Alert summaries by kind", ["kind"], registry=r)
        self.llm_tokens = Counter(
            "signals_llm_tokens", "Claude tokens by direction", ["direction"], registry=r
        )
        self.llm_cost = Counter("signals_llm_cost_usd", "Estimated Claude cost in US dollars", registry=r)
        self.llm_calls = Counter(
            "signals_llm_calls", "Claude summary calls by result", ["result"], registry=r
        )
        self.writebacks = Counter(
            "signals_posthog_writebacks", "Enrichment write-backs queued to PostHog", ["kind"], registry=r
        )
        self.pipeline_errors = Counter(
            "signals_pipeline_errors", "Events whose processing raised and will be retried", registry=r
        )
        self.query_runs = Counter(
            "signals_query_runs",
            "Scheduled query runs by signal and result",
            ["signal", "result"],
            registry=r,
        )

    def attach_store(self, outcomes: Callable[[], dict[str, int]], depth: Callable[[], int]) -> None:
        self.registry.register(_StoreCollector(outcomes, depth))

    def render(self) -> bytes:
        return generate_latest(self.registry)
