"""The alert message: its exact Block Kit for a realistic alert, and, whatever the event says, no
mention or link injection and no Slack limit exceeded."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.alerts.model import (
    AlertDetails,
    AlertFacts,
    AlertState,
    PastSignal,
    Reached,
    TaskShown,
    ThreadShown,
)
from bot.alerts.summary_template import template_summary
from bot.decide.routing import RouteDecision
from bot.decide.scoring import CriterionResult, Score, score
from bot.ingest.webhook_body import parse_timestamp
from bot.slack.blocks.alert import alert_blocks, alert_message
from tests.support.factories import acme_facts, example_config, person_facts

ALERT_ID = "5f0c6d2a9b7e4c1d8e3f2a1b0c9d8e7f"


def details_for(facts: AlertFacts, summary: str | None = None) -> AlertDetails:
    return AlertDetails.of(facts, template_summary(facts) if summary is None else summary)


def message_for(facts: AlertFacts, summary: str | None = None) -> dict[str, Any]:
    return alert_message(details_for(facts, summary))


def texts_of(kind: str, node: Any) -> list[str]:
    """The text of every text object of this kind (`mrkdwn`, `plain_text`) anywhere in `node`."""
    if isinstance(node, list):
        return [text for value in node for text in texts_of(kind, value)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == kind else []
    return own + [text for value in node.values() for text in texts_of(kind, value)]


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """The top-level `text` and every mrkdwn text object anywhere in the blocks."""
    return [message["text"], *texts_of("mrkdwn", message["blocks"])]


def plain_texts(message: dict[str, Any]) -> list[str]:
    return texts_of("plain_text", message["blocks"])


# --- the exact message ------------------------------------------------------------------------------

EXPECTED_ACME = {
    "text": (
        "Acme Corp: Trial finished onboarding (ICP 100/100). Trial user from Acme Corp finished onboarding. "
        "Series B fintech, 240 people. Also activated the API integration 2 days ago."
    ),
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Acme Corp: Trial finished onboarding"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "verbatim": True,
                "text": (
                    "Trial user from Acme Corp finished onboarding. Series B fintech, 240 people. "
                    "Also activated the API integration 2 days ago."
                ),
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "verbatim": True, "text": "*Company*\nAcme Corp (acme.com)"},
                {"type": "mrkdwn", "verbatim": True, "text": "*Size*\n240 people"},
                {"type": "mrkdwn", "verbatim": True, "text": "*Industry*\nfintech"},
                {"type": "mrkdwn", "verbatim": True, "text": "*Funding*\nSeries B"},
                {"type": "mrkdwn", "verbatim": True, "text": "*Plan*\ntrial"},
                {"type": "mrkdwn", "verbatim": True, "text": "*ICP score*\n100/100"},
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "verbatim": True,
                "text": (
                    "*Why 100/100*\n"
                    ":white_check_mark: Company size: 240, wanted 50–2,000 (+30)\n"
                    ":white_check_mark: Target industry: fintech (+25)\n"
                    ":white_check_mark: Funded: series_b (+20)\n"
                    ":white_check_mark: Modern data stack: has segment, snowflake (+15)\n"
                    ":white_check_mark: Work email: jane@acme.com (+10)"
                ),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "verbatim": True,
                    "text": (
                        "Routed by company.domain is one of acme.com, initech.com · Owner <@U0OWNER1> · "
                        "Account from company_domain property"
                    ),
                }
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "verbatim": True,
                    "text": (
                        "<!date^1759999940^{date_short_pretty} at {time}|2025-10-09 08:52 UTC> · "
                        "`onboarding_completed` · Jane Doe · "
                        "<https://us.posthog.com/project/1/person/user_42|Person in PostHog> · "
                        "<https://us.posthog.com/project/1/events/0191e7c4-0000-7000-8000-000000000001|Event>"
                    ),
                }
            ],
        },
        {
            "type": "actions",
            "block_id": f"alert_actions:{ALERT_ID}:0",
            "elements": [
                {
                    "type": "button",
                    "action_id": "create_crm_task",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Create CRM task", "emoji": True},
                    "value": ALERT_ID,
                },
                {
                    "type": "static_select",
                    "action_id": "snooze",
                    "placeholder": {"type": "plain_text", "text": "Snooze", "emoji": True},
                    "options": [
                        {
                            "text": {"type": "plain_text", "text": "Snooze 1 day", "emoji": True},
                            "value": f"{ALERT_ID}:1d",
                        },
                        {
                            "text": {"type": "plain_text", "text": "Snooze 7 days", "emoji": True},
                            "value": f"{ALERT_ID}:7d",
                        },
                        {
                            "text": {"type": "plain_text", "text": "Snooze 30 days", "emoji": True},
                            "value": f"{ALERT_ID}:30d",
                        },
                    ],
                },
                {
                    "type": "button",
                    "action_id": "not_relevant",
                    "text": {"type": "plain_text", "text": "Not relevant", "emoji": True},
                    "value": ALERT_ID,
                },
                {
                    "type": "button",
                    "action_id": "open_posthog",
                    "text": {"type": "plain_text", "text": "Open in PostHog", "emoji": True},
                    "url": "https://us.posthog.com/project/1/person/user_42",
                    "value": ALERT_ID,
                },
            ],
        },
    ],
    "metadata": {
        "event_type": "posthog_signal",
        "event_payload": {
            "alert_id": ALERT_ID,
            "signal": "Trial finished onboarding",
            "account": "acme.com",
            "event_uuid": "0191e7c4-0000-7000-8000-000000000001",
            "score": 100,
        },
    },
    "unfurl_links": False,
    "unfurl_media": False,
}


def test_acme_alert_message_is_exactly_as_designed():
    message = message_for(acme_facts())
    assert json.dumps(message, sort_keys=True, indent=1) == json.dumps(
        EXPECTED_ACME, sort_keys=True, indent=1
    )


def test_an_alert_on_a_threshold_says_what_was_reached_and_who_did_the_latest():
    reached = Reached(
        "5 invite_sent in 7 days by 3 people", (("u3", 1_700_000_000.0), (None, 1_699_990_000.0))
    )
    blocks = message_for(replace(acme_facts(), reached=reached))["blocks"]
    assert blocks[2] == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": ":chart_with_upwards_trend: *5 invite_sent in 7 days by 3 people* · latest: "
                "u3 <!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>, "
                "someone <!date^1699990000^{date_short_pretty} at {time}|2023-11-14 19:26 UTC>",
                "verbatim": True,
            }
        ],
    }
    assert "reached" not in json.dumps(message_for(acme_facts()))  # an alert on one event has no such line


def test_the_first_alert_of_a_thread_says_how_many_followed_and_the_latest():
    details = AlertDetails.of(acme_facts(), "summary")
    shown = ThreadShown(replies=2, latest_signal="Team <!channel> inviting", latest_at=1_700_000_000.0)
    blocks = alert_blocks(details, AlertState(version=3).with_thread(shown))
    [state] = [b.to_dict() for b in blocks if (b.block_id or "").startswith("alert_state:")]
    assert state["elements"][0]["text"] == (
        ":thread: 2 more signals in the thread · latest: Team &lt;!channel&gt; inviting, "
        "<!date^1700000000^{time}|22:13 UTC>"
    )


def test_each_block_model_round_trips_through_slack_sdk():
    for block in alert_blocks(details_for(acme_facts(), "summary"), AlertState()):
        as_dict = block.to_dict()
        assert Block.parse(as_dict).to_dict() == as_dict


def test_missed_and_unknown_criteria_show_what_they_would_have_added():
    facts = acme_facts(
        company={"name": "Hooli", "domain": "hooli.io", "employees": 12, "industry": "consumer"},
    )
    context = {"company": facts.company, "person": {"email": "jane@gmail.com"}}
    facts = replace(facts, score=score(example_config().icp, context))
    breakdown = message_for(facts)["blocks"][3]["text"]["text"]
    assert breakdown.splitlines() == [
        "*Why 0/100*",
        ":x: Company size: 12, wanted 50–2,000 (0/30)",
        ":x: Target industry: consumer (0/25)",
        ":grey_question: Funded: no company.funding_stage (0/20)",
        ":grey_question: Modern data stack: no company.tech_stack (0/15)",
        r":x: Work email: jane@gmail.com matches @(gmail|yahoo|hotmail|outlook)\. (0/10)",
    ]


def test_person_level_alert_without_company_owner_links_or_icp():
    message = message_for(person_facts())
    blocks = message["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "context", "actions"]
    assert blocks[0]["text"]["text"] == "anon-7: Team invited"
    assert [f["text"] for f in blocks[2]["fields"]] == [
        "*Company*\nUnknown company",
        "*Size*\n-",
        "*Industry*\n-",
        "*Funding*\n-",
        "*Plan*\n-",
        "*ICP score*\n100/100",
    ]
    assert blocks[3]["elements"][0]["text"] == "Routed by default route · Account from person"
    assert blocks[4]["elements"][0]["text"] == "`invite_sent` · anon-7"
    assert [e["action_id"] for e in blocks[5]["elements"]] == ["create_crm_task", "snooze", "not_relevant"]
    assert message["text"] == "anon-7: Team invited (ICP 100/100). Someone invited teammates."


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "/project/1/person/x", "", None])
def test_unsafe_posthog_urls_give_no_link_and_no_button(url):
    message = message_for(acme_facts(person_url=url, event_url=url, posthog_url=url))
    context = message["blocks"][5]["elements"][0]["text"]
    assert "Person in PostHog" not in context
    assert "|Event>" not in context
    assert "open_posthog" not in [e["action_id"] for e in message["blocks"][6]["elements"]]


def test_a_url_cannot_carry_a_fake_label():
    url = "https://us.posthog.com/person/x|Click me> <!channel>"
    message = message_for(acme_facts(person_url=url, posthog_url=url))
    context = message["blocks"][5]["elements"][0]["text"]
    assert "<https://us.posthog.com/person/x%7CClick%20me%3E%20%3C!channel%3E|Person in PostHog>" in context
    button = message["blocks"][6]["elements"][-1]
    assert button["url"] == "https://us.posthog.com/person/x%7CClick%20me%3E%20%3C!channel%3E"


def test_a_backtick_in_the_event_name_cannot_end_its_code_span():
    message = message_for(acme_facts(event_name="signup` *URGENT: wire the invoice today* `x"))
    context = message["blocks"][5]["elements"][0]["text"]
    assert "`signup' *URGENT: wire the invoice today* 'x`" in context


def test_links_too_long_for_the_context_are_left_out_whole():
    # Each link fits alone (about 1,450 characters); both together do not.
    person_url = "https://us.posthog.com/project/1/person/" + "p" * 1400
    event_url = "https://us.posthog.com/project/1/events/" + "e" * 1400
    message = message_for(acme_facts(person_url=person_url, event_url=event_url))
    context = message["blocks"][5]["elements"][0]["text"]
    assert len(context) <= 3000
    assert context.count("<") == context.count(">")  # no dangling `<https://…`
    assert f"<{person_url}|Person in PostHog>" in context
    assert "|Event>" not in context


def test_many_criteria_drop_whole_lines_to_fit_the_section():
    results = tuple(
        CriterionResult(f"Criterion {i} " + "&" * 80, "missed", 1, 0, "<" * 300) for i in range(40)
    )
    facts = acme_facts(score=Score(value=0, points=0, total=40, breakdown=results))
    text = message_for(facts)["blocks"][3]["text"]["text"]
    assert len(text) <= 3000
    assert text.endswith("\n…")
    for line in text.splitlines()[1:-1]:
        assert line.startswith(":x: Criterion ")
        assert line.endswith(" (0/1)")


# --- hostile input ----------------------------------------------------------------------------------

HOSTILE_STRINGS = [
    "<!channel> & <@U1> <https://evil|x>",
    "<!here|here> <!everyone> <#C1|general> <!subteam^S1|@team> <mailto:a@b.com|mail> <tel:1>",
    "&lt;!channel&gt; &amp; <<!channel>> <<@U1>>",
    "x" * 100_000,
    "&<>" * 40_000,
    "<!channel>" * 10_000,
    "first line\nsecond <!here>\r\n\tthird",
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f<!channel>\x00",
    "*bold* _it_ ~s~ `code` ```block``` > quote :tada: \u202e",
    "\u202eenilno\u202c Acme\u200b\u200c\u200d\u2060\ufeff\u2066Corp\u2069"
    "\r\n\u2028\u2029\u0085\t\x0b\x0cCEO\u200e\u200f\u061c",
    "",
    " ",
]

# What the bot itself writes: the configured owner mention, Slack's date token, and its own links.
BOT_TOKENS = re.compile(
    r"<@U0OWNER1>"
    r"|<!date\^-?\d+\^\{date_short_pretty\} at \{time\}\|[^<>|]*>"
    r"|<https?://[^\s<>|]+\|(?:Person in PostHog|Event)>"
)
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff]")
LINE_BREAK = re.compile("[\n\r\u2028\u2029\u0085\t\x0b\x0c]")


def hostile_facts(text: str) -> AlertFacts:
    """Every string an event, the enrichment or the ledger can influence is `text` (the alert id, the
    owner and the priority come from the bot and the validated signals file; a priority is one of
    three words by type)."""
    company = {
        "name": text,
        "domain": text,
        "industry": text,
        "funding_stage": text,
        "employees": text,
        "country": text,
        "tech_stack": [text, text],
    }
    context = {"company": company, "person": {"email": text}, "properties": {"plan": text}}
    icp = score(example_config().icp, context)
    hostile_result = CriterionResult(text, "unknown", 5, 0, text)
    icp = replace(icp, breakdown=(*icp.breakdown, hostile_result))
    url = "https://us.posthog.com/project/1/person/" + text
    return acme_facts(
        signal_name=text,
        action=text,
        event_name=text,
        event_uuid=text,
        distinct_id=text,
        person_name=text,
        person_email=text,
        account_key=text,
        account_source=text,
        company=company,
        properties={"plan": text, "company_domain": text},
        score=icp,
        route=RouteDecision(channel="C0AE1", owner="U0OWNER1", reason=text, index=0),
        history=(PastSignal(text, 1_700_000_000), PastSignal(text + "!", 1_700_000_000)),
        person_url=url,
        event_url=url,
        posthog_url=url,
        reached=Reached(text, ((text, 1_700_000_000), (None, 1_699_999_000))),
    )


@functools.cache
def _hostile_message(index: int) -> dict[str, Any]:
    facts = hostile_facts(HOSTILE_STRINGS[index])
    return message_for(facts)


@pytest.fixture(params=range(len(HOSTILE_STRINGS)), ids=lambda i: f"hostile{i}")
def hostile_message(request) -> dict[str, Any]:
    return _hostile_message(request.param)


def test_no_mention_or_link_injection_in_any_mrkdwn(hostile_message):
    for text in mrkdwn_texts(hostile_message):
        rest = BOT_TOKENS.sub("", text)
        for token in ("<!", "<@", "<#", "<http", "<mailto", "<tel"):
            assert token not in rest, text[:300]
        assert "<" not in rest and ">" not in rest, text[:300]
        assert not BARE_AMPERSAND.search(rest), text[:300]


def test_only_the_configured_owner_is_mentioned(hostile_message):
    mentions = [m for text in mrkdwn_texts(hostile_message) for m in re.findall(r"<[@!#][^>]*>", text)]
    assert all(m == "<@U0OWNER1>" or m.startswith("<!date^") for m in mentions)
    assert mentions.count("<@U0OWNER1>") == 1


def test_top_level_text_mentions_no_one(hostile_message):
    text = hostile_message["text"]
    assert "<" not in text and ">" not in text


def test_no_control_characters_reach_slack(hostile_message):
    for text in mrkdwn_texts(hostile_message) + plain_texts(hostile_message):
        assert not CONTROL.search(text), repr(text[:200])


def test_no_bidi_or_zero_width_character_reaches_slack(hostile_message):
    for text in mrkdwn_texts(hostile_message) + plain_texts(hostile_message):
        assert not INVISIBLE.search(text), repr(text[:200])


def single_line_texts(message: dict[str, Any]) -> list[str]:
    """The top-level text, the header, every field's value and every context line."""
    texts = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "header":
            texts.append(block["text"]["text"])
        for field in block.get("fields", []):
            label, value = field["text"].split("\n", 1)  # the one newline: between label and value
            texts += [label, value]
        if block["type"] == "context":
            texts += [element["text"] for element in block["elements"]]
    return texts


