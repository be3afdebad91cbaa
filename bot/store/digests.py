"""Digests: the `deliver: digest` alerts a channel has waiting, taken into one digest message in one
transaction. The digest goes out like any alert (bot/alerts/delivery: paced, retried, and looked for
in the channel after an interrupted post), as an outbox row keyed by (channel and period, `$digest`):
that key makes it one digest per channel per period, however many processes are due at once and
however often one restarts, and the alerts it lists are marked as taken in the same transaction, so
none is listed twice."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from bot.alerts.model import AlertDetails, AlertState
from bot.store.base import StoreBase
from bot.store.messages import DIGEST_SIGNAL, message_row
from bot.store.tables import alerts, tasks

WAITING = "digest"  # an alert's status while it waits for its channel's digest
TAKEN = "digested"  # once a digest lists it

ComposeDigest = Callable[[str, Sequence[AlertDetails], float | None], dict[str, Any]]


@dataclass(frozen=True)
class PostedDigest:
    """A digest in Slack and the alerts it lists as they are now: what rebuilds its message."""

    id: str
    channel: str  # where Slack says it is
    ts: str
    since: float  # the oldest listed alert's creation, as when the digest was taken
    items: list[AlertDetails]
    states: dict[str, AlertState]  # alert id -> its state

    @property
    def versions(self) -> tuple[tuple[str, int], ...]:
        """Which states it was read with: another read with the same versions shows the same."""
        return state_versions(self.states)


class DigestStore(StoreBase):
    def digest_channels(self, before: float) -> list[str]:
        """The channels with alerts waiting since before `before`."""
        with self._read() as conn:
            rows = conn.execute(
                select(alerts.c.channel)
                .where(alerts.c.status == WAITING, alerts.c.created_at <= before)
                .group_by(alerts.c.channel)
            ).all()
        return sorted(r[0] for r in rows)

    def unsent_digests(self) -> list[tuple[str, str]]:
        """(id, channel) of digests taken but not yet in Slack: queued, retrying, or claimed by a
        process that may have died while posting."""
        with self._read() as conn:
            rows = conn.execute(
                select(alerts.c.id, alerts.c.channel)
                .where(alerts.c.signal == DIGEST_SIGNAL, alerts.c.status.in_(("pending", "sending")))
                .order_by(alerts.c.created_at)
            ).all()
        return [(r[0], r[1]) for r in rows]

    def outbox_row(self, alert_id: str) -> dict[str, Any] | None:
        """An outbox row's status, channel and error (a digest has no alert record)."""
        with self._read() as conn:
            row = conn.execute(
                select(alerts.c.status, alerts.c.channel, alerts.c.error).where(alerts.c.id == alert_id)
            ).first()
        return {"status": row[0], "channel": row[1], "error": row[2]} if row is not None else None

    def posted_digest_of(self, alert_id: str) -> PostedDigest | None:
        """The digest in Slack that lists the alert, with the alerts it lists (as its outbox row
        names them, `digest_of`) and their states now; None when the alert is in no digest, or its
        digest is not in Slack (yet)."""
        with self._read() as conn:
            digest_id = conn.execute(select(alerts.c.digest_id).where(alerts.c.id == alert_id)).scalar()
            if digest_id is None:
                return None
            digest = conn.execute(
                select(alerts.c.channel, alerts.c.posted_channel, alerts.c.ts, alerts.c.details).where(
                    alerts.c.id == digest_id, alerts.c.signal == DIGEST_SIGNAL
                )
            ).first()
            if digest is None or not digest.ts:
                return None
            listed = list(json.loads(digest.details or "{}").get("digest_of") or [])
            rows = conn.execute(
                select(alerts.c.id, alerts.c.details, alerts.c.state, alerts.c.created_at).where(
                    alerts.c.id.in_(listed)
                )
            ).all()
        if not rows or len(rows) != len(set(listed)):
            return None  # not the alerts it was taken with: better left as it is than shown wrong
        order = {listed_id: i for i, listed_id in enumerate(listed)}
        rows = sorted(rows, key=lambda r: order[r.id])
        return PostedDigest(
            id=digest_id,
            channel=digest.posted_channel or digest.channel,
            ts=digest.ts,
            since=min(r.created_at for r in rows),
            items=[AlertDetails.model_validate_json(r.details) for r in rows],
            states={r.id: AlertState.model_validate_json(r.state or "{}") for r in rows},
        )

    def listed_auto_tasks(self, digest_id: str) -> list[str]:
        """The alerts the digest lists whose automatic task is owed and not begun yet (none has
        asked for their task), in the order they were created."""
        with self._read() as conn:
            rows = conn.execute(
                select(alerts.c.id)
                .select_from(alerts.outerjoin(tasks, tasks.c.alert_id == alerts.c.id))
                .where(
                    alerts.c.auto_task == 1,
                    alerts.c.status == TAKEN,
                    alerts.c.digest_id == digest_id,
                    tasks.c.alert_id.is_(None),
                )
                .order_by(alerts.c.created_at)
            ).all()
        return [r[0] for r in rows]

    def take_digest(
        self, channel: str, period: str, before: float, compose: ComposeDigest, now: float | None = None
    ) -> str | None:
        """Take the channel's alerts waiting since before `before` into its digest for `period`, and
        queue that digest for posting; its id, or None when there is nothing to take or the period's
        digest already exists (then nothing changes)."""
        now = time.time() if now is None else now
        digest_id = uuid.uuid4().hex
        waiting = (
            select(alerts.c.id, alerts.c.details, alerts.c.created_at, alerts.c.score)
            .where(alerts.c.status == WAITING, alerts.c.channel == channel, alerts.c.created_at <= before)
            .order_by(alerts.c.created_at)
            .with_for_update()
        )
        with self._write() as conn:
            rows = conn.execute(waiting).all()
            if not rows:
                return None
            items = [AlertDetails.model_validate_json(r[1]) for r in rows]
            inserted = conn.execute(
                self._insert(alerts)
                .values(
                    message_row(
                        digest_id,
                        DIGEST_SIGNAL,
                        f"{DIGEST_SIGNAL}:{channel}:{period}",
                        channel,
                        compose(digest_id, items, min(r[2] for r in rows)),
                        {"digest_of": [r[0] for r in rows], "period": period},
                        now,
                        score=max(r[3] for r in rows),
                    )
                )
                .on_conflict_do_nothing()
                .returning(alerts.c.id)
            ).first()
            if inserted is None:
                return None  # this period's digest was taken already (by another process, or before)
            conn.execute(
                update(alerts)
                .where(alerts.c.id.in_([r[0] for r in rows]))
                .values(status=TAKEN, digest_id=digest_id)
            )
        return digest_id


def state_versions(states: Mapping[str, AlertState]) -> tuple[tuple[str, int], ...]:
    """Which states a digest shows (or was read with), alert by alert."""
    return tuple(sorted((alert_id, state.version) for alert_id, state in states.items()))
