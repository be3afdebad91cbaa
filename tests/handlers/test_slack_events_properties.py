"""Properties of `POST /slack/events`, over requests Hypothesis makes up, against the running app on
SQLite and PostgreSQL with fake Slack and PostHog: no request gets a 5xx or waits past Slack's
3 seconds; one not signed with the app's secret gets 401 (Slack's unsigned ssl_check its 200); a
signed one 200, 401 when it cannot be read, or Bolt's 404 for what nothing listens to; a well-formed
`/posthog` command is answered on its response_url whatever it says; nothing a payload carries
reaches Slack as a channel ping or as a mention of anyone but the clicking user or a configured owner;
and the app keeps answering `/posthog help` and /healthz throughout.

Signed payloads are made up the way Slack builds them (tests/support/slack_requests.py) and may refer
to the app's real alerts and snoozes, so most of them reach the listeners; some have fields dropped,
replaced or mistyped."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from string import Template
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.config.signals_file import SignalsConfig, load_signals
from bot.slack.blocks.not_relevant import not_relevant_modal
from bot.slack.ids import AlertAction, FeedbackReason, ModalTarget, NotRelevantModal, SnoozeChoice
from bot.store.account_state import Snooze
from handlers.slack_events import is_ssl_check
from testkit.examples import EXAMPLE_SIGNALS
from testkit.posthog import FakePostHog
from testkit.posthog_api import FUNNEL_INSIGHT, PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from testkit.slack import SIGNING_SECRET, FakeSlack
from tests.conftest import RunningApp, database, make_settings, serve
from tests.support.alert_clicks import not_relevant_state, post_alert
from tests.support.burst import raw_request
from tests.support.slack_requests import (
    block_actions,
    interactive_body,
    signed_headers,
    slash_command,
    view_submission,
)
from tests.support.strategies import header_text, json_values, texts

ACK_S = 3.0  # Slack's wait for an answer
HTTP_PARSER_REFUSAL = b"Invalid HTTP request received."
EXAMPLES = 50
ALIVE_EVERY = 25  # examples between checks that `/posthog help` and /healthz still answer
ALERTS = (("acme.com", "onboarding_completed"), ("globex.de", "feature_activated"))
# The users who click and type; only their ids may come back as mentions.
CLICKERS = ("U0AE", "U0ADMIN", "U0CLICK2", "W0GRID1")
# What a payload may say to ping people or fake a link; none of it may reach Slack as markup.
MARKUP = (
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<!subteam^S0EVIL|devs>",
    "<@U0EVIL>",
    "<@W0EVIL|boss>",
    "&lt;!here&gt;",
    "&lt;@U0EVIL&gt;",
    "<https://evil.example|PostHog>",
)
_SPECIAL_MENTION = re.compile(r"<!(?:channel|here|everyone|subteam)")
_USER_MENTION = re.compile(r"<@([^>|]*)")


def _parsed(value: Any) -> Any:
    """What Slack parses for mentions: everything but `plain_text` objects, which it shows as
    written (a header reading `<!channel>` pings nobody)."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return _parsed(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return {"type": "plain_text"}
        return {k: _parsed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_parsed(v) for v in value]
    return value


SHOWN = ("/api/chat.postMessage", "/api/chat.update", "/api/chat.postEphemeral", "/api/views.open")
DISPLAYED = ("text", "blocks", "attachments", "view")  # what people read, not whom it is for


# -- values only the running app knows, filled in when an example runs ---------------------------------
@dataclass(frozen=True)
class AlertRef:
    """Text about one of the real alerts: `template` with $alert, $channel and $ts filled in."""

    index: int
    template: str = "$alert"


@dataclass(frozen=True)
class SnoozeRef:
    """The id of one of the snoozes running at the time (earlier examples make them)."""

    index: int


@dataclass(frozen=True)
class ResponseUrl:
    """The fake Slack's response receiver, under a name unique to the example."""

    name: str


@dataclass(frozen=True)
class Signed:
    """A request signed with the app's secret: the payload `make` builds from `fields` (for a
    command: slash_command's arguments, None leaving a field out), with `changes` and `drops` at its
    top level, sent as `encoding` ("form", "json", or the content type a form body is sent under)."""

    make: Literal["command", "click", "submission", "other"]
    fields: dict[str, Any]
    changes: dict[str, Any] = field(default_factory=dict)
    drops: frozenset[str] = frozenset()
    encoding: str = "form"
    headers: dict[str, str] = field(default_factory=dict)
    answered: bool = False  # a well-formed /posthog command: 200, and an answer on its response_url


