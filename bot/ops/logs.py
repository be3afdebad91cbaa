"""Structured logs: one JSON object per line, with the ids (`request_id`, `event_uuid`, `alert_id`)
that let an operator follow one event from the webhook to Slack. Secrets never reach a log record:
settings hold them as SecretStr and callers log error types, not request bodies.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of msg with terminal colours
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)[-4000:]
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "posthog", "backoff", "urllib3", "slack_bolt", "slack_sdk", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
