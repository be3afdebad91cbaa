"""`POST /slack/events` against a running server: what an unsigned, oversized, malformed or
unparseable request gets back (401, 413; never 500), and that each refusal costs one log line,
without a traceback and without a secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest

from bot.config.signals_file import load_signals
from testkit.examples import EXAMPLE_SIGNALS
from testkit.slack import SIGNING_SECRET, TOKEN, FakeSlack
from tests.conftest import RunningApp, make_settings, serve
from tests.support.slack_requests import signed_headers, slash_command

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlack) -> Iterator[RunningApp]:
    url = f"sqlite:///{tmp_path_factory.mktemp('slack_events') / 'signals.db'}"
    with serve(make_settings(url, fake_slack), load_signals(EXAMPLE_SIGNALS)) as running:
        yield running


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def _app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the app logged about a request: everything but the HTTP clients' and uvicorn's access
    lines (uvicorn's error logger, which prints unhandled exceptions, is kept)."""
    return [
        r for r in caplog.records if not r.name.startswith(("httpx", "httpcore", "uvicorn.access", "asyncio"))
    ]


def _assert_one_quiet_line(caplog: pytest.LogCaptureFixture) -> None:
    records = _app_records(caplog)
    assert len(records) == 1, [f"{r.name}: {r.getMessage()[:200]}" for r in records]
    [record] = records
    assert record.levelno in (logging.INFO, logging.WARNING)
    assert record.exc_info is None and not record.exc_text
    text = record.getMessage() + json.dumps({k: str(v) for k, v in vars(record).items()})
    assert SIGNING_SECRET not in text and TOKEN not in text


def _raw_signed(body: bytes, at: int | None = None) -> dict[str, str]:
    """Signed over the raw bytes, as anyone holding the secret could sign a body that is not UTF-8."""
    timestamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def _form(payload: object) -> str:
    return "payload=" + quote(json.dumps(payload))


COMMAND = slash_command("help", "http://127.0.0.1:9/response/x")


def _unsigned_cases() -> list[tuple[str, bytes, dict[str, str | bytes]]]:
    now = str(int(time.time()))
    good = signed_headers(COMMAND)
    superscript = "¹²³".encode("latin-1")  # str.isdigit() says yes, int() says no
    accented = ("v0=é" + "0" * 63).encode("latin-1")
    return [
        ("malformed json", b'{"type": "block_actions", ', {"Content-Type": "application/json"}),
        ("malformed payload", b"payload=%7Bnot-json", {}),
        ("non-utf-8 bytes", b"payload=\xff\xfe\xfd", {}),
        ("empty body", b"", {}),
        ("non-numeric timestamp", COMMAND.encode(), {**good, "X-Slack-Request-Timestamp": "soon"}),
        ("superscript timestamp", COMMAND.encode(), {**good, "X-Slack-Request-Timestamp": superscript}),
        ("missing timestamp", COMMAND.encode(), {"X-Slack-Signature": good["X-Slack-Signature"]}),
        ("missing signature", COMMAND.encode(), {"X-Slack-Request-Timestamp": now}),
        ("wrong signature", COMMAND.encode(), signed_headers(COMMAND, secret="not-the-secret")),
        ("stale timestamp", COMMAND.encode(), signed_headers(COMMAND, at=int(time.time()) - 301)),
        ("future timestamp", COMMAND.encode(), signed_headers(COMMAND, at=int(time.time()) + 301)),
        ("non-ascii signature", COMMAND.encode(), {**good, "X-Slack-Signature": accented}),
        ("signed other body", b"command=%2Fposthog&text=alias", good),
        ("raw-signed non-utf-8", b"payload=\xff", _raw_signed(b"payload=\xff")),
    ]


@pytest.mark.parametrize("case", range(len(_unsigned_cases())), ids=[c[0] for c in _unsigned_cases()])
def test_unsigned_or_malformed_requests_are_401_with_one_quiet_log_line(app, logs, case):
    _, body, headers = _unsigned_cases()[case]
    response = app.http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]
    _assert_one_quiet_line(logs)


