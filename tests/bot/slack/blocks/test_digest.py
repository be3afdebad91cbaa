"""A digest's Block Kit: accounts by score, each with its signals, owner and a Create CRM task button for
its best alert; past 15 accounts "and N more"; nothing a property says becomes markup."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.alerts.model import AlertDetails, AlertState, TaskShown
from bot.decide.routing import RouteDecision
from bot.decide.scoring import Score
from bot.slack.blocks.digest import MAX_ACCOUNTS, digest_message, digest_update, shown_states
from bot.slack.ids import AlertRef, decode
from testkit.slack import block_problems
from tests.support.factories import acme_facts


def _details(
    alert_id: str, account: str, score: int, signal: str = "Signal", at: float = 1_700_000_000.0, **kw
):
    facts = replace(
        acme_facts(),
        alert_id=alert_id,
        account_key=account,
        company={"name": account.split(".")[0].title(), "domain": account},
        signal_name=signal,
        score=Score(value=score, points=score, total=100, breakdown=()),
        event_time=at,
        route=RouteDecision("C0AE1", kw.pop("owner", None), "default route", 0),
        **kw,
    )
    return AlertDetails.of(facts, "summary")


def test_accounts_by_score_with_their_signals_owner_and_a_task_button_for_the_best_alert():
    items = [
        _details("a1", "globex.com", 40, "Team is inviting"),
        _details("a2", "acme.com", 70, "Trial finished onboarding", owner="U0OWNER1"),
        _details("a3", "acme.com", 90, "API integration activated", at=1_700_000_100.0, owner="U0OWNER1"),
    ]
    message = digest_message("d1", items, 1_699_990_000.0)
    blocks = message["blocks"]
    assert block_problems(blocks) == []
    assert blocks[0]["text"]["text"] == "Signals digest: 2 accounts"
    assert "3 signals for this channel since <!date^1699990000^" in blocks[1]["elements"][0]["text"]
    acme, globex = blocks[2], blocks[3]
    assert acme["text"]["text"].startswith("*Acme* · ICP 90/100 · owner <@U0OWNER1>")
    assert acme["text"]["text"].index("API integration activated") < acme["text"]["text"].index(
        "Trial finished"
    )
    assert acme["accessory"]["action_id"] == "create_crm_task"
    assert decode(AlertRef, acme["accessory"]["value"]) == AlertRef(alert_id="a3")
    assert globex["text"]["text"].startswith("*Globex* · ICP 40/100")
    assert message["metadata"]["event_payload"]["alert_id"] == "d1"


def test_past_15_accounts_the_rest_are_counted():
    items = [_details(f"a{i}", f"company{i:02d}.com", 100 - i) for i in range(MAX_ACCOUNTS + 4)]
    blocks = digest_message("d1", items, None)["blocks"]
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == MAX_ACCOUNTS
    assert blocks[-1]["elements"][0]["text"].startswith("and 4 more (Company15, Company16")


def test_nothing_an_account_or_signal_says_becomes_markup():
    hostile = _details("a1", "evil.com", 50, "<!channel> <https://evil.example|click>")
    hostile = hostile.model_copy(update={"account_label": "<@U0ADMIN> & co"})
    message = digest_message("d1", [hostile], None)
    text = str(message["blocks"]) + message["text"]
    assert "<!channel>" not in text and "<@U0ADMIN>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_a_link_too_long_to_fit_beside_the_signals_is_left_out_whole():
    """An account whose PostHog link (built from a long distinct id) would not leave room for its
    signal lines: the lines stay and the link goes, rather than a cut link swallowing them."""
    url = "https://us.posthog.com/project/1/person/" + "%E2%82%AC" * 300 + "x" * 95
    group = [_details(f"a{i}", "acme.com", 80, f"Signal {i}", posthog_url=url) for i in range(5)]
    section = digest_message("d1", group, None)["blocks"][2]["text"]["text"]
    assert len(section) <= 3000 and "<https://" not in section
    assert all(f"• Signal {i}" in section for i in range(5))
    alone = digest_message("d1", group[:1], None)["blocks"][2]["text"]["text"]
    assert f"<{url}|Open in PostHog>" in alone  # with one line, it fits


# -- what was done since: the task an account's button created ----------------------------------------
TASK_URL = "https://app.hubspot.com/tasks/123/view/all/task/9001"


def _two_accounts() -> list[AlertDetails]:
    return [
        _details("a1", "globex.com", 40, "Team is inviting"),
        _details("a2", "acme.com", 70, "Trial finished onboarding"),
        _details("a3", "acme.com", 90, "API integration activated", at=1_700_000_100.0),
    ]


def _sections(message: dict) -> dict[str, dict]:
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    return {s["text"]["text"].split("*")[1]: s for s in sections}


def test_a_created_task_shows_who_created_it_and_the_alerts_open_task_link_instead_of_the_button():
    items = _two_accounts()
    states = {"a3": AlertState(version=1).with_task(TaskShown(by="U0AE", url=TASK_URL, crm="hubspot"))}
    message = digest_message("d1", items, 1_699_990_000.0, states)
    assert block_problems(message["blocks"]) == []
    acme, globex = _sections(message)["Acme"], _sections(message)["Globex"]
    lines = acme["text"]["text"].split("\n")
    assert lines[0].startswith("*Acme* · ICP 90/100")
    assert lines[1] == f":white_check_mark: Task created by <@U0AE> · <{TASK_URL}|Open in HubSpot>"
    assert lines[2].startswith("• API integration activated")
    # The alert's own control for a created task (bot/slack/blocks/alert.py `actions`).
    control = acme["accessory"]
    assert (control["type"], control["action_id"], control["text"]["text"], control["url"]) == (
        "button",
        "open_crm_task",
        "Open task",
        TASK_URL,
    )
    assert decode(AlertRef, control["value"]) == AlertRef(alert_id="a3")
    assert globex["accessory"]["action_id"] == "create_crm_task"  # the other account keeps its button
    unchanged = digest_message("d1", items, 1_699_990_000.0)
    assert message["blocks"][:2] == unchanged["blocks"][:2]
    assert _sections(unchanged)["Globex"] == globex
    assert message["text"] == unchanged["text"] and message["metadata"] == unchanged["metadata"]


@pytest.mark.parametrize(
    ("task", "line"),
    [
        (
            TaskShown(by="U0AE", crm="store"),
            ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)",
        ),
        (TaskShown(by=TaskShown.AUTO, url=TASK_URL, crm="hubspot"), None),
    ],
    ids=["kept in the store", "created automatically"],
)
def test_a_task_without_a_link_has_no_control_and_an_automatic_one_says_so(task, line):
    message = digest_message("d1", _two_accounts(), None, {"a3": AlertState().with_task(task)})
    assert block_problems(message["blocks"]) == []
    acme = _sections(message)["Acme"]
    shown = acme["text"]["text"].split("\n")[1]
    if line is not None:
        assert shown == line and "accessory" not in acme
    else:
        assert shown == f":white_check_mark: Task created automatically · <{TASK_URL}|Open in HubSpot>"
        assert acme["accessory"]["action_id"] == "open_crm_task"


def test_only_the_state_of_the_alert_the_button_acts_on_counts():
    """An account's button is its best alert's: a task on another of its alerts does not retire it."""
    states = {"a2": AlertState().with_task(TaskShown(by="U0AE", url=TASK_URL, crm="hubspot"))}
    message = digest_message("d1", _two_accounts(), None, states)
    assert message == digest_message("d1", _two_accounts(), None)
    assert digest_update("d1", _two_accounts(), None, states) == {
        k: v for k, v in message.items() if not k.startswith("unfurl")
    }


def test_a_section_too_full_for_the_task_link_keeps_the_line_without_it_and_stays_in_slacks_limit():
    """Signal lines long enough that the task's long link would not fit beside them: the line says
    who created the task without the link (the Open task button still links it), never cut, and
    the PostHog link is there only if it fits whole."""
    url = "https://app.hubspot.com/tasks/123/view/all/task/" + "9" * 2000
    posthog = "https://us.posthog.com/project/1/person/" + "x" * 400
    group = [
        _details(f"a{i}", "acme.com", 80, f"Signal {i} " + "w" * 90, posthog_url=posthog) for i in range(5)
    ]
    task = TaskShown(by="U0AE", url=url, crm="hubspot")
    message = digest_message("d1", group, None, {"a0": AlertState().with_task(task)})
    assert block_problems(message["blocks"]) == []
    [acme] = _sections(message).values()
    text = acme["text"]["text"]
    assert len(text) <= 3000 and url not in text
    assert text.count("<https://") == text.count(f"<{posthog}|Open in PostHog>") == 1
    assert text.split("\n")[1] == ":white_check_mark: Task created by <@U0AE>"
    assert all(f"• Signal {i}" in text for i in range(5))
    assert acme["accessory"]["url"] == url

    short = TaskShown(by="U0AE", url=TASK_URL, crm="hubspot")
    text = _sections(digest_message("d1", group, None, {"a0": AlertState().with_task(short)}))["Acme"]
    assert f"<{TASK_URL}|Open in HubSpot>" in text["text"]["text"]  # the short link fits
    assert len(text["text"]["text"]) <= 3000


def test_fifteen_accounts_with_tasks_stay_within_slacks_limits():
    items = [_details(f"a{i}", f"company{i:02d}.com", 100 - i) for i in range(MAX_ACCOUNTS + 4)]
    states = {
        d.alert_id: AlertState().with_task(TaskShown(by="U0AE", url=TASK_URL, crm="hubspot")) for d in items
    }
    blocks = digest_message("d1", items, None, states)["blocks"]
    assert block_problems(blocks) == [] and len(blocks) <= 50
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == MAX_ACCOUNTS
    assert all(s["accessory"]["action_id"] == "open_crm_task" for s in sections)


def test_an_automatic_task_that_failed_says_why_and_keeps_the_button():
    """As on an alert: the reason under the account's name, and Create CRM task still there to retry."""
    states = {"a3": AlertState().auto_task_failed("HubSpot refused the task (<!channel> bad owner).")}
    message = digest_message("d1", _two_accounts(), None, states)
    assert block_problems(message["blocks"]) == []
    acme = _sections(message)["Acme"]
    line = acme["text"]["text"].split("\n")[1]
    assert line.startswith(":warning: The automatic task failed: HubSpot refused the task (&lt;!channel&gt;")
    assert acme["accessory"]["action_id"] == "create_crm_task"


def test_the_digest_shows_another_alerts_automatic_failure_when_the_best_has_no_task():
    items = _two_accounts()
    states = {"a2": AlertState().auto_task_failed("HubSpot did not answer."), "a3": AlertState()}
    shown = shown_states(items, states)
    assert shown["a3"].auto_task_error == "HubSpot did not answer." and states["a3"].auto_task_error is None
