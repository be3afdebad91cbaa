"""Per-account state: snoozes and the enrichment cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    bindparam,
    delete,
    insert,
    select,
)

from bot.store.base import StoreBase
from bot.store.records import (
    to_json,
)
from bot.store.tables import cooldowns, enrichment_cache, snoozes

# Built once: the worker runs these for every matching event.
_SNOOZED_UNTIL = select(snoozes.c.until).where(
    snoozes.c.account == bindparam("account"), snoozes.c.until > bindparam("now")
)
_LAST_ALERTS = select(cooldowns.c.signal, cooldowns.c.last_alert_at).where(
    cooldowns.c.account == bindparam("account")
)


@dataclass(frozen=True, slots=True)
class AccountState:
    snoozed_until: float | None
    last_alerts: dict[str, float]  # signal -> when it last alerted for this account


class AccountStore(StoreBase):
    def account_state(self, account: str, now: float) -> AccountState:
        """What decides whether an account may be alerted now, in one read. The cooldown part is an
        early look only; the authoritative check happens when the alert is committed."""
        with self._read() as conn:
            until = conn.execute(_SNOOZED_UNTIL, {"account": account, "now": now}).scalar()
            last = {signal: at for signal, at in conn.execute(_LAST_ALERTS, {"account": account})}
        return AccountState(until, last)

    def snooze(self, account: str, until: float, by: str | None) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(delete(snoozes).where(snoozes.c.account == account))
            conn.execute(insert(snoozes).values(account=account, until=until, snoozed_by=by, created_at=now))

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
