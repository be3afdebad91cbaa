"""Messages the bot posts that are not alerts: digests and reports. Each is a row in the outbox (the
`alerts` table) so that delivery gives it an alert's guarantees (paced, retried, looked for in the
channel after an interrupted post); a key in `event_uuid` makes it one message per channel and period.
Their `signal` marks them, so whatever counts alerts leaves them out."""

from __future__ import annotations

from typing import Any

from bot.store.records import to_json

DIGEST_SIGNAL = "$digest"
REPORT_SIGNAL = "$report"
MESSAGE_SIGNALS = (DIGEST_SIGNAL, REPORT_SIGNAL)
COMPOSING = "composing"  # a report's status while its claimer reads its numbers


def message_row(
    message_id: str,
    signal: str,
    key: str,
    channel: str,
    message: dict[str, Any],
    details: dict[str, Any],
    now: float,
    score: int = 0,
) -> dict[str, Any]:
    """The outbox row of a message, queued for posting now."""
    return {
        "id": message_id,
        "event_uuid": key[:200],
        "signal": signal,
        "account": "",
        "channel": channel,
        "owner": None,
        "score": score,
        "message": to_json(message),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": 0.0,
        "received_at": now,
        "created_at": now,
        "request_id": f"{signal.lstrip('$')} {details.get('period', '')}"[:64],
        "details": to_json(details),
        "state": "{}",
    }
