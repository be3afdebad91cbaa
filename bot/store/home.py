"""What the Home tab reads: one person's recent alerts (the running snoozes on them are
`owner_snoozes`, beside the channel's in bot/store/account_state.py; the week's stats per signal are
`stats`'s, bot/store/stats.py). Reads only, each a few indexed statements (`ix_alerts_owner`), since
the tab is published within Slack's 3 seconds of being opened."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import func, select

from bot.alerts.model import AlertState
from bot.store.base import StoreBase
from bot.store.messages import MESSAGE_SIGNALS
from bot.store.tables import alerts


@dataclass(frozen=True, slots=True)
class HomeAlert:
    """An alert as the Home tab lists it. Text is raw (untrusted); the builder escapes it."""

    id: str
    signal: str
    account: str  # what to call the account (company name, domain or person)
    score: int
    created_at: float
    channel: str  # where it is (posted) or is to be
    ts: str | None  # None: not in Slack on its own yet (pending, or listed in a digest)
    state: AlertState
    thread_ts: str | None = None  # the first alert's ts, when this one is a reply in its thread


def _label(details: str | None, account: str) -> str:
    """The account's label from the stored details, falling back to the account key."""
    try:
        label = orjson.loads(details or "{}").get("account_label")
    except (orjson.JSONDecodeError, AttributeError):
        label = None
    return label if isinstance(label, str) and label.strip() else account


def _state(raw: str | None) -> AlertState:
    try:
        return AlertState.model_validate_json(raw or "{}")
    except ValueError:
        return AlertState()


class HomeStore(StoreBase):
    def owner_alerts(self, owner: str, since: float, limit: int) -> tuple[list[HomeAlert], int]:
        """(the newest `limit` alerts owned by `owner` created since `since`, how many there are in
        all). Digest messages are rows of their own with no owner, so they never show."""
        mine = (
            alerts.c.owner == owner,
            alerts.c.created_at >= since,
            alerts.c.signal.not_in(MESSAGE_SIGNALS),
        )
        root = alerts.alias("root")
        query = (
            select(
                root.c.ts.label("thread_ts"),
                alerts.c.id,
                alerts.c.signal,
                alerts.c.account,
                alerts.c.score,
                alerts.c.created_at,
                alerts.c.channel,
                alerts.c.posted_channel,
                alerts.c.ts,
                alerts.c.details,
                alerts.c.state,
            )
            .select_from(alerts.outerjoin(root, root.c.id == alerts.c.thread_of))
            .where(*mine)
            .order_by(alerts.c.created_at.desc(), alerts.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
            total = conn.execute(select(func.count()).select_from(alerts).where(*mine)).scalar_one()
        listed = [
            HomeAlert(
                id=r["id"],
                signal=r["signal"],
                account=_label(r["details"], r["account"]),
                score=int(r["score"]),
                created_at=float(r["created_at"]),
                channel=r["posted_channel"] or r["channel"],
                ts=r["ts"],
                state=_state(r["state"]),
                thread_ts=r["thread_ts"],
            )
            for r in rows
        ]
        return listed, int(total)