@dataclass(frozen=True)
class Unsigned:
    """`content` (a made-up payload or any bytes) not signed with the app's secret: `signing` says how
    it is signed wrongly; "junk" sends `headers` as drawn."""

    content: Signed | bytes
    signing: str
    headers: dict[str, str] = field(default_factory=dict)


# -- strategies ----------------------------------------------------------------------------------------
markup = st.sampled_from(MARKUP)
user_ids = st.one_of(
    st.sampled_from(CLICKERS),
    st.sampled_from(CLICKERS),
    texts,
    markup,
    st.sampled_from(["U0AE><!channel>", "U0AE|<!here>", "payload"]),
)
alert_indexes = st.integers(0, len(ALERTS) - 1)
JUNK_URLS = (
    "http://127.0.0.1:9/response/closed",
    "http://127.0.0.1:9",
    "https://",
    "http://[::1",
    "https://127.0.0.1:9/\x00",
    "ftp://127.0.0.1/x",
    "not a url",
    "",
)
answer_urls = st.builds(ResponseUrl, st.sampled_from(["r", "answer", "click"]))
response_urls = answer_urls | st.sampled_from(JUNK_URLS)
WORDS = (
    "help",
    "snoozes",
    "funnel",
    "test",
    "identify",
    "alias",
    "--share",
    "--shared",
    "by",
    "plan",
    "30d",
    "ytd",
    "$pageview",
    "signup_started",
    FUNNEL_INSIGHT,
    "plan=team",
    "seats=3",
    "u_42",
    "=",
    '"sign up"',
    "“curly”",
    "'open",
    "payload",
    "payload=%7B%7D",
    'payload={"type":"block_actions"}',
    "https://us.posthog.com/project/1/insights/FuNn3l01",
)
SEPARATORS = (" ", " > ", ">", "&gt;", "\n", "\t", "\x00", "\u202e", "\u200b", "\u2028")
pieces = st.sampled_from(WORDS) | markup | texts
phrases = st.lists(st.tuples(st.sampled_from(SEPARATORS), pieces), max_size=6).map(
    lambda parts: "".join(separator + piece for separator, piece in parts)
)
command_texts = st.one_of(
    st.sampled_from(["help", "snoozes", "", "funnel $pageview > signup_started", "test signup_completed"]),
    st.builds(
        str.__add__, st.sampled_from(["help", "snoozes", "funnel", "test", "identify", "alias", ""]), phrases
    ),
    texts,
)
channels = st.one_of(
    alert_indexes.map(lambda i: AlertRef(i, "$channel")), st.sampled_from(["C0AE1", "C0NOWHERE"]), texts
)
extra_headers = st.one_of(
    st.just({}),
    st.just({}),
    st.dictionaries(
        st.sampled_from(
            [
                "X-Slack-Retry-Num",
                "X-Slack-Retry-Reason",
                "X-Slack-Bolt-Lazy-Only",
                "X-Slack-Bolt-Lazy-Function-Name",
            ]
        ),
        header_text,
        min_size=1,
        max_size=2,
    ),
)
encodings = st.one_of(
    st.just("form"),
    st.just("json"),
    st.sampled_from(["application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", ""]),
    header_text,
)
INTERACTIVE_PARTS = [
    "type",
    "user",
    "team",
    "channel",
    "container",
    "message",
    "actions",
    "view",
    "state",
    "trigger_id",
    "response_url",
    "enterprise",
    "authorizations",
    "is_enterprise_install",
]


def _mutations() -> st.SearchStrategy[tuple[dict[str, Any], frozenset[str]]]:
    """Top-level parts replaced by any JSON, or left out (or, now and then, neither)."""
    changes = st.dictionaries(st.sampled_from(INTERACTIVE_PARTS), json_values, min_size=1, max_size=2)
    drops = st.frozensets(st.sampled_from(INTERACTIVE_PARTS), min_size=1, max_size=2)
    return st.one_of(
        st.just(({}, frozenset())), st.tuples(changes, st.just(frozenset())), st.tuples(st.just({}), drops)
    )


NO_CHANGES: tuple[dict[str, Any], frozenset[str]] = ({}, frozenset())
# One example in four is wild: any field may be missing, mistyped or junk. The others are shaped as
# Slack shapes them (their text may still say anything), so they reach the listeners.
wildness = st.integers(0, 3).map(lambda n: n == 3)  # shrinks towards the tame