SIGNED_UNPARSEABLE = {
    "bad payload json": "payload=%7Bnot-json",
    "payload is a number": "payload=5",
    "payload is null": "payload=null",
    "payload is a list": "payload=" + quote("[1, 2]"),
    "json list": "[1, 2]",
    "json object of the wrong shape": json.dumps({"type": "block_actions", "team": 5}),
    "empty body": "",
    "form without a command or payload": "a=b&c",
    "view is not an object": _form({"type": "view_submission", "user": {"id": "U1"}, "view": 5}),
    "actions is not a list": _form({"type": "block_actions", "user": {"id": "U1"}, "actions": "x"}),
    "click without a user": _form(
        {"type": "block_actions", "actions": [{"action_id": "snooze"}], "response_url": "http://x/y"}
    ),
    "click whose response_url is not a URL": _form(
        {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "x"}], "response_url": 5}
    ),
    "snooze choice that is not an object": _form(
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "actions": [{"action_id": "snooze", "selected_option": "7d"}],
            "response_url": "http://127.0.0.1:9/response/x",
        }
    ),
    "legacy buttons without actions": _form({"type": "interactive_message", "callback_id": "c"}),
    "action without an action_id": _form({"type": "block_actions", "user": {"id": "U1"}, "actions": [{}]}),
    "view without a type": _form(
        {"type": "view_submission", "user": {"id": "U1"}, "view": {"callback_id": "not_relevant_reason"}}
    ),
    "event that is a string": _form({"type": "event_callback", "event": "type"}),
    "workflow step edit without its step": _form({"type": "workflow_step_edit", "callback_id": "c"}),
    "command without a response_url": urlencode(
        {"command": "/posthog", "text": "help", "user_id": "U1", "channel_id": "C1"}
    ),
    "command whose response_url is not a URL": urlencode(
        {"command": "/posthog", "text": "help", "user_id": "U1", "channel_id": "C1", "response_url": "x"}
    ),
}


@pytest.mark.parametrize("body", SIGNED_UNPARSEABLE.values(), ids=SIGNED_UNPARSEABLE.keys())
def test_signed_but_unparseable_bodies_are_401_with_one_quiet_log_line(app, logs, body):
    started = time.perf_counter()
    response = app.http.post("/slack/events", content=body.encode(), headers=signed_headers(body))
    assert response.status_code == 401
    assert response.json()["error"]
    assert time.perf_counter() - started < 1
    _assert_one_quiet_line(logs)


def test_a_body_over_1_mib_is_413_and_the_connection_closed(app, logs):
    body = "payload=" + "x" * (2 * MiB)
    response = app.http.post("/slack/events", content=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    _assert_one_quiet_line(logs)


def test_a_chunked_body_is_cut_off_after_1_mib(app, logs):
    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB, no Content-Length
            yield b"x" * 65536

    response = app.http.post("/slack/events", content=chunks())
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    _assert_one_quiet_line(logs)


def test_slacks_unsigned_ssl_check_is_answered(app):
    response = app.http.post(
        "/slack/events",
        content=b"ssl_check=1&token=legacy-verification-token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


def test_a_signed_command_still_reaches_the_app(app, fake_slack):
    command = slash_command("help", fake_slack.response_url("help"))
    response = app.http.post("/slack/events", content=command, headers=signed_headers(command))
    assert response.status_code == 200
    answer = fake_slack.wait_for(lambda s: s.responses("help"))[0]
    assert "/posthog funnel" in json.dumps(answer)


@pytest.mark.parametrize(
    ("text", "changes"),
    [("help", {"channel_name": "payload-team"}), ("funnel payload_sent > signup_completed", {})],
    ids=["channel named payload-team", "funnel of payload_sent"],
)
def test_a_command_whose_form_says_payload_is_answered(app, fake_slack, text, changes):
    """Bolt alone would take such a form for an interactive payload it cannot find, and not route it."""
    name = f"payload-{len(changes)}"
    command = slash_command(text, fake_slack.response_url(name), **changes)
    response = app.http.post("/slack/events", content=command, headers=signed_headers(command))
    assert response.status_code == 200
    assert fake_slack.wait_for(lambda s: s.responses(name))[0]["text"]


@pytest.mark.parametrize("part", ["event", "view", "message", "enterprise"])
def test_a_signed_payload_with_a_null_part_is_not_a_500(app, part):
    body = _form({"type": "event_callback", "team": {"id": "T0TEAM"}, part: None})
    response = app.http.post("/slack/events", content=body.encode(), headers=signed_headers(body))
    assert response.status_code == 404  # valid, and nothing here listens for it


def test_bolts_own_lazy_listener_headers_from_outside_are_ignored(app, fake_slack):
    command = slash_command("help", fake_slack.response_url("lazy"))
    headers = {
        **signed_headers(command),
        "X-Slack-Bolt-Lazy-Only": "1",
        "X-Slack-Bolt-Lazy-Function-Name": "posthog",
    }
    started = time.perf_counter()
    response = app.http.post("/slack/events", content=command, headers=headers)
    assert response.status_code == 200
    assert time.perf_counter() - started < 1
    assert "/posthog funnel" in fake_slack.wait_for(lambda s: s.responses("lazy"))[0]["text"]


def test_a_modal_submission_with_a_junk_state_is_asked_again_not_crashed(app, logs):
    body = _form(
        {
            "type": "view_submission",
            "user": {"id": "U1"},
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": "not_relevant_reason",
                "private_metadata": json.dumps({"alert_id": "a1", "channel": "C1"}),
                "state": 5,
            },
        }
    )
    response = app.http.post("/slack/events", content=body.encode(), headers=signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"response_action": "errors", "errors": {"reason": "Choose a reason."}}
    assert not [r for r in logs.records if r.exc_info or r.levelno >= logging.ERROR]
