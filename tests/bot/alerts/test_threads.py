"""Where a reply goes, decided from its thread's first alert (the root) as stored and the time: under
the root once it is in Slack, on its own when the root never made it, and otherwise a wait until the
root's own next try, bounded to between one second and a minute."""

from __future__ import annotations

import pytest

from bot.alerts.threads import MAX_THREAD_WAIT_S, THREAD_WAIT_S, Place, WaitForRoot, reply_place
from bot.store import ThreadRoot

NOW = 1_000_000.0


def test_a_posted_root_takes_the_reply_in_its_thread_where_it_was_posted():
    root = ThreadRoot("posted", "C0MOVED", "1700000000.000100")
    assert reply_place("C0AE1", root, NOW) == Place("C0MOVED", "1700000000.000100")


def test_a_root_without_its_posted_channel_keeps_the_replys_channel():
    assert reply_place("C0AE1", ThreadRoot("posted", None, "1.2"), NOW) == Place("C0AE1", "1.2")


@pytest.mark.parametrize(
    "root",
    [
        None,
        ThreadRoot("failed", None, None),
        ThreadRoot("posted", "C0AE1", None),
        ThreadRoot("posted", "C0AE1", ""),
    ],
    ids=["gone", "failed", "posted-without-ts", "posted-with-empty-ts"],
)
def test_a_root_that_never_made_it_leaves_the_reply_on_its_own(root):
    assert reply_place("C0AE1", root, NOW) == Place("C0AE1")


@pytest.mark.parametrize(
    ("status", "next_attempt_at", "seconds"),
    [
        ("pending", 0.0, THREAD_WAIT_S),  # due now: look again soon
        ("sending", NOW - 30, THREAD_WAIT_S),  # overdue: never less than THREAD_WAIT_S
        ("pending", NOW + 10, 10 + THREAD_WAIT_S),  # just after the root's own next try
        ("pending", NOW + 3600, MAX_THREAD_WAIT_S),  # never more than a minute
    ],
)
def test_a_root_on_its_way_makes_the_reply_wait_for_its_next_try(status, next_attempt_at, seconds):
    root = ThreadRoot(status, None, None, next_attempt_at)
    wait = reply_place("C0AE1", root, NOW)
    assert isinstance(wait, WaitForRoot) and wait.seconds == pytest.approx(seconds)
