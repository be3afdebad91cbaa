"""`python -m bot migrate` as an operator runs it on a database 0.1.0 left (tests/support/
release_0_1_0.py): it upgrades once and then says the database is current, `--sql` prints what it
would run for review and touches nothing (and that SQL, run by hand, leaves to `migrate` what SQL
cannot do), `check` says where the schema stands, and a database a newer release upgraded is
refused, untouched, by `migrate` and by `serve`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.store.engine import normalise_url
from bot.store.migrate import HEAD, REVISIONS
from tests.support import release_0_1_0
from tests.support.command_line import required_settings, run

NEWER = "0099"  # a revision some later release wrote
AFTER_0001 = REVISIONS[1:]  # what upgrading a database 0.1.0 left runs


def _check(tmp_path: Path, url: str) -> str:
    """What `check` says about the database: its findings, on a terminal wide enough that each
    stays on one line."""
    result = run(["check"], tmp_path, **required_settings(url), COLUMNS="400")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_migrate_upgrades_a_0_1_0_database_once_and_check_says_where_it_stands(tmp_path, db_url):
    written = release_0_1_0.create(db_url)
    assert f"at revision 0001, {len(AFTER_0001)} migration(s) behind {HEAD}: `serve` upgrades it" in _check(
        tmp_path, db_url
    )

    first = run(["migrate"], tmp_path, **required_settings(db_url))
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"Upgraded the database from revision 0001 to {HEAD} ({', '.join(AFTER_0001)}).\n"
    again = run(["migrate"], tmp_path, **required_settings(db_url))
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"The database is up to date (revision {HEAD}).\n"

    assert f"the database answers; its schema is current ({HEAD})" in _check(tmp_path, db_url)
    assert release_0_1_0.contents(db_url)["alembic_version"] == [{"version_num": HEAD}]
    assert release_0_1_0.changes(db_url, written) == {
        ("alerts", alert["id"], "details") for alert in written["alerts"]
    }


def _apply(url: str, sql: str) -> None:
    """Run the printed SQL as a DBA would, statement after statement as the file has them."""
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in sql.split(";\n"):
                if statement.strip() and not all(
                    line.startswith("--") for line in statement.strip().splitlines()
                ):
                    conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_migrate_sql_prints_what_it_would_run_and_changes_nothing(tmp_path, db_url):
    release_0_1_0.create(db_url)
    before = release_0_1_0.contents(db_url)

    result = run(["migrate", "--sql"], tmp_path, **required_settings(db_url))

    assert result.returncode == 0, result.stderr
    sql = result.stdout
    assert sql.startswith("-- posthog-slack-signals: the SQL that upgrades this ")
    assert f"-- from revision 0001 to {HEAD}. Review it" in sql
    assert "CREATE TABLE alembic_version" in sql  # 0.1.0 recorded no version: 0001 is stamped
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
    assert sql.endswith(
        "-- Revision 0002 converts rows in Python, which no SQL can do: once the SQL above\n"
        "-- has run, `python -m bot migrate` runs 0002, 0003, 0004, 0005, 0006, 0007, 0008, 0009, 0010.\n"
    )
    assert "version_num='0002'" not in sql  # not recorded as run: it is not in the SQL
    assert "version_num='0003'" not in sql
    assert "version_num='0004'" not in sql
    assert release_0_1_0.contents(db_url) == before


def test_the_sql_applied_by_hand_leaves_the_data_migration_to_migrate(tmp_path, db_url):
    """A DBA who runs the reviewed SQL gets a database that `migrate` still finishes: the SQL
    stops before the revision it cannot do, rather than recording it as done."""
    written = release_0_1_0.create(db_url)
    sql = run(["migrate", "--sql"], tmp_path, **required_settings(db_url)).stdout

    _apply(db_url, sql)
    result = run(["migrate"], tmp_path, **required_settings(db_url))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Upgraded the database from revision 0001 to {HEAD} ({', '.join(AFTER_0001)}).\n"
    assert release_0_1_0.changes(db_url, written) == {
        ("alerts", alert["id"], "details") for alert in written["alerts"]
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "migrate", "check"])
def test_a_database_newer_than_the_code_is_refused_and_left_untouched(tmp_path, command):
    url = f"sqlite:///{tmp_path / 'signals.db'}"
    release_0_1_0.create(url)
    engine = create_engine(url)
    with engine.begin() as conn:  # as a later release leaves it: upgraded past what this one knows
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:newer)"), {"newer": NEWER})
    engine.dispose()
    before = release_0_1_0.contents(url)

    args = ["serve", "--host", "127.0.0.1", "--port", str(_free_port())] if command == "serve" else [command]
    result = run(args, tmp_path, **required_settings(url), COLUMNS="400")

    if command == "check":  # an error to fix, in check's own words
        assert result.returncode == 1
        assert f"error: DATABASE_URL: The database's schema is at revision {NEWER}" in result.stdout
        assert f"(its newest is {HEAD})" in result.stdout
        assert release_0_1_0.contents(url) == before
        return
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"{command}: The database's schema is at revision {NEWER}, newer than this posthog-slack-signals"
    )
    assert f"(its newest is {HEAD})" in result.stderr and "nothing was changed" in result.stderr
    assert release_0_1_0.contents(url) == before