@st.composite
def commands(draw: st.DrawFn) -> Signed:
    wild = draw(wildness)
    url = draw(response_urls if wild else answer_urls)
    user, channel = draw(user_ids), draw(channels)
    changes = {}
    if wild:
        changes = draw(
            st.dictionaries(
                st.sampled_from(["command", "user_id", "channel_id", "response_url", "text", "payload"]),
                st.none() | st.sampled_from(["/posthog", "/other", ""]) | texts,
                max_size=2,
            )
        )
    fields = {"text": draw(command_texts), "response_url": url, "user": user, "channel": channel, **changes}
    encoding = draw(encodings) if wild else "form"
    # What Slack itself would send: a /posthog form from a user in a channel, with somewhere to answer.
    answered = (
        not changes and encoding == "form" and isinstance(url, ResponseUrl) and bool(user) and bool(channel)
    )
    return Signed("command", fields, encoding=encoding, headers=draw(extra_headers), answered=answered)


strings = st.one_of(alert_indexes.map(AlertRef), st.integers(0, 3).map(SnoozeRef), texts, markup)
values = strings | st.integers() | st.none() | json_values


@st.composite
def clicks(draw: st.DrawFn) -> Signed:
    wild = draw(wildness)
    alert = draw(alert_indexes)
    action_ids = st.sampled_from([str(action) for action in AlertAction])
    action: dict[str, Any] = {
        "type": draw(st.sampled_from(["button", "static_select", "overflow"])),
        "action_id": draw(action_ids | texts if wild else action_ids),
        "block_id": draw(st.just("b") | texts),
    }
    if draw(st.integers(0, 3)):
        action["value"] = draw(values if wild else strings)
    if draw(st.booleans()):
        choices = st.sampled_from([*map(str, SnoozeChoice), "forever", ""]).map(
            lambda c: {"value": AlertRef(alert, f"$alert:{c}")}
        )
        option = st.fixed_dictionaries({"value": values if wild else strings})
        action["selected_option"] = draw(choices | option | json_values if wild else choices | option)
    fields = {
        "action": action,
        "response_url": draw(response_urls if wild else answer_urls),
        "channel": draw(st.just(AlertRef(alert, "$channel")) | channels),
        "user": draw(user_ids),
        "message_ts": draw(st.just(AlertRef(alert, "$ts")) | texts),
    }
    changes, drops = draw(_mutations()) if wild else NO_CHANGES
    encoding = draw(encodings) if wild else "form"
    return Signed("click", fields, changes, drops, encoding, draw(extra_headers))


metadata = st.one_of(
    alert_indexes.map(lambda i: AlertRef(i, '{"alert_id": "$alert", "channel": "$channel"}')),
    alert_indexes.map(lambda i: AlertRef(i, '{"alert_id": "$alert", "channel": "C0ELSEWHERE"}')),
    alert_indexes.map(lambda i: AlertRef(i, '{"alert_id": "$alert"}')),
    json_values.map(json.dumps),
    texts,
)
comments = st.none() | phrases | texts


@st.composite
def submissions(draw: st.DrawFn) -> Signed:
    wild = draw(wildness)
    view = not_relevant_modal(ModalTarget(alert_id="a1", channel="C0AE1"), draw(texts | markup)).to_dict()
    view["private_metadata"] = draw(metadata | json_values if wild else metadata)
    view["callback_id"] = draw(
        st.just(str(NotRelevantModal.CALLBACK)) | texts if wild else st.just(str(NotRelevantModal.CALLBACK))
    )
    reason = draw(st.sampled_from([str(reason) for reason in FeedbackReason]) | st.none() | texts)
    state = st.builds(not_relevant_state, st.just(reason), comments)
    fields = {
        "view": view,
        "state": draw(state | st.dictionaries(texts, json_values, max_size=3) if wild else state),
        "user": draw(user_ids),
    }
    changes, drops = draw(_mutations()) if wild else NO_CHANGES
    encoding = draw(encodings) if wild else "form"
    return Signed("submission", fields, changes, drops, encoding, draw(extra_headers))