def test_single_line_places_hold_no_line_break(hostile_message):
    for text in single_line_texts(hostile_message):
        assert not LINE_BREAK.search(text), repr(text[:200])


def test_each_breakdown_line_is_one_criterion(hostile_message):
    [breakdown] = [
        b for b in hostile_message["blocks"] if b.get("text", {}).get("text", "").startswith("*Why")
    ]
    for line in breakdown["text"]["text"].splitlines()[1:]:
        assert line.startswith((":white_check_mark: ", ":x: ", ":grey_question: ")) or line == "…", line


def test_names_with_overrides_and_line_breaks_read_as_one_plain_line():
    facts = acme_facts(
        company={**acme_facts().company, "name": "Acme\u202e\u200b\nCorp"},
        person_name="Jane\u2028Doe\u200d",
        properties={"plan": "trial\r\nplus\u2066"},
    )
    message = message_for(facts)
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == "Acme Corp: Trial finished onboarding"
    assert blocks[2]["fields"][0]["text"] == "*Company*\nAcme Corp (acme.com)"
    assert blocks[2]["fields"][4]["text"] == "*Plan*\ntrial plus"
    assert " · Jane Doe · " in blocks[5]["elements"][0]["text"]
    assert message["text"].startswith(
        "Acme Corp: Trial finished onboarding (ICP 100/100). Trial user from Acme Corp"
    )


