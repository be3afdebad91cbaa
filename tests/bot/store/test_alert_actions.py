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

from bot.alerts.model import AlertState, FeedbackShown, TaskShown
from tests.support.stored import decide, new_alert


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


def test_changes_made_at_the_same_moment_are_all_kept(store):
    alert_id = stored_alert(store)

    def slowly(change: Callable[[AlertState], AlertState]) -> Callable[[AlertState], AlertState]:
        def apply(state: AlertState) -> AlertState:
            time.sleep(0.1)  # the other change starts meanwhile
            return change(state)

        return apply

    task = TaskShown(by="U0TASK", crm="store")
    feedback = FeedbackShown(by="U0FEEDBACK", reason="not_icp")
    at_once(
        [
            lambda: store.update_alert_state(alert_id, slowly(lambda s: s.with_task(task))),
            lambda: store.update_alert_state(alert_id, slowly(lambda s: s.with_feedback(feedback))),
        ]
    )
    state = store.alert(alert_id).state
    assert (state.task, state.feedback, state.version) == (task, feedback, 2)
