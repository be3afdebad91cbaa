"""Per-account state: snoozes and the enrichment cache."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    delete,
    insert,
    select,
)

from bot.store.base import StoreBase
from bot.store.records import (
    to_json,
)
from bot.store.tables import cooldowns, enrichment_cache, snoozes


class AccountStore(StoreBase):
    def snoozed_until(self, account: str, now: float) -> float | None:
        with self._read() as conn:
            until = conn.execute(
                select(snoozes.c.until).where(snoozes.c.account == account, snoozes.c.until > now)
            ).scalar()
        return until

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

    def cooling_down(self, signals: Sequence[str], account: str, now: float) -> dict[str, float]:
        """When each of these signals last alerted for the account (only those that ever did).
        A cheap early look; the authoritative check happens when the alert is committed."""
        with self._read() as conn:
            rows = conn.execute(
                select(cooldowns.c.signal, cooldowns.c.last_alert_at).where(
                    cooldowns.c.account == account, cooldowns.c.signal.in_(list(signals))
                )
            ).all()
        return {r[0]: r[1] for r in rows}
