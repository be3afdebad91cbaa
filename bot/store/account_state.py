"""Per-account state: what decides whether an account may be alerted (snoozes, last alerts), the
enrichment cache, and Claude's daily token budget."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Float,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)

from bot.decide.outcomes import Outcome
from bot.store.base import StoreBase
from bot.store.records import (
    to_json,
)
from bot.store.tables import alerts, cooldowns, enrichment_cache, ledger, llm_usage, snoozes

# Built once: the worker runs these for every matching event.
_ACCOUNTS = bindparam("accounts", expanding=True)
_NOW = bindparam("now")
# What account_states reads, in one statement, per account: (0, the running snooze's end), (1, a
# signal's last alert) for each signal, and (2, an ended snooze no alert has reported yet) for each.
_NO_TEXT = cast(null(), Text)
_NO_TIME = cast(null(), Float)
_STATE = union_all(
    select(literal_column("0"), snoozes.c.account, _NO_TEXT, func.max(snoozes.c.until), _NO_TIME, _NO_TEXT)
    .where(snoozes.c.account.in_(_ACCOUNTS), snoozes.c.until > _NOW)
    .group_by(snoozes.c.account),
    select(
        literal_column("1"),
        cooldowns.c.account,
        cooldowns.c.signal,
        cooldowns.c.last_alert_at,
        _NO_TIME,
        _NO_TEXT,
    ).where(cooldowns.c.account.in_(_ACCOUNTS)),
    select(
        literal_column("2"),
        snoozes.c.account,
        snoozes.c.id,
        snoozes.c.until,
        snoozes.c.created_at,
        snoozes.c.snoozed_by,
    ).where(snoozes.c.account.in_(_ACCOUNTS), snoozes.c.until <= _NOW, snoozes.c.reported == 0),
)
_HELD_BACK = select(func.count()).where(
    ledger.c.account == bindparam("account"),
    ledger.c.outcome == Outcome.SNOOZED,
    ledger.c.decided_at >= bindparam("since"),
    ledger.c.decided_at <= bindparam("until"),
)


@dataclass(frozen=True, slots=True)
class EndedSnooze:
    """A snooze that is over and whose held-back signals no alert has mentioned yet."""

    id: str
    snoozed_by: str | None
    until: float
    held_back: int


@dataclass(frozen=True, slots=True)
class Snooze:
    id: str
    account: str
    until: float
    snoozed_by: str | None  # Slack user id
    created_at: float
    alert_id: str | None  # the alert it was made on; None: made on no alert, so no channel owns it
    reported: int  # 1 once an alert told what it held back


@dataclass(frozen=True, slots=True)
class AccountState:
    snoozed_until: float | None
    last_alerts: dict[str, float]  # signal -> when it last alerted for this account
    ended_snooze: EndedSnooze | None = None

    def cooldown_until(self, signal: str, cooldown_s: float) -> float | None:
        """When the signal's cooldown for this account ends (it may be over); None before any alert."""
        last = self.last_alerts.get(signal)
        return None if last is None else last + cooldown_s


