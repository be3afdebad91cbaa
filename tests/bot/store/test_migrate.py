"""The store's schema versions: an empty database, a database 0.1.0 left, one already current and one
newer than the code; the migrations agreeing with the tables; several processes upgrading at once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from bot.alerts.model import AlertState
from bot.slack.blocks.alert import alert_update
from bot.store import Store, migrate
from bot.store.migrate import HEAD, REVISIONS, SchemaStatus, SchemaTooNew
from bot.store.tables import metadata
from tests.conftest import database
from tests.support import release_0_1_0

TABLES_ADDED_SINCE_0_1_0 = {
    "ledger_totals",
    "threshold_events",
    "threshold_accounts",
    "report_schedule",
    "signal_hours",
    "threads",
    "query_runs",
}


@pytest.fixture
def store(db_url):
    opened = Store.from_url(db_url)
    yield opened
    opened.dispose()


def _revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _schema(store: Store) -> dict[str, object]:
    """Tables, columns, keys and indexes as the database itself reports them."""
    reflected = MetaData()
    with store.engine.connect() as conn:
        reflected.reflect(conn)
        inspector = inspect(conn)
        return {
            table.name: {
                "columns": [
                    (c.name, str(c.type.compile(conn.dialect)), c.nullable, c.primary_key)
                    for c in table.columns
                ],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table.name)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table.name)
                ),
            }
            for table in reflected.sorted_tables
            if table.name != migrate.VERSION_TABLE
        }


def test_the_revisions_the_code_knows_are_the_migrations_it_ships():
    script = ScriptDirectory(str(Path(migrate.__file__).parent / "migrations"))
    history = [revision.revision for revision in script.walk_revisions()]
    assert tuple(reversed(history)) == REVISIONS
    assert script.get_current_head() == HEAD


def test_an_empty_database_gets_todays_tables_and_the_newest_revision(store):
    assert store.schema_status() == SchemaStatus(None, REVISIONS)
    assert store.upgrade() == SchemaStatus(None, REVISIONS)
    assert _revision(store) == HEAD
    assert set(inspect(store.engine).get_table_names()) == {*metadata.tables, "alembic_version"}
    assert store.schema_status().up_to_date
    assert store.upgrade().up_to_date  # again: nothing to do


def test_the_migrations_build_exactly_the_tables_the_code_defines(store):
    """Alembic's autogenerate comparison finds nothing to add: no table changes without a migration."""
    with store.engine.begin() as conn:
        migrate._alembic(conn, "upgrade", HEAD)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_first_migration_is_exactly_the_schema_0_1_0_created(kind, tmp_path):
    (tmp_path / "0.1.0").mkdir()
    (tmp_path / "migrated").mkdir()
    with database(kind, tmp_path / "0.1.0") as old_url, database(kind, tmp_path / "migrated") as new_url:
        release_0_1_0.create(old_url, with_rows=False)
        old, new = Store.from_url(old_url), Store.from_url(new_url)
        with new.engine.begin() as conn:
            migrate._alembic(conn, "upgrade", "0001")
        assert _schema(new) == _schema(old)
        assert set(_schema(old)) == set(metadata.tables) - TABLES_ADDED_SINCE_0_1_0
        old.dispose()
        new.dispose()


def test_a_database_0_1_0_left_is_upgraded_with_every_row_kept(store, db_url):
    written = release_0_1_0.create(db_url)
    assert store.schema_status() == SchemaStatus("0001", REVISIONS[1:], versioned=False)

    assert store.upgrade().current == "0001"

    assert _revision(store) == HEAD and store.schema_status().up_to_date
    with store.engine.connect() as conn:
        for name, rows in written.items():
            table = metadata.tables[name]
            kept = [dict(row) for row in conn.execute(table.select()).mappings()]
            assert len(kept) == len(rows), name
            if name != "alerts":
                key = [column.name for column in table.primary_key]
                assert sorted(kept, key=lambda r: [r[k] for k in key]) == sorted(
                    rows, key=lambda r: [r[k] for k in key]
                ), name


def test_an_alert_0_1_0_posted_keeps_showing_what_it_posted(store, db_url):
    written = release_0_1_0.create(db_url)
    store.upgrade()
    for row in written["alerts"]:
        old, posted = json.loads(row["details"]), json.loads(row["message"])
        record = store.alert(row["id"])
        details = record.details
        assert (details.alert_id, details.signal, details.account_key) == (
            row["id"],
            row["signal"],
            row["account"],
        )
        assert (details.account_label, details.domain, details.summary) == (
            old["account_label"],
            old["domain"],
            old["summary"],
        )
        assert details.score.value == old["score"] and details.owner == old["owner"]
        assert [r.name for r in details.score.breakdown] == [r["name"] for r in old["breakdown"]]
        assert details.posted is not None and details.posted.text == posted["text"]
        content = [b for b in posted["blocks"] if b["type"] != "actions"]
        update = alert_update(details, record.state)
        assert update["text"] == posted["text"]
        assert update["blocks"][: len(content)] == content
        assert update["blocks"][-1]["type"] == "actions"
        assert update["metadata"] == posted["metadata"]
        assert record.state == AlertState.model_validate_json(row["state"])


def test_a_database_newer_than_the_code_is_refused_untouched(store):
    store.upgrade()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    before = _schema(store)
    with pytest.raises(SchemaTooNew) as refused:
        store.upgrade()
    message = str(refused.value)
    assert "9999" in message and HEAD in message and "nothing was changed" in message
    assert _schema(store) == before and _revision(store) == "9999"
    with pytest.raises(SchemaTooNew):
        store.schema_status()


def test_processes_upgrading_at_once_upgrade_once(db_url):
    release_0_1_0.create(db_url)
    stores = [Store.from_url(db_url) for _ in range(3)]
    start = threading.Barrier(len(stores))
    found: list[SchemaStatus | BaseException] = []

    def upgrade(store: Store) -> None:
        start.wait()
        try:
            found.append(store.upgrade())
        except BaseException as exc:
            found.append(exc)

    threads = [threading.Thread(target=upgrade, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(str(getattr(s, "current", s)) for s in found) == ["0001", HEAD, HEAD]
    assert _revision(stores[0]) == HEAD
    for store in stores:
        store.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sql_for_review_names_every_step_and_changes_nothing(kind, tmp_path):
    with database(kind, tmp_path) as url:
        release_0_1_0.create(url, with_rows=False)
        store = Store.from_url(url)
        before = store.schema_status()
        dialect = store.engine.dialect.name
        sql = migrate.upgrade_sql(dialect, before)
        assert "CREATE TABLE alembic_version" in sql and "'0001'" in sql
        assert (
            "Revision 0002 converts rows in Python" in sql
            and "`python -m bot migrate` runs 0002, 0003, 0004, 0005, 0006, 0007, 0008, 0009, 0010" in sql
        )
        assert "'0002'" not in sql and "'0003'" not in sql  # never recorded as run by SQL that did not run it
        assert store.schema_status() == before
        store.dispose()
    empty = migrate.upgrade_sql("postgresql", SchemaStatus(None, REVISIONS))
    assert all(f"CREATE TABLE {name} " in empty for name in metadata.tables)
