"""`python -m bot migrate`: bring the database's schema up to date (a release step before the new
processes start; `serve` does the same when it starts), or, with `--sql`, print the SQL for a DBA to
review first."""

from __future__ import annotations

import sys

from sqlalchemy.engine import make_url

from bot.config.settings import Settings
from bot.store import Store
from bot.store.engine import normalise_url
from bot.store.migrate import HEAD, REVISIONS, SchemaStatus, SchemaTooNew, upgrade_sql


def bring_up_to_date(settings: Settings, command: str) -> bool:
    """Upgrade the database of `settings`; False, with the reason printed, when that cannot be done."""
    store = Store.from_url(settings.database_url)
    try:
        before = store.upgrade()
    except SchemaTooNew as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return False
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        print(f"{command}: cannot bring the database up to date: {reason}", file=sys.stderr)
        return False
    finally:
        store.dispose()
    if command == "migrate":
        print(said(before))
    return True


def said(before: SchemaStatus) -> str:
    if before.current is None:
        return f"Created the schema (revision {HEAD})."
    if before.up_to_date:
        return f"The database is up to date (revision {HEAD})."
    return f"Upgraded the database from revision {before.current} to {HEAD} ({', '.join(before.pending)})."


def run_migrate(sql: bool = False) -> int:
    settings = Settings()
    if not sql:
        return 0 if bring_up_to_date(settings, "migrate") else 2
    dialect = make_url(normalise_url(settings.database_url)).get_dialect().name
    store = Store.from_url(settings.database_url)
    try:
        before = store.schema_status()
    except SchemaTooNew as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"migrate: cannot read the database's revision ({type(exc).__name__})", file=sys.stderr)
        print("migrate: showing the SQL that creates the schema in an empty database", file=sys.stderr)
        before = SchemaStatus(None, REVISIONS)
    finally:
        store.dispose()
    if before.up_to_date:
        print(f"-- The database is up to date (revision {HEAD}): nothing to run.")
        return 0
    starting = before.current or "none (an empty database)"
    print(f"-- posthog-slack-signals: the SQL that upgrades this {dialect} database")
    print(f"-- from revision {starting} to {HEAD}. Review it, then upgrade with `python -m bot migrate`")
    print("-- (or let `serve` do it as it starts): a revision that converts data row by row says so")
    print("-- below, and this SQL cannot do it.")
    print(upgrade_sql(dialect, before), end="")
    return 0
