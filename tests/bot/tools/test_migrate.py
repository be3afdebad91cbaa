"""`python -m bot migrate` as an operator runs it on a database 0.1.0 left (tests/support/
release_0_1_0.py): it upgrades once and then says the database is current, `--sql` prints what it
would run for review and touches nothing, `check` says where the schema stands, and a database a
newer release upgraded is refused, untouched, by `migrate` and by `serve`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.store.migrate import HEAD
from tests.support import release_0_1_0
from tests.support.command_line import required_settings, run

NEWER = "0099"  # a revision some later release wrote


def _check(tmp_path: Path, url: str) -> str:
    """What `check` says about the database: its findings, on a terminal wide enough that each
    stays on one line."""
    result = run(["check"], tmp_path, **required_settings(url), COLUMNS="400")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_migrate_upgrades_a_0_1_0_database_once_and_check_says_where_it_stands(tmp_path, db_url):
    written = release_0_1_0.create(db_url)
    assert f"at revision 0001, 1 migration(s) behind {HEAD}: `serve` upgrades it" in _check(tmp_path, db_url)

    first = run(["migrate"], tmp_path, **required_settings(db_url))
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"Upgraded the database from revision 0001 to {HEAD} ({HEAD}).\n"
    again = run(["migrate"], tmp_path, **required_settings(db_url))
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"The database is up to date (revision {HEAD}).\n"

    assert f"the database answers; its schema is current ({HEAD})" in _check(tmp_path, db_url)
    assert release_0_1_0.contents(db_url)["alembic_version"] == [{"version_num": HEAD}]
    assert release_0_1_0.changes(db_url, written) == {
        ("alerts", alert["id"], "details") for alert in written["alerts"]
    }


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
    assert "0002: alert details are converted row by row; run `python -m bot migrate`" in sql
    assert release_0_1_0.contents(db_url) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "migrate"])
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
    result = run(args, tmp_path, **required_settings(url))

    assert result.returncode == 2
    assert result.stderr.startswith(
        f"{command}: The database's schema is at revision {NEWER}, newer than this posthog-slack-signals"
    )
    assert f"(its newest is {HEAD})" in result.stderr and "nothing was changed" in result.stderr
    assert release_0_1_0.contents(url) == before
