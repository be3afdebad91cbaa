"""A database as posthog-slack-signals 0.1.0 left it, for the upgrade tests.

tests/fixtures/release_0_1_0 holds the DDL 0.1.0 runs on each database (its `metadata.create_all`)
and every row its bot wrote while it took webhook deliveries and clicks: four posted alerts (one with a
CRM task, one snoozed for 7 days, one marked not relevant, one untouched), a redelivery, events
filtered, below threshold, snoozed and in cooldown, a snooze made on no alert, enrichment cache
entries, a day's Claude tokens, another server's heartbeat and an event still waiting in the inbox.
Times are moved so the moment the rows were written is now: a snooze still runs, a cooldown still
holds.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, create_engine, insert, select

from bot.store.engine import normalise_url
from bot.store.tables import metadata
from testkit.examples import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "release_0_1_0"
TIMES = {
    "inbox": ("received_at", "next_attempt_at", "lease_until"),
    "ledger": ("event_time", "decided_at"),
    "alerts": ("next_attempt_at", "lease_until", "sending_since", "received_at", "created_at", "posted_at"),
    "cooldowns": ("last_alert_at",),
    "snoozes": ("until", "created_at"),
    "tasks": ("attempt_at", "due_at", "created_at"),
    "feedback": ("created_at",),
    "enrichment_cache": ("fetched_at", "expires_at"),
    "workers": ("heartbeat_at", "started_at"),
}


def rows(now: float | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every row 0.1.0 wrote, by table, with its times moved to `now`."""
    data = json.loads((FIXTURE / "rows.json").read_text())
    shift = (now if now is not None else time.time()) - data["written_at"]
    tables: dict[str, list[dict[str, Any]]] = data["tables"]
    for name, columns in TIMES.items():
        for row in tables[name]:
            for column in columns:
                if row[column]:
                    row[column] += shift
    for row in tables["alerts"]:
        state = json.loads(row["state"])
        if state.get("snooze"):
            state["snooze"]["until"] += shift
            row["state"] = json.dumps(state, separators=(",", ":"))
    for row in tables["llm_usage"]:
        day = datetime.strptime(row["day"], "%Y-%m-%d").replace(tzinfo=UTC).timestamp() + shift
        row["day"] = datetime.fromtimestamp(day, UTC).strftime("%Y-%m-%d")
    return tables


def create(url: str, with_rows: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The 0.1.0 schema in the empty database at `url`, with its rows unless told; returns the rows."""
    engine = create_engine(normalise_url(url))
    dialect = engine.dialect.name
    written = rows() if with_rows else {}
    try:
        with engine.begin() as conn:
            ddl = (FIXTURE / f"schema.{dialect}.sql").read_text()
            for statement in ddl.split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
            for table in metadata.sorted_tables:
                if written.get(table.name):
                    conn.execute(insert(table), written[table.name])
    finally:
        engine.dispose()
    return written


def contents(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in the database at `url`, the version table too, by table and in
    primary key order: what an upgrade must keep, and what a refused one must leave as it was."""
    engine = create_engine(normalise_url(url))
    try:
        found = MetaData()
        found.reflect(engine)
        with engine.connect() as conn:
            return {
                name: [
                    dict(row)
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                ]
                for name, table in found.tables.items()
            }
    finally:
        engine.dispose()


def changes(url: str, written: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str, str]]:
    """What of the rows 0.1.0 wrote (`written`, as `create` returned them) is no longer so in the
    database at `url`: (table, primary key, column) for each column that changed, and (table, primary
    key, "") for a row that is gone."""
    now = contents(url)
    found = set()
    for name, old_rows in written.items():
        columns = [column.name for column in metadata.tables[name].primary_key.columns]
        by_key = {":".join(str(row[c]) for c in columns): row for row in now.get(name, [])}
        for old in old_rows:
            key = ":".join(str(old[c]) for c in columns)
            new = by_key.get(key)
            if new is None:
                found.add((name, key, ""))
            else:
                found.update((name, key, column) for column, value in old.items() if new[column] != value)
    return found