def test_multi_line_sections_keep_their_newlines_without_invisible_characters():
    message = message_for(acme_facts(), "First line\u202e.\nSecond\u200b line.\r\nThird.")
    assert message["blocks"][1]["text"]["text"] == "First line.\nSecond line.\nThird."
    assert "\n" not in message["text"]


def test_every_slack_limit_holds(hostile_message):
    assert_within_slack_limits(hostile_message)


def test_slack_sdk_models_serialise_without_error(hostile_message):
    for block in hostile_message["blocks"]:
        Block.parse(block).to_dict()  # validates lengths and counts; raises if exceeded


@pytest.mark.parametrize("text", HOSTILE_STRINGS, ids=lambda t: f"len{len(t)}")
def test_alert_blocks_to_dict_does_not_raise(text):
    facts = hostile_facts(text)
    blocks = alert_blocks(details_for(facts), AlertState())
    assert [block.to_dict() for block in blocks]


def test_hostile_summary_from_a_model_is_escaped_too():
    summary = "Call them now <!channel> <https://evil.com|PostHog login> " + "&" * 5000
    message = message_for(acme_facts(), summary)
    for text in mrkdwn_texts(message):
        assert "<!channel>" not in text
        assert "<https://evil.com" not in text
    assert_within_slack_limits(message)


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    assert 1 <= len(message["text"]) <= 4000
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    assert all(len(b) <= 255 for b in block_ids)
    action_ids = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        elif kind == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(1 <= len(f["text"]) <= 2000 for f in fields)
            assert "text" in block or fields
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(1 <= len(e["text"]) <= 3000 for e in block["elements"])
        elif kind == "actions":
            assert len(block["elements"]) <= 25
            for element in block["elements"]:
                action_ids.append(element["action_id"])
                assert len(element["action_id"]) <= 255
                if element["type"] == "button":
                    assert 1 <= len(element["text"]["text"]) <= 75
                    assert len(element.get("value", "")) <= 2000
                    assert len(element.get("url", "")) <= 3000
                else:
                    assert all(len(o["value"]) <= 150 for o in element["options"])
                    assert all(len(o["text"]["text"]) <= 75 for o in element["options"])
    assert len(action_ids) == len(set(action_ids))
    payload = message["metadata"]["event_payload"]
    assert len(json.dumps(payload)) <= 1000


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_extreme_event_times_still_render(timestamp):
    event_time = parse_timestamp(timestamp)
    message = message_for(acme_facts(event_time=event_time))
    assert f"<!date^{int(event_time)}^" in message["blocks"][5]["elements"][0]["text"]


