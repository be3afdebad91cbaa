"""posthog-slack-signals 0.2.0: an alert's details are the alert as composed (its facts, summary and
routing), from which every update of its message is built.

0.1.0 kept a few fields of an alert (`account_label`, `domain`, `summary`, `score`, `breakdown`,
`owner`, links) and updated a posted message by filtering its stored blocks. This migration gives each
of its alerts the 0.2.0 shape, with what 0.1.0 posted (the fallback text and the blocks above the
controls) kept as `posted`, so the message keeps showing exactly that after the upgrade. The schema
itself does not change. The conversion reads JSON row by row, so `migrate --sql` cannot print it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
sql_printable = False  # rows are converted in Python: `migrate --sql` stops before this revision

alerts = sa.table(
    "alerts",
    sa.column("id", sa.String),
    sa.column("event_uuid", sa.String),
    sa.column("signal", sa.String),
    sa.column("account", sa.String),
    sa.column("channel", sa.String),
    sa.column("owner", sa.String),
    sa.column("score", sa.Integer),
    sa.column("message", sa.Text),
    sa.column("details", sa.Text),
)
PRIORITIES = ("low", "medium", "high")


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def details_0_2_0(row: Any, old: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """What 0.2.0 keeps of an alert, from what 0.1.0 kept and posted."""
    breakdown = [
        {
            "name": str(item.get("name", "")),
            "status": item.get("status") if item.get("status") in ("met", "missed", "unknown") else "unknown",
            "weight": _number(item.get("weight")),
            "points": _number(item.get("points")),
            "detail": str(item.get("detail", "")),
        }
        for item in old.get("breakdown") or []
        if isinstance(item, dict)
    ]
    domain = _text(old.get("domain"))
    blocks = [
        block
        for block in message.get("blocks") or []
        if isinstance(block, dict)
        and block.get("type") != "actions"
        and not str(block.get("block_id", "")).startswith("alert_state")
    ]
    return {
        "alert_id": row.id,
        "signal": _text(old.get("signal")) or row.signal,
        "priority": old.get("priority") if old.get("priority") in PRIORITIES else "medium",
        "account_key": row.account,
        "account_label": _text(old.get("account_label")) or row.account,
        "account_source": "",
        "company": {"domain": domain} if domain else {},
        "plan": None,
        "score": {
            "value": int(_number(old.get("score"), row.score)),
            "points": sum(item["points"] for item in breakdown),
            "total": sum(item["weight"] for item in breakdown),
            "breakdown": breakdown,
        },
        "route": {
            "channel": row.channel,
            "owner": _text(old.get("owner")) or row.owner,
            "reason": "",
            "index": 0,
        },
        "event_name": _text(old.get("event_name")) or "",
        "event_uuid": _text(old.get("event_uuid")) or row.event_uuid,
        "event_time": None,
        "distinct_id": _text(old.get("distinct_id")),
        "person_name": None,
        "person_email": None,
        "person_url": _text(old.get("person_url")),
        "event_url": _text(old.get("event_url")),
        "posthog_url": _text(old.get("posthog_url")),
        "summary": str(old.get("summary") or ""),
        "written": None,
        "held_back": None,
        "posted": {"text": str(message.get("text") or ""), "blocks": blocks},
    }


def details_0_1_0(new: dict[str, Any]) -> dict[str, Any]:
    """What 0.1.0 kept of an alert, from what 0.2.0 keeps."""
    score, route = new.get("score") or {}, new.get("route") or {}
    return {
        "signal": new.get("signal"),
        "priority": new.get("priority", "medium"),
        "account_label": new.get("account_label"),
        "domain": (new.get("company") or {}).get("domain"),
        "summary": new.get("summary", ""),
        "score": score.get("value", 0),
        "breakdown": score.get("breakdown", []),
        "owner": route.get("owner"),
        "distinct_id": new.get("distinct_id"),
        "event_name": new.get("event_name"),
        "event_uuid": new.get("event_uuid"),
        "person_url": new.get("person_url"),
        "event_url": new.get("event_url"),
        "posthog_url": new.get("posthog_url"),
    }


def _convert(reshape: Any) -> None:
    if context.is_offline_mode():
        return  # `migrate --sql` prints this revision only for an empty database: no rows to convert
    connection = op.get_bind()
    rows = connection.execute(sa.select(alerts)).all()
    for row in rows:
        changed = reshape(row, json.loads(row.details or "{}"), json.loads(row.message or "{}"))
        if changed is not None:
            connection.execute(
                sa.update(alerts).where(alerts.c.id == row.id).values(details=json.dumps(changed))
            )


def upgrade() -> None:
    _convert(lambda row, old, message: None if "alert_id" in old else details_0_2_0(row, old, message))


def downgrade() -> None:
    _convert(lambda row, new, message: details_0_1_0(new) if "alert_id" in new else None)
