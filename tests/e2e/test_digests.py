"""`deliver: digest` through a running server and `python -m bot digest`: the alerts are decided and
wait (nothing posted), the command posts one digest per channel listing them by score, run again it
posts nothing, and the digest's Create CRM task button creates the task of that account's alert."""

from __future__ import annotations

import time
from pathlib import Path

from bot.config.signals_file import load_signals
from bot.store import Store, tables
from bot.store.messages import DIGEST_SIGNAL
from testkit.examples import EXAMPLE_SIGNALS
from testkit.processes import ServerProcess, process_spec
from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve
from tests.support import stored
from tests.support.alert_clicks import click
from tests.support.command_line import popen, required_settings, run


def _digest_signals(tmp_path: Path) -> Path:
    """The example signals file with every signal delivered in a digest at 09:00 Amsterdam time."""
    text = EXAMPLE_SIGNALS.read_text().replace("    deliver: digest", "    thread: account")
    text = text.replace("    min_score:", "    deliver: digest\n    min_score:")
    path = tmp_path / "signals.yml"
    path.write_text(text)
    (tmp_path / "companies.json").write_text((EXAMPLE_SIGNALS.parent / "companies.json").read_text())
    return path


def _ledger(app, uuids: list[str]) -> list[tuple[str, str]]:
    deadline = time.time() + 10
    while time.time() < deadline:
        rows = {r["event_uuid"]: r for r in app.services.store.ledger_entries(uuids)}
        if len(rows) == len(uuids):
            return [(rows[u]["outcome"], rows[u]["signals"][0]["reason"]) for u in uuids]
        time.sleep(0.02)
    raise AssertionError("not decided in time")


def test_digest_alerts_wait_then_one_digest_per_channel_and_its_button_works(tmp_path, db_url, fake_slack):
    signals = _digest_signals(tmp_path)
    config = load_signals(signals)
    settings = make_settings(db_url, fake_slack)
    bodies = [
        webhook_body("onboarding_completed", properties={"company_domain": "acme.com", "plan": "trial"}),
        webhook_body(
            "feature_activated", properties={"company_domain": "acme.com", "feature_name": "api_integration"}
        ),
        webhook_body("onboarding_completed", properties={"company_domain": "initech.com", "plan": "trial"}),
    ]
    with serve(settings, config) as app:
        for body in bodies:
            assert app.post_webhook(body).status_code == 202
        outcomes = _ledger(app, [b["event"]["uuid"] for b in bodies])
        assert outcomes == [("alerted", "routed to the C0AE1 digest")] * 3
        time.sleep(0.2)
        assert fake_slack.posted() == []  # they wait for the digest

    env = {**required_settings(db_url), "SIGNALS_CONFIG": str(signals), "SLACK_API_URL": fake_slack.api_url}
    result = run(["digest"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Posted the digest to C0AE1."
    [digest] = fake_slack.posted()
    assert digest["channel"] == "C0AE1"
    sections = [b for b in digest["blocks"] if b["type"] == "section"]
    assert [s["text"]["text"].split(" ·")[0] for s in sections] == ["*Acme Corp*", "*Initech*"]
    assert "API integration activated" in sections[0]["text"]["text"]
    assert "Trial finished onboarding" in sections[0]["text"]["text"]

    again = run(["digest"], tmp_path, **env)
    assert (
        again.returncode == 0
        and again.stdout.strip() == "No alerts are waiting for a digest, and every digest is in Slack."
    )
    assert len(fake_slack.posted()) == 1

    button = sections[1]["accessory"]
    with serve(settings, config) as app:
        ts = fake_slack.posted_ts()[0]
        response = click(app, fake_slack, button["action_id"], button["value"], "C0AE1", ts)
        assert response.status_code == 200
        [note] = fake_slack.wait_for(lambda s: s.responses("click"))
        assert note["text"].startswith("Task created for Initech")
        assert note["response_type"] == "ephemeral"
        assert fake_slack.current("C0AE1", ts)["blocks"] == digest["blocks"]  # the digest stays as it was


def test_a_digest_is_posted_once_when_the_process_sending_it_is_killed(tmp_path, sqlite_url, fake_slack):
    """SIGKILL to `python -m bot digest` while Slack has the digest but its answer has not arrived:
    `serve` then finds the claim of a dead process, looks in the channel, finds the digest there by its
    metadata and records it, instead of posting it again."""
    signals = _digest_signals(tmp_path)
    with serve(make_settings(sqlite_url, fake_slack), load_signals(signals)) as app:
        body = webhook_body(
            "onboarding_completed", properties={"company_domain": "acme.com", "plan": "trial"}
        )
        assert app.post_webhook(body).status_code == 202
        assert _ledger(app, [body["event"]["uuid"]])[0][0] == "alerted"

    original = fake_slack.api_chat_postMessage

    def slack_got_it_but_never_answered(args):
        reply = original(args)
        reply.delay_s = 30
        return reply

    fake_slack.api_chat_postMessage = slack_got_it_but_never_answered
    env = {
        **required_settings(sqlite_url),
        "SIGNALS_CONFIG": str(signals),
        "SLACK_API_URL": fake_slack.api_url,
    }
    sending = popen(["digest"], tmp_path, **env)
    try:
        fake_slack.wait_for(lambda s: s.calls("chat.postMessage"), timeout=20)
    finally:
        sending.kill()
        sending.wait(5)
    fake_slack.api_chat_postMessage = original

    server = ServerProcess(process_spec(sqlite_url, fake_slack.api_url, signals), tmp_path / "metrics")
    server.start()
    try:
        fake_slack.wait_for(lambda s: s.calls("conversations.history"), timeout=15)
        time.sleep(0.5)
        assert len(fake_slack.calls("chat.postMessage")) == 1 and len(fake_slack.posted()) == 1
        store = Store.from_url(sqlite_url)
        [digest] = [r for r in stored.rows(store, tables.alerts, signal=DIGEST_SIGNAL)]
        store.dispose()
        assert digest["status"] == "posted" and digest["ts"] == fake_slack.posted_ts()[0]
    finally:
        server.kill()
