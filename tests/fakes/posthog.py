"""A fake PostHog: the capture endpoints the `posthog` SDK uses (`/batch/`, `/i/v0/e/`)."""

from __future__ import annotations

from typing import Any

from tests.fakes.base import FakeServer, Recorded, Reply

PROJECT_KEY = "phc_test_project_key"


class FakePostHog(FakeServer):
    def __init__(self, api_key: str = PROJECT_KEY) -> None:
        super().__init__()
        self.api_key = api_key

    def respond(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path in ("/batch/", "/batch", "/i/v0/e/", "/capture/"):
            body = request.json()
            if body.get("api_key") != self.api_key:
                return Reply(
                    401,
                    {
                        "type": "authentication_error",
                        "code": "invalid_api_key",
                        "detail": "Project API key invalid.",
                        "attr": None,
                    },
                )
            return Reply(200, {"status": "Ok"})
        return Reply(
            404, {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
        )

    def captured(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every event the SDK delivered, optionally only those named `event`."""
        out: list[dict[str, Any]] = []
        with self.lock:
            for request in self.requests:
                if request.method != "POST" or request.path not in (
                    "/batch/",
                    "/batch",
                    "/i/v0/e/",
                    "/capture/",
                ):
                    continue
                body = request.json()
                out.extend(body.get("batch") or [body])
        return [e for e in out if event is None or e.get("event") == event]