parts = json_values | st.fixed_dictionaries(
    {"id": user_ids}, optional={"type": texts, "callback_id": texts, "team_id": texts}
)
events = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "app_mention", "app_home_opened"]) | texts},
    optional={"user": user_ids, "bot_id": texts, "subtype": texts, "channel": texts, "text": phrases},
)
others = st.builds(
    lambda payload, encoding, headers: Signed("other", payload, encoding=encoding, headers=headers),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "block_actions",
                    "view_submission",
                    "view_closed",
                    "shortcut",
                    "message_action",
                    "block_suggestion",
                    "interactive_message",
                    "event_callback",
                    "url_verification",
                    "app_rate_limited",
                ]
            )
            | texts
        },
        optional={
            "user": parts,
            "team": parts,
            "channel": parts,
            "container": parts,
            "message": parts,
            "view": parts,
            "enterprise": parts,
            "event": events | json_values,
            "actions": st.lists(st.fixed_dictionaries({"action_id": texts}, optional={"value": values})),
            "authorizations": st.lists(
                st.fixed_dictionaries({}, optional={"team_id": texts, "user_id": texts})
            ),
            "response_url": response_urls,
            "callback_id": st.just(str(NotRelevantModal.CALLBACK)) | texts,
            "challenge": texts,
            "token": texts,
        },
    ),
    encodings,
    extra_headers,
)
signed = st.one_of(commands(), commands(), clicks(), clicks(), submissions(), others)

SIGNATURE_LIKE = (
    "v0=" + "0" * 64,
    "v0=",
    "v1=" + "a" * 64,
    "1700000000",
    str(2**70),
    "-1",
    "¹²³",
    " 1 ",
    "0x1f",
)
junk_headers = st.dictionaries(
    st.sampled_from(["X-Slack-Signature", "X-Slack-Request-Timestamp", "Content-Type"]),
    st.sampled_from(SIGNATURE_LIKE) | header_text,
    max_size=3,
)
unsigned = st.one_of(
    st.builds(
        Unsigned,
        signed | st.binary(max_size=300) | st.just(b"ssl_check=1&token=x"),
        st.just("junk"),
        junk_headers,
    ),
    st.builds(
        Unsigned,
        signed | st.binary(max_size=100),
        st.sampled_from(["other secret", "stale", "future", "other body", "uppercase", "v1"]),
    ),
)
requests = st.one_of(signed, signed, signed, unsigned)


# -- the running app -----------------------------------------------------------------------------------
@dataclass
class World:
    app: RunningApp
    slack: FakeSlack
    alerts: list[tuple[str, str, str]]  # (id, channel, ts)
    mentionable: frozenset[str]  # the clickers and the owners the signals file names
    serial: int = 0
    scanned: int = 0  # fake Slack requests already looked at

    def response_name(self, url: ResponseUrl) -> str:
        return f"{url.name}-{self.serial}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, AlertRef):
            alert_id, channel, ts = self.alerts[value.index]
            return Template(value.template).substitute(alert=alert_id, channel=channel, ts=ts)
        if isinstance(value, SnoozeRef):
            running = [s.id for c in {a[1] for a in self.alerts} for s in self._snoozes(c)]
            return running[value.index % len(running)] if running else "no-snooze-running"
        if isinstance(value, ResponseUrl):
            return self.slack.response_url(self.response_name(value))
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _snoozes(self, channel: str) -> list[Snooze]:
        return self.app.services.store.active_snoozes(time.time(), channel)

    def body(self, request: Signed) -> tuple[str, str]:
        """(body, content type) of the request, as Slack would encode it."""
        fields = self.resolve(request.fields)
        if request.make == "command":
            body = slash_command(**fields)
            return (
                body,
                "application/x-www-form-urlencoded" if request.encoding == "form" else request.encoding,
            )
        if request.make == "click":
            payload = block_actions(**fields)
        elif request.make == "submission":
            payload = view_submission(**fields)
        else:
            payload = fields
        payload = {**payload, **self.resolve(request.changes)}
        for name in request.drops:
            payload.pop(name, None)
        if request.encoding == "json":
            return json.dumps(payload), "application/json"
        kind = "application/x-www-form-urlencoded" if request.encoding == "form" else request.encoding
        return interactive_body(payload), kind

    def wire(self, request: Signed | Unsigned) -> tuple[bytes, list[tuple[str, str]]]:
        """The bytes and headers to send."""
        if isinstance(request, Signed):
            body, content_type = self.body(request)
            headers = {**signed_headers(body), "Content-Type": content_type, **request.headers}
            return body.encode(), list(headers.items())
        if isinstance(request.content, bytes):
            raw, content_type = request.content, "application/x-www-form-urlencoded"
        else:
            text, content_type = self.body(request.content)
            raw = text.encode()
        if request.signing == "junk":
            return raw, list(request.headers.items())
        text = raw.decode("latin-1")
        now = int(time.time())
        headers = {
            "other secret": lambda: signed_headers(text, secret="not-" + SIGNING_SECRET),
            "stale": lambda: signed_headers(text, at=now - 600),
            "future": lambda: signed_headers(text, at=now + 600),
            "other body": lambda: signed_headers(text + "&retry=1"),
            "uppercase": lambda: _changed_signature(signed_headers(text), str.upper),
            "v1": lambda: _changed_signature(signed_headers(text), lambda s: s.replace("v0=", "v1=")),
        }[request.signing]()
        return raw, list({**headers, "Content-Type": content_type}.items())

    def assert_alive(self) -> None:
        """A signed `/posthog help` is still answered on its response_url, and /healthz is 200."""
        name = f"alive-{self.serial}"
        body = slash_command("help", self.slack.response_url(name))
        status, answer = raw_request(
            self.app.url, "POST", "/slack/events", list(signed_headers(body).items()), body.encode()
        )
        assert status == 200, answer
        reply = self.slack.wait_for(lambda s: s.responses(name))[0]
        assert "/posthog funnel" in reply["text"]
        status, health = raw_request(self.app.url, "GET", "/healthz", [], b"")
        assert status == 200, health

    def assert_no_markup_reached_slack(self) -> None:
        """Everything the app has sent Slack to show people since the last look: no channel-wide or
        group ping at all, and no user mention but of a clicker (the app names who clicked) or of an
        owner from the signals file."""
        with self.slack.lock:
            new = self.slack.requests[self.scanned :]
            self.scanned += len(new)
        for request in new:
            if request.path.startswith("/response/"):
                args = request.json()
            elif request.path in SHOWN:
                args = FakeSlack.args(request)
            else:
                continue
            displayed = {k: _parsed(v) for k, v in args.items() if k in DISPLAYED}
            shown = json.dumps(displayed, ensure_ascii=False)
            assert not _SPECIAL_MENTION.search(shown), f"{request.path}: {shown}"
            mentioned = set(_USER_MENTION.findall(shown))
            assert mentioned <= self.mentionable, f"{request.path} mentions {mentioned}: {shown}"

    def settle(self) -> None:
        """Wait until the app has said all it will to Slack (nothing new for 0.3 s)."""
        seen = -1
        while seen != len(self.slack.requests):
            seen = len(self.slack.requests)
            time.sleep(0.3)


