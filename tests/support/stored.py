"""A real store from the tests' side: events and alerts put in it the way the webhook and the worker
put them there, and what the app stored read straight from its tables (bot/store/tables.py), so tests
check the rows the app wrote, not answers the store would give only to tests."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import Table, select

from bot.alerts.model import AlertDetails
from bot.decide.outcomes import Outcome, SignalDecision, routed_to
from bot.decide.routing import RouteDecision
from bot.slack.blocks.alert import alert_message
from bot.store import Commit, Finish, InboxRow, LedgerEntry, NewAlert, Store, tables
from bot.store.engine import READ_ONLY
from tests.support.factories import acme_facts


def new_id() -> str:
    return uuid.uuid4().hex


def ingest(store: Store, event_uuid: str | None = None, received_at: float | None = None) -> str:
    """A pending event in the inbox, as the webhook stores it; returns its uuid."""
    event_uuid = event_uuid or new_id()
    inbox_row = InboxRow(event_uuid, "ev", b"{}", received_at or time.time(), "r1")
    assert store.ingest([inbox_row]) == {event_uuid}
    return event_uuid


def entry(
    event_uuid: str,
    *decisions: SignalDecision,
    account: str | None = "acme.com",
    event_time: float | None = None,
) -> LedgerEntry:
    """The ledger entry of `event_uuid` with these decisions (filtered by no signal, without any)."""
    signals = list(decisions) or [SignalDecision(outcome=Outcome.FILTERED, reason="no signal listens")]
    return LedgerEntry.of(
        signals,
        event_uuid=event_uuid,
        event_name="ev",
        distinct_id="u1",
        account=account,
        event_time=time.time() if event_time is None else event_time,
        request_id="r1",
    )


def new_alert(
    signal: str = "S",
    account: str = "acme.com",
    channel: str = "C0AE1",
    cooldown_s: float = 60.0,
    alert_id: str | None = None,
    reports_snooze: str | None = None,
    **facts_overrides: Any,
) -> NewAlert:
    """An alert of `signal` for `account`, routed to `channel`, with the message it would post (other
    facts, such as `thread`, `deliver` or `priority`, as given)."""
    facts = replace(
        acme_facts(),
        alert_id=alert_id or new_id(),
        signal_name=signal,
        account_key=account,
        route=RouteDecision(channel, None, "default route", 0),
        **facts_overrides,
    )
    details = AlertDetails.of(facts, "summary")
    return NewAlert(details, alert_message(details), cooldown_s, reports_snooze)


def alerted(alert: NewAlert) -> SignalDecision:
    return SignalDecision(
        signal=alert.signal,
        outcome=Outcome.ALERTED,
        reason=routed_to(alert.channel),
        score=alert.score,
        alert_id=alert.id,
        channel=alert.channel,
    )


def decide(
    store: Store,
    *alerts: NewAlert,
    worker: str = "w1",
    event_uuid: str | None = None,
    received_at: float = 1.0,
) -> tuple[str, Commit]:
    """An event ingested, claimed by `worker` and finished with `alerts`, as the worker does it;
    returns its uuid and what the commit did."""
    event_uuid = event_uuid or new_id()
    account = alerts[0].account if alerts else "acme.com"
    decided = entry(event_uuid, *map(alerted, alerts), account=account)
    return event_uuid, finish(store, decided, *alerts, worker=worker, received_at=received_at)


def finish(
    store: Store, decided: LedgerEntry, *alerts: NewAlert, worker: str = "w1", received_at: float = 1.0
) -> Commit:
    """The event of `decided` ingested, claimed by `worker` and finished with that ledger entry and
    `alerts`, as the worker records a decision; what the commit did."""
    ingest(store, decided.event_uuid)
    assert [c.uuid for c in store.claim_events(worker, 1, 60)] == [decided.event_uuid]
    [commit] = store.finish_events(worker, [Finish(decided.event_uuid, decided, list(alerts), received_at)])
    return commit


# -- what the app stored --------------------------------------------------------------------------
def rows(store: Store, table: Table, **where: Any) -> list[dict[str, Any]]:
    """The rows of `table` whose columns equal `where`."""
    stmt = select(table).where(*(table.c[column] == value for column, value in where.items()))
    with store.engine.connect().execution_options(**READ_ONLY) as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def row(store: Store, table: Table, **where: Any) -> dict[str, Any] | None:
    """The one row of `table` whose columns equal `where`, or None."""
    found = rows(store, table, **where)
    assert len(found) <= 1, found
    return found[0] if found else None


def alert(store: Store, alert_id: str) -> dict[str, Any] | None:
    return row(store, tables.alerts, id=alert_id)


def alerts_of(store: Store, event_uuid: str) -> list[dict[str, Any]]:
    return rows(store, tables.alerts, event_uuid=event_uuid)


def minute(at: float) -> int:
    """The minute the ledger's totals count an event received `at` in."""
    return int(at) // 60 * 60


def added(before: dict[Any, int], after: dict[Any, int]) -> dict[Any, int]:
    """What grew between two readings of the totals, and by how much."""
    return {key: count - before.get(key, 0) for key, count in after.items() if count != before.get(key, 0)}


def totals(store: Store, outcome: str = "filtered") -> dict[tuple[int, str], int]:
    """The ledger's totals of `outcome`: (minute, event name) -> events counted."""
    return {
        (r["minute"], r["event_name"]): r["count"] for r in rows(store, tables.ledger_totals, outcome=outcome)
    }


def task(store: Store, alert_id: str) -> dict[str, Any] | None:
    return row(store, tables.tasks, alert_id=alert_id)


def feedback_on(store: Store, alert_id: str) -> dict[str, Any] | None:
    return row(store, tables.feedback, alert_id=alert_id)


def message_of(store: Store, alert_id: str) -> dict[str, Any]:
    """The chat.postMessage arguments stored with the alert."""
    found = alert(store, alert_id)
    assert found is not None
    return dict(orjson.loads(found["message"]))
