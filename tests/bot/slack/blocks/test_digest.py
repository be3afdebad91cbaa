"""A digest's Block Kit: accounts by score, each with its signals, owner and a Create CRM task button for
its best alert; past 15 accounts "and N more"; nothing a property says becomes markup."""

from __future__ import annotations

from dataclasses import replace

from bot.alerts.model import AlertDetails
from bot.decide.routing import RouteDecision
from bot.decide.scoring import Score
from bot.slack.blocks.digest import MAX_ACCOUNTS, digest_message
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