class AccountStore(StoreBase):
    def account_state(self, account: str, now: float) -> AccountState:
        """What decides whether an account may be alerted now, in one read. The cooldown part is an
        early look only; the authoritative check happens when the alert is committed."""
        return self.account_states([account], now)[account]

    def account_states(self, accounts: Iterable[str], now: float) -> dict[str, AccountState]:
        """`account_state` of several accounts in one read: the worker reads those of a whole claimed
        batch at once, as a read costs a round trip on PostgreSQL whatever it returns."""
        # Rows name an account as it is stored (cut to the column's length, see storable.py), which
        # may differ from the key asked for; each key reads the rows of its stored form.
        stored = {
            key: cooldowns.c.account.type.process_bind_param(key, self.engine.dialect) for key in accounts
        }
        if not stored:
            return {}
        until: dict[str, float] = {}
        last: dict[str, dict[str, float]] = {form: {} for form in stored.values()}
        ended: dict[str, tuple[str, float, float, str | None]] = {}
        with self._read() as conn:
            rows = conn.execute(_STATE, {"accounts": sorted(set(stored.values())), "now": now})
            for part, account, key, at, since, by in rows:
                if part == 0:
                    until[account] = at
                elif part == 1:
                    last[account][key] = at
                elif account not in ended or at > ended[account][1]:
                    ended[account] = (key, at, since, by)
            reports: dict[str, EndedSnooze] = {}
            for account, (snooze_id, ended_at, since, by) in ended.items():
                if account in until:
                    continue  # snoozed again: the running snooze reports when it ends
                held = conn.execute(
                    _HELD_BACK, {"account": account, "since": since, "until": ended_at}
                ).scalar()
                reports[account] = EndedSnooze(snooze_id, by, ended_at, int(held or 0))
        return {
            key: AccountState(until.get(form), last[form], reports.get(form)) for key, form in stored.items()
        }

    def snooze(self, account: str, until: float, by: str | None, alert_id: str | None = None) -> str:
        """Snooze an account until `until`, replacing any snooze still running; returns its id."""
        now = time.time()
        snooze_id = uuid.uuid4().hex
        with self._write() as conn:
            conn.execute(
                update(snoozes)
                .where(snoozes.c.account == account, snoozes.c.until > now)
                .values(until=now, reported=1)  # superseded: the new snooze reports for both
            )
            conn.execute(
                insert(snoozes).values(
                    id=snooze_id,
                    account=account,
                    until=until,
                    snoozed_by=by,
                    created_at=now,
                    alert_id=alert_id,
                    reported=0,
                )
            )
        return snooze_id

    def unsnooze(self, snooze_id: str) -> Snooze | None:
        """End a running snooze now; returns it (None when it is unknown or already over)."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                update(snoozes)
                .where(snoozes.c.id == snooze_id, snoozes.c.until > now)
                .values(until=now)
                .returning(*snoozes.c)
            ).first()
        return Snooze(**row._mapping) if row is not None else None

    def get_snooze(self, snooze_id: str) -> Snooze | None:
        """A snooze, running or over (None when unknown)."""
        with self._read() as conn:
            row = conn.execute(select(snoozes).where(snoozes.c.id == snooze_id)).mappings().first()
        return Snooze(**row) if row is not None else None

    def active_snoozes(self, now: float, channel: str) -> list[Snooze]:
        """The running snoozes made on alerts of `channel` (the one it was routed to or posted in), as
        `/posthog snoozes` lists them."""
        return self._running_on(now, or_(alerts.c.posted_channel == channel, alerts.c.channel == channel))

    def owner_snoozes(self, owner: str, now: float) -> list[Snooze]:
        """The running snoozes made on alerts `owner` owns, as their Home tab lists them."""
        return self._running_on(now, alerts.c.owner == owner)

    def _running_on(self, now: float, made_on: ColumnElement[bool]) -> list[Snooze]:
        """The running snoozes made on the alerts `made_on` selects, soonest to end first. A snooze
        made on no alert belongs to no channel and no owner, so it is never listed."""
        query = (
            select(snoozes)
            .join(alerts, alerts.c.id == snoozes.c.alert_id)
            .where(snoozes.c.until > now, made_on)
            .order_by(snoozes.c.until, snoozes.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [Snooze(**r) for r in rows]

    # -- enrichment cache -----------------------------------------------------------------------------
    def cache_get(self, provider: str, key: str, now: float) -> tuple[bool, dict[str, Any] | None]:
        """(hit, value); a hit with None value is a cached "unknown company"."""
        with self._read() as conn:
            row = conn.execute(
                select(enrichment_cache.c.value).where(
                    enrichment_cache.c.provider == provider,
                    enrichment_cache.c.key == key,
                    enrichment_cache.c.expires_at > now,
                )
            ).first()
        if row is None:
            return False, None
        return True, (orjson.loads(row[0]) if row[0] is not None else None)

    def cache_put(self, provider: str, key: str, value: dict[str, Any] | None, ttl_s: float) -> None:
        now = time.time()
        values = {
            "provider": provider,
            "key": key,
            "value": to_json(value) if value is not None else None,
            "fetched_at": now,
            "expires_at": now + ttl_s,
        }
        stmt = self._insert(enrichment_cache).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[enrichment_cache.c.provider, enrichment_cache.c.key],
            set_={k: stmt.excluded[k] for k in ("value", "fetched_at", "expires_at")},
        )
        with self._write() as conn:
            conn.execute(stmt)

    # -- Claude token budget -----------------------------------------------------------------------
    def tokens_used(self, day: str) -> int:
        with self._read() as conn:
            return int(conn.execute(select(llm_usage.c.tokens).where(llm_usage.c.day == day)).scalar() or 0)

    def add_tokens(self, day: str, tokens: int) -> None:
        stmt = self._insert(llm_usage).values(day=day, tokens=tokens)
        stmt = stmt.on_conflict_do_update(
            index_elements=[llm_usage.c.day], set_={"tokens": llm_usage.c.tokens + stmt.excluded.tokens}
        )
        with self._write() as conn:
            conn.execute(stmt)
