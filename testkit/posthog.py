"""A fake PostHog: the capture endpoints the `posthog` SDK uses (`/batch/`, `/i/v0/e/`)."""

from __future__ import annotations

from typing import Any

from testkit.base import FakeServer, Recorded, Reply

PROJECT_KEY = "phc_test_project_key"
CAPTURE_PATHS = ("/batch/", "/batch", "/i/v0/e/", "/capture/")


def error(kind: str, code: str, detail: str) -> dict[str, Any]:
    """PostHog's error body: {"type", "code", "detail", "attr"}."""
    return {"type": kind, "code": code, "detail": detail, "attr": None}


class FakePostHog(FakeServer):
    def __init__(self, api_key: str = PROJECT_KEY) -> None:
        super().__init__()
        self.api_key = api_key

    def respond(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path in CAPTURE_PATHS:
            return self._check_key(request) or Reply(200, {"status": "Ok"})
        if request.method == "POST" and request.path.startswith("/flags"):
            return self._check_key(request) or Reply(
                200, {"flags": {}, "errorsWhileComputingFlags": False, "requestId": "req-1"}
            )
        return Reply(404, error("invalid_request", "not_found", "Not found."))

    def _check_key(self, request: Recorded) -> Reply | None:
        if request.json().get("api_key") != self.api_key:
            return Reply(401, error("authentication_error", "invalid_api_key", "Project API key invalid."))
        return None

    def captured(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every event the SDK delivered, optionally only those named `event`."""
        out: list[dict[str, Any]] = []
        with self.lock:
            for request in self.requests:
                if request.method != "POST" or request.path not in CAPTURE_PATHS:
                    continue
                body = request.json()
                out.extend(body.get("batch") or [body])
        return [e for e in out if event is None or e.get("event") == event]
