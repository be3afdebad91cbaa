"""An account-level threshold through a running server: the events short of it are in the ledger as
`accumulating`, a redelivery counts once, and the event that reaches it posts one alert that says what
was reached."""

from __future__ import annotations

import time
import uuid

from bot.config.signals_file import Signal, Threshold
from testkit.webhook_bodies import webhook_body
from tests.conftest import make_settings, serve


def _invite(person: str, minutes_ago: float) -> dict:
    body = webhook_body("member_invited", distinct_id=person, properties={"company_domain": "acme.com"})
    body["event"]["uuid"] = str(uuid.uuid4())
    at = time.gmtime(time.time() - minutes_ago * 60)
    body["event"]["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", at)
    return body


def _outcomes(app, uuids: list[str]) -> dict[str, tuple[str, str]]:
    deadline = time.time() + 10
    while time.time() < deadline:
        rows = {r["event_uuid"]: r for r in app.services.store.ledger_entries(uuids)}
        if len(rows) == len(uuids):
            return {u: (rows[u]["outcome"], rows[u]["signals"][0]["reason"]) for u in uuids}
        time.sleep(0.02)
    raise AssertionError(f"not decided in time: {uuids}")


def test_a_threshold_posts_one_alert_on_the_event_that_reaches_it(db_url, fake_slack, example_config):
    signal = Signal(
        name="Team is inviting",
        event="member_invited",
        threshold=Threshold(count=3, within="7d"),
        cooldown="7d",
        action="is inviting their team",
    )
    config = example_config.model_copy(update={"signals": [*example_config.signals, signal]})
    with serve(make_settings(db_url, fake_slack), config) as app:
        first, second = _invite("ann", 30), _invite("bob", 20)
        for body in (first, first):  # the first one delivered twice
            assert app.post_webhook(body).status_code == 202
        _outcomes(app, [first["event"]["uuid"]])  # decided before the next arrives: the counts' order
        assert app.post_webhook(second).status_code == 202
        uuids = [first["event"]["uuid"], second["event"]["uuid"]]
        assert _outcomes(app, uuids) == {
            uuids[0]: ("accumulating", "1 of 3 member_invited in 7d"),
            uuids[1]: ("accumulating", "2 of 3 member_invited in 7d"),
        }
        assert fake_slack.posted() == []

        third = _invite("cy", 10)
        assert app.post_webhook(third).status_code == 202
        [message] = fake_slack.wait_for(lambda s: s.posted())
        reached = [b for b in message["blocks"] if ":chart_with_upwards_trend:" in str(b)]
        assert len(reached) == 1
        text = reached[0]["elements"][0]["text"]
        assert "*3 member_invited in 7 days by 3 people*" in text
        assert text.index("cy ") < text.index("bob ") < text.index("ann ")  # newest first

        fourth = _invite("dee", 5)
        assert app.post_webhook(fourth).status_code == 202
        assert _outcomes(app, [fourth["event"]["uuid"]])[fourth["event"]["uuid"]][0] == "cooldown"
        assert len(fake_slack.posted()) == 1
