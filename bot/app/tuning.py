"""The timings a process runs with: how often the worker, delivery and heartbeat look, how long
leases, waits and timeouts last.

On their own because so much reads them: the composition root (what it builds), the lifecycle (how
often it beats), the server's uvicorn options, `serve`'s worker processes, and the tests, the demo and
the benchmarks that shorten them. Naming a timing imports nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tuning:
    """Timings that tests and the demo shorten; production uses the defaults."""

    worker_poll_s: float = 1.0
    event_lease_s: float = 120.0
    event_retry_base_s: float = 2.0
    delivery_poll_s: float = 5.0
    alert_lease_s: float = 600.0
    alert_retry_base_s: float = 2.0
    channel_interval_s: float = 1.0  # Slack's pace for one channel: a message a second on average
    channel_burst: int = 3  # messages one channel may get at once after a quiet spell
    busy_timeout_s: float = 5.0
    heartbeat_s: float = 5.0
    stale_after_s: float = 30.0
    crm_recovery_wait_s: float = 10.0  # HubSpot's search lags new records by a few seconds
    crm_timeout_s: float = 10.0
    # The whole `owner: crm` lookup (HubSpot company, owner, Slack user): short, so the alert goes out
    # on time without an owner rather than wait for a slow CRM.
    owner_lookup_timeout_s: float = 3.0
    # How long a webhook waits for its commit before answering 503: inside PostHog's 3-second
    # delivery timeout, so a database that stops answering gets a retry rather than a hung request.
    ingest_deadline_s: float = 1.5
    # How long `/healthz` waits for the store: a load balancer's probe gets its answer, 503
    # included, well inside its own timeout.
    health_timeout_s: float = 1.5
    # How often the counts of events no signal listens to are added to the ledger's totals: a crash
    # loses what was counted since, so half a second keeps that within the last second.
    tally_interval_s: float = 0.5
    # How long a client may take to send a request head, and then its body, before it is cut off.
    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    slack_timeout_s: float = 10.0  # any one Slack call by the worker (at most stale_after_s / 3)
    slack_outage_limit_s: float = 3600.0  # an alert Slack does not answer for this long is failed
    crm_task_busy_s: float = 60.0  # a task attempt older than this is presumed dead and may be taken over
    auto_task_sweep_s: float = 30.0  # how often a worker looks for automatic tasks a dead process owed
    housekeeping_s: float = 3600.0  # how often a worker forgets what no decision can need any more
    query_timeout_s: float = 60.0  # one scheduled HogQL query (PostHog stops API queries at 60 s)
    query_max_rows: int = 10_000  # rows of one scheduled query's run taken; more are logged and left
    posthog_options: dict[str, Any] = field(default_factory=dict)
