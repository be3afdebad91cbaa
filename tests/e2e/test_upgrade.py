"""A database as 0.1.0 left it (tests/support/release_0_1_0.py), served by this release: its start
upgrades the schema, and then everything 0.1.0 did still holds as a user would notice. A redelivered
event is a duplicate, a snoozed account stays snoozed until someone ends it, an alert with a task gets
no second one, a pending event is decided, a cooldown still holds, the ledger is kept and counted, and
the messages 0.1.0 posted keep what they showed when their controls are used. Two servers starting
at once on it upgrade it once, and both serve.

One upgraded app per database for the whole module; each test uses accounts and alerts no other test
changes (acme.com's API integration alert is only clicked, never snoozed, so its cooldown test holds).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.config.signals_file import load_signals
from bot.slack.blocks.alert import slack_day
from bot.store import tables
from bot.store.migrate import HEAD
from testkit.examples import EXAMPLE_SIGNALS
from testkit.processes import ServerProcess, process_spec
from testkit.slack import FakeSlack
from testkit.webhook_bodies import activation
from tests.conftest import RunningApp, database, make_settings, serve
from tests.support import release_0_1_0, stored
from tests.support.alert_clicks import choose_snooze, click, updates
from tests.support.posted_alerts import Shown
from tests.support.slack_requests import signed_headers, slash_command

TASKED = ("acme.com", "API integration activated")  # 0.1.0 created a CRM task on it
SNOOZED = ("globex.de", "Trial finished onboarding")  # snoozed for 7 days from it
UNTOUCHED = ("acme.com", "Trial finished onboarding")  # nobody used its controls
NOT_RELEVANT = ("initech.com", "API integration activated")  # marked not relevant, with a comment
PENDING = "7b9a7623-d813-40fa-842a-cd75e063f28a"  # umbrella.co.uk, still in the inbox


@dataclass(frozen=True)
class Upgraded:
    """The app serving an upgraded 0.1.0 database, the fake Slack holding what 0.1.0 posted, and the
    rows 0.1.0 wrote."""

    app: RunningApp
    slack: FakeSlack
    url: str
    written: dict[str, list[dict[str, Any]]]

    def alert(self, account: str, signal: str) -> dict[str, Any]:
        """The alert row 0.1.0 wrote for this account and signal."""
        [row] = [a for a in self.written["alerts"] if (a["account"], a["signal"]) == (account, signal)]
        return row

    def deliver(self, body: dict[str, Any]) -> dict[str, Any]:
        """A webhook delivery taken and decided; its ledger entry."""
        response = self.app.post_webhook(body)
        assert response.status_code == 202, response.text
        return self.app.wait_decided([body["event"]["uuid"]])[0]

    def posted_for(self, event_uuid: str) -> list[dict[str, Any]]:
        """What this release posted for the event."""
        return [m for m in self.slack.posted() if m["metadata"]["event_payload"]["event_uuid"] == event_uuid]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def upgraded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgraded]:
    with database(request.param, tmp_path_factory.mktemp("upgrade")) as url, FakeSlack() as slack:
        written = release_0_1_0.create(url)
        for alert in written["alerts"]:  # in Slack since 0.1.0 posted them
            slack.already_posted(alert["posted_channel"], alert["ts"], json.loads(alert["message"]))
        with serve(make_settings(url, slack), load_signals(EXAMPLE_SIGNALS)) as app:
            yield Upgraded(app, slack, url, written)


def _control(posted: dict[str, Any], action_id: str) -> str:
    """The value of a control on a message as 0.1.0 posted it: what a click on it sends."""
    [actions] = [block for block in posted["blocks"] if block["type"] == "actions"]
    [element] = [element for element in actions["elements"] if element["action_id"] == action_id]
    return str(element["value"])


def _above_controls(posted: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for block in posted["blocks"] if block["type"] != "actions"]


def _listed(upgraded: Upgraded, channel: str, name: str) -> dict[str, Any]:
    """`/posthog snoozes` run in `channel`: the answer only the asker sees."""
    command = slash_command("snoozes", upgraded.slack.response_url(name), channel=channel)
    response = upgraded.app.http.post("/slack/events", content=command, headers=signed_headers(command))
    assert response.status_code == 200
    return upgraded.slack.wait_for(lambda s: s.responses(name))[0]


def test_an_event_0_1_0_took_is_a_duplicate_when_redelivered_and_alerts_nobody(upgraded):
    alert = upgraded.alert(*TASKED)
    [taken] = [row for row in upgraded.written["inbox"] if row["uuid"] == alert["event_uuid"]]

    response = upgraded.app.post_webhook(json.loads(taken["payload"]))

    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 1}
    store = upgraded.app.services.store
    assert stored.row(store, tables.inbox, uuid=taken["uuid"]) == taken
    assert [a["id"] for a in stored.alerts_of(store, taken["uuid"])] == [alert["id"]]
    assert upgraded.posted_for(taken["uuid"]) == []


def test_the_account_0_1_0_snoozed_stays_snoozed_until_unsnoozed_from_its_channel(upgraded):
    account, _ = SNOOZED
    alert = upgraded.alert(*SNOOZED)
    [snooze] = [s for s in upgraded.written["snoozes"] if s["alert_id"] == alert["id"]]

    held = activation(account)
    assert upgraded.deliver(held)["outcome"] == "snoozed"
    assert upgraded.posted_for(held["event"]["uuid"]) == []

    listing = _listed(upgraded, alert["posted_channel"], "snoozes")
    assert listing["response_type"] == "ephemeral"
    [heading, listed] = listing["blocks"]
    assert heading["text"]["text"] == "*1 snoozed account(s) from this channel's alerts*"
    assert listed["text"]["text"].startswith(f"*{account}* until <!date^{int(snooze['until'])}^")
    assert listed["text"]["text"].endswith("by <@U0AE>")
    assert listed["accessory"]["action_id"] == "unsnooze" and listed["accessory"]["value"] == snooze["id"]

    channel, ts = alert["posted_channel"], alert["ts"]
    click(upgraded.app, upgraded.slack, "unsnooze", snooze["id"], channel, ts, response="unsnooze")
    answer = upgraded.slack.wait_for(lambda s: s.responses("unsnooze"))[0]
    assert answer["text"] == f"Alerts for {account} are back on."
    assert stored.row(upgraded.app.services.store, tables.snoozes, id=snooze["id"])["until"] <= time.time()
    posted = json.loads(alert["message"])
    shown = Shown.of(upgraded.slack.current(channel, ts))
    assert shown.rest == _above_controls(posted)
    assert shown.state == [":alarm_clock: Unsnoozed by <@U0AE>"]
    assert "snooze" in shown.controls  # a new snooze can be chosen again

    back = activation(account)
    assert upgraded.deliver(back)["outcome"] == "alerted"
    [message] = upgraded.slack.wait_for(lambda s: upgraded.posted_for(back["event"]["uuid"]))
    # the event 0.1.0 held back and the one held back since the upgrade
    assert "2 signals were held back while <@U0AE> snoozed this account" in json.dumps(message["blocks"])
    assert (
        _listed(upgraded, channel, "none-left")["text"] == "No account is snoozed from this channel's alerts."
    )


def test_the_alert_0_1_0_created_a_task_on_gets_no_second_one(upgraded):
    alert = upgraded.alert(*TASKED)
    posted = json.loads(alert["message"])
    [task] = [t for t in upgraded.written["tasks"] if t["alert_id"] == alert["id"]]
    channel, ts = alert["posted_channel"], alert["ts"]

    value = _control(posted, "create_crm_task")  # the button 0.1.0 posted, still in Slack
    response = click(upgraded.app, upgraded.slack, "create_crm_task", value, channel, ts, user="U0OTHER")

    assert response.status_code == 200
    note = upgraded.slack.wait_for(lambda s: s.responses("click"))[0]
    assert note["text"] == "A task already exists (created by <@U0AE>)."
    assert stored.rows(upgraded.app.services.store, tables.tasks, alert_id=alert["id"]) == [task]
    shown = Shown.of(upgraded.slack.current(channel, ts))
    assert shown.rest == _above_controls(posted)
    assert shown.state == [
        ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)"
    ]
    assert "create_crm_task" not in shown.controls


def test_a_control_on_an_untouched_0_1_0_alert_works_and_its_message_keeps_what_0_1_0_posted(upgraded):
    alert = upgraded.alert(*UNTOUCHED)
    posted = json.loads(alert["message"])
    channel, ts = alert["posted_channel"], alert["ts"]

    value = _control(posted, "create_crm_task")
    response = click(
        upgraded.app, upgraded.slack, "create_crm_task", value, channel, ts, response="untouched"
    )

    assert response.status_code == 200
    [update] = upgraded.slack.wait_for(lambda s: updates(s, channel, ts))
    assert update["text"] == posted["text"]
    above = _above_controls(posted)
    assert update["blocks"][: len(above)] == above  # header, summary, fields, score, context lines
    shown = Shown.of(update)
    assert shown.rest == above
    assert shown.state == [
        ":white_check_mark: Task created by <@U0AE> · kept in posthog-slack-signals (no CRM configured)"
    ]
    assert list(shown.controls) == ["snooze", "not_relevant", "open_posthog"]
    assert shown.block_ids == ["alert_state:1", f"alert_actions:{alert['id']}:1"]
    assert shown.controls["open_posthog"]["url"] == "https://us.posthog.com/project/12345/person/u_1"
    task = stored.task(upgraded.app.services.store, alert["id"])
    assert task["status"] == "created" and task["requested_by"] == "U0AE"
    assert task["subject"] == "Follow up: Acme Corp — Trial finished onboarding"
    assert "Trial user from Acme Corp finished onboarding." in task["body"]
    assert upgraded.slack.responses("untouched") == []


def test_snoozing_the_alert_0_1_0_marked_not_relevant_shows_both_on_its_message(upgraded):
    alert = upgraded.alert(*NOT_RELEVANT)
    posted = json.loads(alert["message"])
    channel, ts = alert["posted_channel"], alert["ts"]

    response = choose_snooze(upgraded.app, upgraded.slack, alert["id"], "1d", channel, ts)

    assert response.status_code == 200
    [update] = upgraded.slack.wait_for(lambda s: updates(s, channel, ts))
    shown = Shown.of(update)
    assert shown.rest == _above_controls(posted)
    snooze = stored.row(upgraded.app.services.store, tables.snoozes, alert_id=alert["id"])
    assert snooze["account"] == "initech.com" and snooze["snoozed_by"] == "U0AE"
    assert shown.state == [
        f":zzz: Snoozed by <@U0AE> until {slack_day(snooze['until'])}",
        ":no_entry_sign: Marked not relevant by <@U0AE>: already working it"
        " (Renewal call booked &lt;!here&gt;)",  # its comment as 0.1.0 kept it, escaped
    ]
    assert list(shown.controls) == ["create_crm_task", "unsnooze", "open_posthog"]


def test_the_event_0_1_0_left_pending_is_decided_and_alerted(upgraded):
    [entry] = upgraded.app.wait_decided([PENDING])

    assert entry["outcome"] == "alerted" and entry["account"] == "umbrella.co.uk"
    [message] = upgraded.slack.wait_for(lambda s: upgraded.posted_for(PENDING))
    assert message["channel"] == entry["signals"][0]["channel"] == "C0EMEA"
    assert message["text"].startswith("Umbrella Analytics: API integration activated")
    assert stored.row(upgraded.app.services.store, tables.inbox, uuid=PENDING)["status"] == "done"


def test_the_cooldown_0_1_0_took_still_holds(upgraded):
    account, signal = TASKED
    again = activation(account)

    entry = upgraded.deliver(again)

    assert entry["outcome"] == "cooldown"
    assert entry["signals"] == [
        {
            "signal": signal,
            "score": 100,
            "outcome": "cooldown",
            "reason": "this account already had this alert within its 1d cooldown",
        }
    ]
    assert upgraded.posted_for(again["event"]["uuid"]) == []


def _outcomes(metrics: str) -> dict[str, int]:
    found = re.findall(r'^signals_outcomes_total\{outcome="(\w+)"\} ([\d.]+)$', metrics, re.MULTILINE)
    return {outcome: int(float(count)) for outcome, count in found}


def test_every_0_1_0_ledger_entry_is_kept_and_counted(upgraded):
    written = upgraded.written["ledger"]

    changes = release_0_1_0.changes(upgraded.url, upgraded.written)
    assert [change for change in changes if change[0] == "ledger"] == []

    # /metrics counts the ledger as it stands (other tests of this module add to it as they run)
    deadline = time.monotonic() + 5
    while True:
        ledger = Counter(row["outcome"] for row in stored.rows(upgraded.app.services.store, tables.ledger))
        counted = _outcomes(upgraded.app.http.get("/metrics").text)
        if counted == ledger or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert counted == ledger
    assert Counter(counted) >= Counter(row["outcome"] for row in written)


def test_two_servers_starting_at_once_on_a_0_1_0_database_upgrade_it_once_and_both_serve(db_url, tmp_path):
    with FakeSlack() as slack:
        written = release_0_1_0.create(db_url)
        spec = process_spec(db_url, slack.api_url, EXAMPLE_SIGNALS)
        spec["settings"]["log_level"] = "INFO"
        servers = [ServerProcess(spec, tmp_path / name) for name in ("first", "second")]
        try:
            with ThreadPoolExecutor(len(servers)) as pool:
                list(pool.map(ServerProcess.start, servers))  # each returns once its /healthz answers

            taken = [activation(f"co{index}.example.com") for index in range(len(servers))]
            for server, body in zip(servers, taken, strict=True):
                assert httpx.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"
                assert server.post(body).status_code == 202
            alerted = {PENDING, *(body["event"]["uuid"] for body in taken)}
            slack.wait_for(
                lambda s: alerted <= {m["metadata"]["event_payload"]["event_uuid"] for m in s.posted()},
                timeout=15,
            )
            upgrades = [
                record
                for server in servers
                for record in server.logged()
                if record["msg"].startswith("schema upgraded")
            ]
            assert [record["msg"] for record in upgrades] == [f"schema upgraded from 0001 to {HEAD}"]
            assert release_0_1_0.contents(db_url)["alembic_version"] == [{"version_num": HEAD}]
            changed = {
                change
                for change in release_0_1_0.changes(db_url, written)
                if change[:2] != ("inbox", PENDING)  # decided since
            }
            # each alert given the details this release keeps, and nothing else changed or lost
            assert changed == {("alerts", alert["id"], "details") for alert in written["alerts"]}
        finally:
            for server in servers:
                server.kill()
