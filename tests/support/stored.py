"""What the app stored, read straight from its tables (bot/store/tables.py): tests check the rows the
app wrote, not answers the store gives only to tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select

from bot.store import Store
from bot.store.engine import READ_ONLY
from bot.store.tables import alerts, feedback, tasks


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
    return row(store, alerts, id=alert_id)


def alerts_of(store: Store, event_uuid: str) -> list[dict[str, Any]]:
    return rows(store, alerts, event_uuid=event_uuid)


def task(store: Store, alert_id: str) -> dict[str, Any] | None:
    return row(store, tasks, alert_id=alert_id)


def feedback_on(store: Store, alert_id: str) -> dict[str, Any] | None:
    return row(store, feedback, alert_id=alert_id)
