"""What people do with an alert: its CRM task (exactly one per alert), feedback, and the state the
message shows. Every change is a single conditional statement or one transaction, so concurrent
clicks from several people and processes agree on one outcome."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import and_, case, func, not_, or_, select, update

from bot.alerts.model import AlertDetails, AlertState, TaskShown
from bot.store.base import StoreBase
from bot.store.messages import MESSAGE_SIGNALS
from bot.store.records import to_json
from bot.store.tables import alerts, feedback, tasks

TaskStartKind = Literal["start", "recover", "busy", "done"]
AUTO_REQUESTER = TaskShown.AUTO  # `requested_by` of a task the signal's auto_task created
CrmKind = Literal["hubspot", "store"]


@dataclass(frozen=True)
class AlertRecord:
    id: str
    event_uuid: str
    signal: str
    account: str
    channel: str  # where the alert was routed
    posted_channel: str | None  # where Slack says it is (None until posted)
    ts: str | None
    status: str
    details: AlertDetails
    state: AlertState


@dataclass(frozen=True)
class NewTask:
    """A task as the bot asks the CRM for it."""

    requested_by: str  # Slack user id
    crm: CrmKind
    subject: str
    body: str
    due_at: float
    owner: str | None  # HubSpot owner id


@dataclass(frozen=True)
class TaskRecord(NewTask):
    alert_id: str
    status: Literal["creating", "created", "failed"]
    uncertain: bool  # an attempt may have reached the CRM
    attempt_at: float
    crm_id: str | None = None
    url: str | None = None
    created_at: float | None = None
    error: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> TaskRecord:
        return cls(**{**row, "uncertain": bool(row["uncertain"])})


@dataclass(frozen=True)
class TaskStart:
    """`start`: create the task now; `recover`: an earlier attempt may have reached the CRM, look for it
    first; `busy`: someone else is creating it right now; `done`: it exists."""

    kind: TaskStartKind
    task: TaskRecord


# The digest that lists a `deliver: digest` alert: such an alert is in Slack once its digest is.
_listing = alerts.alias("listing_digest")
_with_digest = alerts.outerjoin(_listing, _listing.c.id == alerts.c.digest_id)
_in_slack = or_(
    and_(alerts.c.status == "posted", alerts.c.ts.is_not(None)),
    and_(alerts.c.status == "digested", _listing.c.status == "posted", _listing.c.ts.is_not(None)),
)
_posted_at = func.coalesce(alerts.c.posted_at, _listing.c.posted_at)  # an alert's own post, else its digest's


def _auto_task_alerts_in_slack(within_s: float) -> tuple[Any, ...]:
    """Alerts with an automatic task, in Slack on their own or in a posted digest, posted in the last
    `within_s`: what the automatic-task sweep looks at."""
    return (
        alerts.c.auto_task == 1,
        alerts.c.status.in_(("posted", "digested")),
        _in_slack,
        _posted_at >= time.time() - within_s,
    )


class ActionStore(StoreBase):
    def alert(self, alert_id: str) -> AlertRecord | None:
        with self._read() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        if row is None or row["signal"] in MESSAGE_SIGNALS:  # a digest or report is a message, not an alert
            return None
        return AlertRecord(
            id=row["id"],
            event_uuid=row["event_uuid"],
            signal=row["signal"],
            account=row["account"],
            channel=row["channel"],
            posted_channel=row["posted_channel"],
            ts=row["ts"],
            status=row["status"],
            details=AlertDetails.model_validate_json(row["details"]),
            state=AlertState.model_validate_json(row["state"] or "{}"),
        )

    def update_alert_state(self, alert_id: str, change: Callable[[AlertState], AlertState]) -> AlertState:
        """Apply `change` to what the alert shows (task, snooze, feedback) and bump its version, in one
        transaction, so concurrent changes never lose one another; returns the new state. The row is
        read FOR UPDATE: on PostgreSQL a concurrent change waits for this one instead of reading the
        state this one is about to replace (SQLite has one writer at a time anyway)."""
        with self._write() as conn:
            raw = conn.execute(
                select(alerts.c.state).where(alerts.c.id == alert_id).with_for_update()
            ).scalar()
            current = AlertState.model_validate_json(raw or "{}")
            state = change(current).model_copy(update={"version": current.version + 1})
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(state=to_json(state)))
        return state

    def record_alert_state(self, alert_id: str, state: AlertState) -> bool:
        """Record `state`, made from the alert's state of the version before it, unless that state
        was changed since (False: nothing recorded; read it again and make the change anew)."""
        with self._write() as conn:
            raw = conn.execute(
                select(alerts.c.state).where(alerts.c.id == alert_id).with_for_update()
            ).scalar()
            if AlertState.model_validate_json(raw or "{}").version != state.version - 1:
                return False
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(state=to_json(state)))
        return True

    # -- CRM tasks ---------------------------------------------------------------------------------
    def begin_task(self, alert_id: str, new: NewTask, busy_s: float = 60.0) -> TaskStart:
        """Take the right to create this alert's task. An attempt older than `busy_s` is presumed dead
        and may be taken over."""
        now = time.time()
        row = {"alert_id": alert_id, "status": "creating", "uncertain": 0, "attempt_at": now, **asdict(new)}
        with self._write() as conn:
            inserted = conn.execute(
                self._insert(tasks).values(**row).on_conflict_do_nothing().returning(tasks.c.alert_id)
            ).first()
            if inserted is not None:
                return TaskStart("start", TaskRecord.of(row))
            retaken = conn.execute(
                update(tasks)
                .where(
                    tasks.c.alert_id == alert_id,
                    (tasks.c.status == "failed")
                    | ((tasks.c.status == "creating") & (tasks.c.attempt_at < now - busy_s)),
                )
                .values(
                    status="creating",
                    attempt_at=now,
                    requested_by=new.requested_by,
                    # an attempt that never finished may have created the task
                    uncertain=case((tasks.c.status == "creating", 1), else_=tasks.c.uncertain),
                )
                .returning(*tasks.c)
            ).first()
            if retaken is not None:
                task = TaskRecord.of(retaken._mapping)
                return TaskStart("recover" if task.uncertain else "start", task)
            current = conn.execute(select(tasks).where(tasks.c.alert_id == alert_id)).mappings().one()
        task = TaskRecord.of(current)
        return TaskStart("done" if task.status == "created" else "busy", task)

    def owed_auto_tasks(
        self, stale_before: float, limit: int = 100, within_s: float = 7 * 86400
    ) -> list[str]:
        """Alerts posted in the last `within_s`, on their own or listed in a digest posted then,
        whose automatic task was never started (their process died after the post) or whose attempt
        was abandoned before `stale_before`; oldest first."""
        owed = (
            select(alerts.c.id)
            .select_from(_with_digest.outerjoin(tasks, tasks.c.alert_id == alerts.c.id))
            .where(
                *_auto_task_alerts_in_slack(within_s),
                or_(
                    tasks.c.alert_id.is_(None),
                    and_(tasks.c.status == "creating", tasks.c.attempt_at < stale_before),
                ),
            )
            .order_by(_posted_at)
            .limit(limit)
        )
        with self._read() as conn:
            return [row[0] for row in conn.execute(owed)]

    def unshown_auto_tasks(
        self, settled_before: float, limit: int = 100, within_s: float = 7 * 86400
    ) -> list[str]:
        """Posted alerts of the last `within_s` (on their own or in a digest) whose automatic task was
        created, or failed, in an attempt begun before `settled_before`, while their state still has
        them creating it: their message, or their digest, still says so (the process died before
        showing the outcome). Oldest first."""
        # A prefilter on the state's JSON (all of it written by `to_json`, compact): a task shown,
        # or the automatic task's failure. Each row left is then read properly.
        no_task = not_(alerts.c.state.contains('"task":{', autoescape=True))
        no_error = not_(alerts.c.state.contains('"auto_task_error":"', autoescape=True))
        query = (
            select(alerts.c.id, alerts.c.state, tasks.c.status)
            .select_from(_with_digest.join(tasks, tasks.c.alert_id == alerts.c.id))
            .where(
                *_auto_task_alerts_in_slack(within_s),
                tasks.c.attempt_at < settled_before,
                no_task,
                or_(tasks.c.status == "created", and_(tasks.c.status == "failed", no_error)),
            )
            .order_by(_posted_at)
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        unshown = []
        for alert_id, raw, status in rows:
            state = AlertState.model_validate_json(raw or "{}")
            if state.task is None and (status == "created" or state.auto_task_error is None):
                unshown.append(alert_id)
        return unshown

    def task(self, alert_id: str) -> TaskRecord | None:
        with self._read() as conn:
            row = conn.execute(select(tasks).where(tasks.c.alert_id == alert_id)).mappings().first()
        return None if row is None else TaskRecord.of(row)

    def task_created(self, alert_id: str, crm_id: str | None, url: str | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.alert_id == alert_id)
                .values(
                    status="created", crm_id=crm_id, url=url, created_at=time.time(), error=None, uncertain=0
                )
            )

    def task_failed(self, alert_id: str, error: str, uncertain: bool) -> None:
        """The attempt is over without a task (as far as we know): the button may be used again."""
        with self._write() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.alert_id == alert_id, tasks.c.status == "creating")
                .values(status="failed", error=error[:2000], uncertain=1 if uncertain else tasks.c.uncertain)
            )

    # -- feedback ----------------------------------------------------------------------------------
    def record_feedback(self, alert_id: str, reason: str, text: str | None, user_id: str) -> None:
        """The latest reason given for an alert (someone may correct theirs)."""
        values = {
            "alert_id": alert_id,
            "reason": reason,
            "text": text,
            "user_id": user_id,
            "created_at": time.time(),
        }
        stmt = self._insert(feedback).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[feedback.c.alert_id],
            set_={k: stmt.excluded[k] for k in ("reason", "text", "user_id", "created_at")},
        )
        with self._write() as conn:
            conn.execute(stmt)
