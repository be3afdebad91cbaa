"""Who may post to the webhook: the shared secret, or a Standard Webhooks signature
(https://www.standardwebhooks.com), computed here independently of the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from starlette.datastructures import Headers

from bot.ingest.credentials import TOLERANCE_S, shared_secret_ok, signing_key, standard_signature_ok

SECRET = "test-webhook-secret"

# --- shared secret ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {SECRET}"},
        {"authorization": f"bearer {SECRET}"},
        {"authorization": f"Bearer  {SECRET} "},
        {"x-webhook-secret": SECRET},
        {"authorization": "Bearer wrong", "x-webhook-secret": SECRET},
    ],
)
def test_accepted_secrets(headers):
    assert shared_secret_ok(headers, SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": f"Basic {SECRET}"},
        {"authorization": SECRET},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": f"Bearer {SECRET}x"},
        {"authorization": f"Bearer {SECRET[:-1]}"},
        {"x-webhook-secret": ""},
        {"x-webhook-secret": SECRET.upper()},
        {"x-webhook-secret": f"Bearer {SECRET}"},
        {"x-webhook-secret": "sécret"},
    ],
)
def test_wrong_or_missing_secrets(headers):
    assert not shared_secret_ok(headers, SECRET)


@pytest.mark.parametrize("configured", [None, ""])
def test_no_configured_secret_accepts_nothing(configured):
    assert not shared_secret_ok({"authorization": "Bearer ", "x-webhook-secret": ""}, configured)
    assert not shared_secret_ok({"x-webhook-secret": "anything"}, configured)


def test_header_names_are_case_insensitive_as_http_sends_them():
    assert shared_secret_ok(Headers({"Authorization": f"Bearer {SECRET}"}), SECRET)
    assert shared_secret_ok(Headers({"X-Webhook-Secret": SECRET}), SECRET)


# --- Standard Webhooks ------------------------------------------------------------------------------

RAW_KEY = bytes(range(32))
SIGNING_SECRET = "whsec_" + base64.b64encode(RAW_KEY).decode()
NOW = 1_760_000_000
BODY = b'{"event": {"uuid": "u1", "event": "onboarding_completed"}}'
MSG_ID = "msg_2mXr9dJ3kQ"


def expected_signature(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """v1,base64(HMAC-SHA256(base64decode(secret without whsec_), "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    body: bytes = BODY, timestamp: int = NOW, msg_id: str = MSG_ID, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": expected_signature(secret, msg_id, timestamp, body),
    }


def verify(headers, body: bytes = BODY, now: float = NOW, secret: str = SIGNING_SECRET) -> bool:
    return standard_signature_ok(headers, body, signing_key(secret), clock=lambda: now)


def test_signing_key_decodes_the_whsec_secret():
    assert signing_key(SIGNING_SECRET) == RAW_KEY


def test_a_secret_without_prefix_is_used_as_is():
    assert signing_key("plain-secret") == b"plain-secret"


def test_a_whsec_secret_that_is_not_base64_names_the_setting():
    with pytest.raises(ValueError, match="POSTHOG_WEBHOOK_SIGNING_SECRET"):
        signing_key("whsec_not base64!!")


def test_published_standard_webhooks_test_vector():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert verify(headers, b'{"test": 2432232314}', now=1614265330, secret=secret)


def test_a_valid_signature_is_accepted():
    assert verify(signed_headers())


def test_header_names_are_case_insensitive():
    headers = Headers({name.title(): value for name, value in signed_headers().items()})
    assert verify(headers)


def test_one_valid_signature_among_several_is_enough():
    good = signed_headers()
    bogus = "v1," + base64.b64encode(b"x" * 32).decode()
    rotated = expected_signature("whsec_" + base64.b64encode(b"old" * 8).decode(), MSG_ID, NOW, BODY)
    for value in (
        f"{bogus} {good['webhook-signature']}",
        f"{good['webhook-signature']} {bogus}",
        f"{rotated} {good['webhook-signature']}",
    ):
        assert verify({**good, "webhook-signature": value})


def test_only_v1_signatures_count():
    good = signed_headers()
    for prefix in ("v1a,", "v2,", ""):
        forged = good["webhook-signature"].replace("v1,", prefix, 1)
        assert not verify({**good, "webhook-signature": forged})


@pytest.mark.parametrize("age", [-TOLERANCE_S, 0, 60, TOLERANCE_S])
def test_timestamps_within_five_minutes_are_accepted(age):
    assert verify(signed_headers(timestamp=NOW - age))


@pytest.mark.parametrize("age", [TOLERANCE_S + 1, 3600, 86400, -(TOLERANCE_S + 1), -3600])
def test_stale_or_future_timestamps_are_rejected(age):
    # The signature itself is valid: only the age is wrong (a replay).
    assert not verify(signed_headers(timestamp=NOW - age))


def test_tampered_body_is_rejected():
    headers = signed_headers()
    assert not verify(headers, BODY.replace(b"onboarding_completed", b"onboarding_completeD"))
    assert not verify(headers, BODY + b" ")


def test_a_signature_cannot_be_moved_to_another_id_or_time():
    headers = signed_headers()
    assert not verify({**headers, "webhook-id": "msg_other"})
    assert not verify({**headers, "webhook-timestamp": str(NOW + 1)}, now=NOW + 1)


def test_a_signature_with_another_secret_is_rejected():
    other = "whsec_" + base64.b64encode(b"another key of 32 bytes length!!").decode()
    assert not verify(signed_headers(secret=other))


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_every_header_is_required(missing):
    headers = signed_headers()
    del headers[missing]
    assert not verify(headers)


@pytest.mark.parametrize("timestamp", ["soon", "1.76e9", "", "9" * 5000])
def test_unreadable_timestamps_are_rejected(timestamp):
    assert not verify({**signed_headers(), "webhook-timestamp": timestamp})


def test_no_signing_secret_configured_accepts_no_signature():
    assert not standard_signature_ok(signed_headers(), BODY, None, clock=lambda: NOW)


def test_the_real_clock_is_used_by_default():
    import time

    now = int(time.time())
    assert standard_signature_ok(signed_headers(timestamp=now), BODY, RAW_KEY)
    assert not standard_signature_ok(signed_headers(timestamp=now - 3600), BODY, RAW_KEY)