def test_a_query_rows_columns_are_fields_escaped_and_bounded():
    row = {
        "account": "acme.com",
        "calls_this_week": 3,
        "<!channel> *loud*": "<https://evil.example|click> & more",
        "plans": ["team", None, 2],
        "meta": {"a": 1},
        "nothing": None,
        **{f"extra_{n}": n for n in range(8)},
    }
    blocks = [b.to_dict() for b in alert_blocks(details_for(acme_facts(query=row)), AlertState())]
    [section] = [b for b in blocks if b.get("fields") and "calls_this_week" in json.dumps(b)]
    texts = [f["text"] for f in section["fields"]]
    assert len(texts) == 10  # Slack's limit: nine columns and how many more
    assert texts[0] == "*calls_this_week*\n3"
    assert texts[1] == "*&lt;!channel&gt; *loud**\n&lt;https://evil.example|click&gt; &amp; more"
    assert texts[2] == "*plans*\nteam, , 2"
    assert texts[3] == '*meta*\n{"a": 1}'
    assert texts[4] == "*nothing*\n-"
    assert texts[-1] == "*…*\n4 more columns"  # 13 besides `account`, which the header names
    assert all(len(t) <= 2000 for t in texts)


def test_an_alert_without_a_query_row_has_no_query_fields():
    blocks = [b.to_dict() for b in alert_blocks(details_for(acme_facts()), AlertState())]
    assert sum(1 for b in blocks if b.get("fields")) == 1


