"""`python -m bot stats` as an operator runs it: the table per signal from the database, with the
hint under it when a rule's alerts are mostly dismissed."""

from __future__ import annotations

import time

from bot.store import Store
from bot.store.alert_actions import NewTask
from tests.support.command_line import run
from tests.support.stored import decide, new_alert


def test_stats_prints_a_table_per_signal_and_the_hint(tmp_path):
    url = f"sqlite:///{tmp_path / 'signals.db'}"
    store = Store.from_url(url)
    store.upgrade()
    store.heartbeat("w1")
    ids = []
    for n in range(6):  # accounts of their own: one account's cooldown would hold the rest back
        alert = new_alert(signal="Trial finished onboarding", account=f"acme{n}.com")
        decide(store, alert)
        ids.append(alert.id)
    for alert_id in ids[:4]:
        store.record_feedback(alert_id, "wrong_fit", None, "U0TWO")
    store.begin_task(ids[4], NewTask("U0ONE", "store", "s", "b", time.time(), None))
    store.task_created(ids[4], None, None)
    store.dispose()

    result = run(["stats", "--days", "7"], tmp_path, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "Trial finished onboarding" in x and "│" in x)
    cells = [c.strip() for c in line.split("│") if c.strip()]
    assert cells == ["Trial finished onboarding", "6", "6", "1 / 0", "0", "wrong fit 4", "1", "20%"]
    assert "4 of 5 judged alerts were marked not relevant" in result.stdout
    assert "consider `min_score:" in result.stdout


def test_stats_on_an_empty_database_says_so(tmp_path):
    result = run(["stats"], tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'signals.db'}")
    assert result.returncode == 0, result.stderr
    assert "No signal saw an event or sent an alert in the last 7 days." in result.stdout
