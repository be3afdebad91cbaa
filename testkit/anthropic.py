"""A fake Anthropic Messages API (`POST /v1/messages`) answering as Claude does with a forced tool call,
driven through the real `anthropic` SDK via ANTHROPIC_BASE_URL. `answer(...)` sets what the model
"writes"; `script(...)` injects raw replies (errors, hangs, malformed output)."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from testkit.base import FakeServer, Recorded, Reply

API_KEY = "sk-ant-test-key"

GOOD = {
    "headline": "Acme Corp finished onboarding on a trial",
    "why_now": "Series B fintech with 240 people matching 5 of 5 ICP criteria. They also activated the API "
    "integration recently.",
    "next_step": "Book a demo within 48 hours to convert the trial.",
}


def error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """Anthropic's error body."""
    return Reply(status, {"type": "error", "error": {"type": kind, "message": message}}, headers or {})


class FakeAnthropic(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.tool_input: Any = dict(GOOD)
        self.replies: deque[Reply] = deque()
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.url

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def answer(self, **fields: Any) -> None:
        """What the model writes next (and after), as the forced tool call's input."""
        self.tool_input = {**GOOD, **fields}

    def sent(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json() for r in self.requests if r.path == "/v1/messages"]

    def respond(self, request: Recorded) -> Reply:
        if request.path != "/v1/messages" or request.method != "POST":
            return error(404, "not_found_error", "Not found")
        with self.lock:
            if self.replies:
                return self.replies.popleft()
        if API_KEY not in (request.headers.get("x-api-key"), request.headers.get("authorization", "")[7:]):
            return error(401, "authentication_error", "invalid x-api-key")
        body = request.json()
        tool = body["tools"][0]["name"] if body.get("tools") else "tool"
        return Reply(200, message(body.get("model", "claude"), tool, self.tool_input, next(self._ids)))


def message(model: str, tool: str, tool_input: Any, n: int = 1) -> dict[str, Any]:
    """A Messages API response whose content is one tool_use block."""
    return {
        "id": f"msg_test_{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": f"toolu_{n}", "name": tool, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 812, "output_tokens": 96},
    }


def text_message(text: str) -> Reply:
    """The model answering in prose instead of calling the tool."""
    return Reply(
        200,
        {
            "id": "msg_text",
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 800, "output_tokens": 20},
        },
    )