def test_the_routing_line_says_where_a_crm_owner_came_from_or_which_step_failed():
    found = RouteDecision(
        "C0AE1", "U0OLIVE", "default route", 0, True, "owner from HubSpot: Olive <O&O>", "333"
    )
    lost = RouteDecision("C0AE1", None, "default route", 0, True, "no HubSpot company for <acme.com>")
    lines = [
        message_for(replace(person_facts(), route=route))["blocks"][3]["elements"][0]["text"]
        for route in (found, lost)
    ]
    assert lines == [
        "Routed by default route · Owner <@U0OLIVE> · owner from HubSpot: Olive &lt;O&amp;O&gt; · "
        "Account from person",
        "Routed by default route · No owner: no HubSpot company for &lt;acme.com&gt; · Account from person",
    ]


def _controls(details: AlertDetails, state: AlertState) -> tuple[list[str], str]:
    blocks = [b.to_dict() for b in alert_blocks(details, state)]
    actions = next(b for b in blocks if b["type"] == "actions")
    lines = [b for b in blocks if (b.get("block_id") or "").startswith("alert_state:")]
    return [e["action_id"] for e in actions["elements"]], json.dumps(lines, ensure_ascii=False)


def test_an_automatic_task_says_what_became_of_it():
    details = AlertDetails.of(replace(acme_facts(), auto_task=True), "summary")
    ids, lines = _controls(details, AlertState())
    assert "Creating the CRM task automatically" in lines
    assert "create_crm_task" in ids  # a click meanwhile gets the same task, and a stuck one is not stuck

    done = AlertState().with_task(
        TaskShown(by=TaskShown.AUTO, url="https://app.hubspot.com/t/1", crm="hubspot")
    )
    ids, lines = _controls(details, done)
    assert "create_crm_task" not in ids and "open_crm_task" in ids
    assert "Task created automatically · <https://app.hubspot.com/t/1|Open in HubSpot>" in lines

    failed = AlertState().auto_task_failed("HubSpot refused <!channel> the task.")
    ids, lines = _controls(details, failed)
    assert "create_crm_task" in ids  # the button is back
    assert (
        "The automatic task failed: HubSpot refused &lt;!channel&gt; the task. Create it with the button."
        in lines
    )


def test_without_auto_task_the_button_is_there_from_the_start():
    ids, lines = _controls(AlertDetails.of(acme_facts(), "summary"), AlertState())
    assert "create_crm_task" in ids and "automatically" not in lines