def _changed_signature(headers: dict[str, str], change: Any) -> dict[str, str]:
    return {**headers, "X-Slack-Signature": change(headers["X-Slack-Signature"])}


def _mentionable(config: SignalsConfig) -> frozenset[str]:
    return frozenset(CLICKERS) | {route.owner for route in config.routing if route.owner}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    config = load_signals(EXAMPLE_SIGNALS)
    with (
        FakeSlack() as slack,
        FakePostHog() as posthog,
        FakePostHogApi() as api,
        database(request.param, tmp_path_factory.mktemp("slack_properties")) as url,
        serve(
            make_settings(
                url,
                slack,
                posthog,
                posthog_app_host_setting=api.url,
                posthog_personal_api_key=PERSONAL_KEY,
                posthog_project_id=PROJECT_ID,
            ),
            config,
        ) as app,
    ):
        alerts = [post_alert(app, slack, domain, name) for domain, name in ALERTS]
        world = World(app, slack, alerts, _mentionable(config))
        yield world
        world.settle()
        world.assert_no_markup_reached_slack()
        world.assert_alive()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
def test_no_request_gets_a_5xx_or_reaches_slack_as_markup(world: World, request: Signed | Unsigned) -> None:
    world.serial += 1
    raw, headers = world.wire(request)
    started = time.monotonic()
    status, answer = raw_request(world.app.url, "POST", "/slack/events", headers, raw)
    took = time.monotonic() - started
    if answer == HTTP_PARSER_REFUSAL:  # uvicorn's, before the app: DEL is no header character
        event("refused by the HTTP parser")
        assert status == 400 and any("\x7f" in value for _, value in headers)
    elif isinstance(request, Signed):
        event(f"signed {request.make}: answered {status}")
        assert status in (200, 401, 404), answer
    else:
        event(f"unsigned: answered {status}")
        assert status == (200 if is_ssl_check(raw) else 401), answer
    assert took < ACK_S, f"answered {status} after {took:.1f}s"
    if isinstance(request, Signed) and request.answered and answer != HTTP_PARSER_REFUSAL:
        assert status == 200, answer
        name = world.response_name(request.fields["response_url"])
        world.slack.wait_for(lambda s: s.responses(name), timeout=5)
    if world.serial % ALIVE_EVERY == 0:
        world.assert_alive()
    world.assert_no_markup_reached_slack()
