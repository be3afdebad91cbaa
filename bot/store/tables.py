"""The tables: one definition for SQLite and PostgreSQL. Every string column binds through
`storable()` (bot/store/storable.py), so no text an event or a user sends can fail a transaction."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
)

from bot.store.storable import StorableString as String
from bot.store.storable import StorableText as Text

metadata = MetaData()

inbox = Table(
    "inbox",
    metadata,
    Column("uuid", String(200), primary_key=True),
    Column("event_name", String(400), nullable=False),
    # NULL: decided at ingest by 0.2.0 (no signal wanted it), or decided past the payload retention
    Column("payload", Text, nullable=True),
    Column("status", String(16), nullable=False),  # pending | claimed | done
    Column("received_at", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_inbox_due", "status", "received_at"),  # claims take the oldest due events first
)

ledger = Table(
    "ledger",
    metadata,
    Column("event_uuid", String(200), primary_key=True),
    Column("event_name", String(400), nullable=False),
    Column("distinct_id", String(400), nullable=True),
    Column("account", String(300), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("signals", Text, nullable=False),  # JSON: [{signal, outcome, reason, score?, alert_id?}]
    Column("event_time", Float, nullable=True),
    Column("decided_at", Float, nullable=False),
    Column("request_id", String(64), nullable=False),
    Index("ix_ledger_account", "account", "event_time"),
    Index("ix_ledger_distinct_id", "distinct_id", "event_time"),  # a person's story (`/posthog why`)
    Index("ix_ledger_decided", "decided_at"),  # a period's entries (`stats`)
    # Outcome counts (`/metrics`), and an account's entries held back by a snooze (`why`, the worker).
    Index("ix_ledger_outcome_account", "outcome", "account", "decided_at"),
)

# Events no signal listens to are not kept one by one: the ledger holds how many of each name arrived
# in each minute, by outcome (`filtered`), added to by the web process about once a second.
ledger_totals = Table(
    "ledger_totals",
    metadata,
    Column("minute", BigInteger, primary_key=True),  # epoch seconds of the minute's start
    Column("event_name", String(400), primary_key=True),
    Column("outcome", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# Ledger entries by signal and UTC hour of their decision: `stats` sums a period's whole hours here
# instead of reading its entries. Added to in the transaction that writes the entries.
signal_hours = Table(
    "signal_hours",
    metadata,
    Column("hour", BigInteger, primary_key=True),  # epoch seconds of the hour's start
    Column("signal", String(100), primary_key=True),
    Column("events", BigInteger, nullable=False),  # entries that name the signal
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("event_uuid", String(200), nullable=False),
    Column("signal", String(100), nullable=False),
    Column("account", String(300), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("owner", String(32), nullable=True),
    Column("score", Integer, nullable=False),
    Column("message", Text, nullable=False),  # JSON: chat.postMessage arguments
    Column("status", String(16), nullable=False),  # pending | sending | posted | failed
    Column("ts", String(32), nullable=True),
    Column("posted_channel", String(100), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False, default=0.0),
    Column("claimed_by", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("sending_since", Float, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("posted_at", Float, nullable=True),
    Column("request_id", String(64), nullable=False),
    Column("error", Text, nullable=True),
    Column("details", Text, nullable=False, default="{}"),  # JSON: what a CRM task and updates need
    Column("state", Text, nullable=False, default="{}"),  # JSON: task, snooze, feedback shown on the alert
    Column("thread_of", String(32), nullable=True),  # the alert whose thread this one is posted in
    Column("digest_id", String(32), nullable=True),  # the digest a `deliver: digest` alert went out in
    Column("auto_task", Integer, nullable=False, server_default="0"),  # 1: its task is made once it is posted
    UniqueConstraint("event_uuid", "signal", name="uq_alerts_event_signal"),
    Index("ix_alerts_due", "status", "next_attempt_at"),
    Index("ix_alerts_thread_of", "thread_of"),
    Index("ix_alerts_owner", "owner", "created_at"),  # an owner's recent alerts (the Home tab)
    Index("ix_alerts_auto_task", "auto_task", "status"),  # posted alerts still owed their automatic task
    Index("ix_alerts_created", "created_at"),  # the week's alerts (the Home tab's counts)
)

cooldowns = Table(
    "cooldowns",
    metadata,
    Column("signal", String(100), primary_key=True),
    Column("account", String(300), primary_key=True),
    Column("last_alert_at", Float, nullable=False),
    Index("ix_cooldowns_account", "account"),  # the worker reads an account's cooldowns for each event
)

# The events a threshold signal counted, one row per (signal, event): a redelivered event is not
# counted twice. An account's window is read along (signal, account, event_time).
threshold_events = Table(
    "threshold_events",
    metadata,
    Column("signal", String(100), primary_key=True),
    Column("event_uuid", String(200), primary_key=True),
    Column("account", String(300), nullable=False),
    Column("event_time", Float, nullable=False),
    Column("distinct_id", String(400), nullable=True),
    Column("value", Float, nullable=False),
    Index("ix_threshold_events_window", "signal", "account", "event_time"),
)

# One row per (signal, account) that has counted anything: what counting locks, so that processes
# counting the same account on PostgreSQL take turns and each sees what the others counted.
threshold_accounts = Table(
    "threshold_accounts",
    metadata,
    Column("signal", String(100), primary_key=True),
    Column("account", String(300), primary_key=True),
)

# An account's thread in a channel: the alert every later alert of the account replies to while each
# comes within 7 days of the one before. `started_at` is the thread's latest alert (root or reply), moved
# forward by every alert that joins. Taken by upsert, so two processes alerting at once agree on one root.
threads = Table(
    "threads",
    metadata,
    Column("account", String(300), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("root_alert_id", String(32), nullable=False),
    Column("started_at", Float, nullable=False),
)

# One row per query signal: its latest run. Starting a run moves `started_at` forward only when the
# previous run is at least `every` old, so one process runs each interval.
query_runs = Table(
    "query_runs",
    metadata,
    Column("signal", String(100), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("result", String(16), nullable=True),  # ok | error
    Column("rows", Integer, nullable=True),
    Column("error", Text, nullable=True),
)

report_schedule = Table(
    "report_schedule",
    metadata,
    Column("channel", String(100), primary_key=True),
    Column("started_at", Float, nullable=False),  # the first start that saw `reports`: the anchor
)

snoozes = Table(
    "snoozes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account", String(300), nullable=False),
    Column("until", Float, nullable=False),
    Column("snoozed_by", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("alert_id", String(32), nullable=True),  # the alert it was snoozed from
    Column("reported", Integer, nullable=False, default=0),  # 1 once an alert told what it held back
    Index("ix_snoozes_account", "account", "until"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("alert_id", String(32), primary_key=True),  # one task per alert, however often it is clicked
    Column("status", String(16), nullable=False),  # creating | created | failed
    Column("uncertain", Integer, nullable=False, default=0),  # a create may have reached the CRM
    Column("attempt_at", Float, nullable=False),
    Column("requested_by", String(32), nullable=False),
    Column("crm", String(16), nullable=False),  # hubspot | store
    Column("crm_id", String(64), nullable=True),
    Column("url", String(3000), nullable=True),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("owner", String(64), nullable=True),
    Column("created_at", Float, nullable=True),
    Column("error", Text, nullable=True),
)

feedback = Table(
    "feedback",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("reason", String(32), nullable=False),
    Column("text", Text, nullable=True),
    Column("user_id", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
)

enrichment_cache = Table(
    "enrichment_cache",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("value", Text, nullable=True),  # NULL: the provider knows nothing (negative cache)
    Column("fetched_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)


workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("heartbeat_at", Float, nullable=False),
    Column("started_at", Float, nullable=False),
)


llm_usage = Table(
    "llm_usage",
    metadata,
    Column("day", String(10), primary_key=True),  # UTC date
    Column("tokens", Integer, nullable=False),
)
