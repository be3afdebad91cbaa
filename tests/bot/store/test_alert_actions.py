"""What people do with an alert, on SQLite and PostgreSQL: one CRM task however many people click at
once, a failed or abandoned attempt that frees the button (looking for the task first when the CRM
may have it), the state the message shows changed without losing a concurrent change, and the latest
feedback kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.alerts.model import AlertState, FeedbackShown, SnoozeShown, TaskShown
from bot.slack.blocks.digest import digest_message
from bot.store.alert_actions import NewTask
from tests.support import stored
from tests.support.stored import decide, new_alert


def task_asked_by(user: str) -> NewTask:
    return NewTask(user, "hubspot", "Follow up: Acme Corp", "<p>ICP 100</p>", 1_760_000_000.0, "111")


def stored_alert(store) -> str:
    alert = new_alert()
    decide(store, alert)
    return alert.id


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Every call started at the same moment, each on its own thread."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_the_first_click_creates_the_task_the_next_are_told_it_is_busy_then_that_it_exists(store):
    alert_id = stored_alert(store)
    first = store.begin_task(alert_id, task_asked_by("U0FIRST"))
    assert first.kind == "start"
    assert (first.task.status, first.task.requested_by, first.task.uncertain) == (
        "creating",
        "U0FIRST",
        False,
    )
    busy = store.begin_task(alert_id, task_asked_by("U0SECOND"))
    assert busy.kind == "busy" and busy.task.requested_by == "U0FIRST"

    store.task_created(alert_id, "9001", "https://app.hubspot.com/tasks/9001")
    done = store.begin_task(alert_id, task_asked_by("U0THIRD"))
    assert done.kind == "done"
    assert (done.task.crm_id, done.task.url) == ("9001", "https://app.hubspot.com/tasks/9001")
    assert stored.task(store, alert_id)["status"] == "created"


def test_people_clicking_at_the_same_moment_start_one_task(store):
    for _ in range(3):
        alert_id = stored_alert(store)
        starts = at_once(
            [lambda a=alert_id, u=u: store.begin_task(a, task_asked_by(u)) for u in ("U1", "U2", "U3", "U4")]
        )
        assert sorted(s.kind for s in starts) == ["busy", "busy", "busy", "start"]


def test_a_failed_attempt_frees_the_button_and_one_that_may_have_reached_the_crm_is_recovered(store):
    alert_id = stored_alert(store)
    assert store.begin_task(alert_id, task_asked_by("U0FIRST")).kind == "start"
    store.task_failed(alert_id, "HubSpot refused: 400", uncertain=False)
    assert stored.task(store, alert_id)["error"] == "HubSpot refused: 400"
    again = store.begin_task(alert_id, task_asked_by("U0SECOND"))
    assert (again.kind, again.task.requested_by) == ("start", "U0SECOND")

    store.task_failed(alert_id, "no answer within 10 s", uncertain=True)
    recovered = store.begin_task(alert_id, task_asked_by("U0THIRD"))
    assert recovered.kind == "recover" and recovered.task.uncertain


def test_an_attempt_that_never_finished_is_taken_over_and_looked_for_first(store):
    alert_id = stored_alert(store)
    assert store.begin_task(alert_id, task_asked_by("U0FIRST")).kind == "start"
    assert store.begin_task(alert_id, task_asked_by("U0SECOND"), busy_s=60.0).kind == "busy"
    taken = store.begin_task(alert_id, task_asked_by("U0SECOND"), busy_s=0.0)  # presumed dead
    assert (taken.kind, taken.task.requested_by) == ("recover", "U0SECOND")


def test_each_change_of_what_the_alert_shows_bumps_its_version(store):
    alert_id = stored_alert(store)
    assert store.alert(alert_id).state == AlertState()
    shown = store.update_alert_state(alert_id, lambda s: s.with_task(TaskShown(by="U0AE", crm="store")))
    assert shown.version == 1 and shown.task == TaskShown(by="U0AE", crm="store")
    snoozed = store.update_alert_state(
        alert_id, lambda s: s.snoozed(SnoozeShown(id="s1", by="U0AE", until=1.0))
    )
    assert snoozed.version == 2 and snoozed.task == shown.task and snoozed.snooze is not None
    assert store.alert(alert_id).state == snoozed


def test_changes_made_at_the_same_moment_are_all_kept(store):
    alert_id = stored_alert(store)

    def slowly(change: Callable[[AlertState], AlertState]) -> Callable[[AlertState], AlertState]:
        def apply(state: AlertState) -> AlertState:
            time.sleep(0.1)  # the other change starts meanwhile
            return change(state)

        return apply

    task = TaskShown(by="U0TASK", crm="store")
    feedback = FeedbackShown(by="U0FEEDBACK", reason="wrong_fit")
    at_once(
        [
            lambda: store.update_alert_state(alert_id, slowly(lambda s: s.with_task(task))),
            lambda: store.update_alert_state(alert_id, slowly(lambda s: s.with_feedback(feedback))),
        ]
    )
    state = store.alert(alert_id).state
    assert (state.task, state.feedback, state.version) == (task, feedback, 2)


def test_the_latest_feedback_on_an_alert_is_kept(store):
    alert_id = stored_alert(store)
    assert stored.feedback_on(store, alert_id) is None
    store.record_feedback(alert_id, "not_icp", None, "U0AE")
    store.record_feedback(alert_id, "bad_timing", "ask again in Q3", "U0OTHER")
    kept = stored.feedback_on(store, alert_id)
    assert (kept["reason"], kept["text"], kept["user_id"]) == ("bad_timing", "ask again in Q3", "U0OTHER")


def test_an_alert_is_read_back_with_its_details(store):
    alert = new_alert(signal="S", account="acme.com", channel="C0AE1")
    event_uuid, _ = decide(store, alert)
    record = store.alert(alert.id)
    assert (record.event_uuid, record.signal, record.account, record.channel) == (
        event_uuid,
        "S",
        "acme.com",
        "C0AE1",
    )
    assert (record.status, record.ts, record.posted_channel) == ("pending", None, None)
    assert record.details == alert.details
    assert store.alert("unknown") is None


def test_alerts_owed_their_automatic_task_are_the_posted_ones_with_no_task_or_an_abandoned_attempt(store):
    store.heartbeat("w1")
    owed, started, abandoned, clicked_only, pending = (
        stored.new_alert(signal=name, auto_task=name != "clicked")
        for name in ("owed", "started", "gone", "clicked", "pending")
    )
    for alert in (owed, started, abandoned, clicked_only, pending):
        stored.decide(store, alert)
    for alert in (owed, started, abandoned, clicked_only):
        claimed = store.claim_alert(alert.id, "w1", 60)
        assert store.mark_posted(claimed.id, "w1", "C0AE1", f"1.{alert.signal}")
    new = NewTask("auto", "store", "s", "b", 0.0, None)
    store.begin_task(started.id, new)
    store.begin_task(abandoned.id, new)
    assert set(store.owed_auto_tasks(time.time() - 60)) == {owed.id}
    assert set(store.owed_auto_tasks(time.time() + 1)) == {owed.id, started.id, abandoned.id}


def test_a_digest_alert_owes_its_automatic_task_once_its_digest_is_posted(store):
    """A `deliver: digest` alert has no message of its own: it is in Slack once the digest listing it
    is, and from then on owed its task (the sweep finds it through its digest) until one is begun."""
    store.heartbeat("w1")
    owing, clicked_only = (
        stored.new_alert(signal=name, account=account, deliver="digest", auto_task=name == "owing")
        for name, account in (("owing", "acme.com"), ("clicked", "initech.com"))
    )
    for alert in (owing, clicked_only):
        stored.decide(store, alert)
    assert store.owed_auto_tasks(time.time() + 1) == []  # waiting for the digest
    digest_id = store.take_digest("C0AE1", "2026-12-07", time.time() + 1, digest_message)
    assert digest_id is not None
    assert store.owed_auto_tasks(time.time() + 1) == []  # taken, not in Slack yet
    assert store.listed_auto_tasks(digest_id) == [owing.id]
    claimed = store.claim_alert(digest_id, "w1", 60)
    assert store.mark_posted(claimed.id, "w1", "C0AE1", "1.digest")
    assert store.owed_auto_tasks(time.time() + 1) == [owing.id]
    assert store.unshown_auto_tasks(time.time() + 1) == []

    start = store.begin_task(owing.id, NewTask("auto", "store", "s", "b", 0.0, None))
    assert start.kind == "start" and store.listed_auto_tasks(digest_id) == []
    assert store.owed_auto_tasks(time.time() - 60) == []  # its attempt may still be running
    assert store.owed_auto_tasks(time.time() + 1) == [owing.id]  # abandoned
    store.task_created(owing.id, None, None)
    assert store.owed_auto_tasks(time.time() + 1) == []
    assert store.unshown_auto_tasks(time.time() + 1) == [owing.id]  # the digest may not show it yet
    store.update_alert_state(owing.id, lambda state: state.with_task(TaskShown(by="auto", crm="store")))
    assert store.unshown_auto_tasks(time.time() + 1) == []
