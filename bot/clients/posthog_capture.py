"""Events a person asked for from Slack (`/posthog test`, `identify`, `alias`, feedback on an alert),
sent with the official async SDK and awaited, so the reply can say whether PostHog took them.

`$set` and `$create_alias` go out as ordinary captured events in the wire format the SDK's own
`set()` and `alias()` produce (person properties under `$set`; `alias` in the properties), because
only `capture_immediate` reports the outcome of one send.
"""

from __future__ import annotations

import contextvars
from typing import Any

from posthog import AsyncPosthog

from bot.clients.errors import ApiError, scrub
from bot.clients.posthog_writer import stamp_library

_ERRORS: contextvars.ContextVar[list[Exception] | None] = contextvars.ContextVar(
    "posthog_capture_errors", default=None
)


class CaptureError(ApiError):
    """An event PostHog's ingestion did not take; `status` is None when it never answered."""

    service = "PostHog ingestion"

    def explain(self) -> str:
        if self.status in (401, 403):
            return (
                "PostHog rejected POSTHOG_PROJECT_API_KEY (the project key, phc_…): "
                "check it belongs to this project."
            )
        if self.status == 400:
            return f"PostHog refused the event (400): {self.message[:200]}"
        if self.status == 413:
            return "PostHog refused the event as too large (413)."
        return "PostHog's ingestion did not take the event; try again in a moment."


async def _remember(error: Exception, batch: list[dict[str, Any]]) -> None:
    errors = _ERRORS.get()
    if errors is not None:
        errors.append(error)


class PostHogCapture:
    def __init__(self, api_key: str, host: str, timeout_s: float = 10.0):
        self._api_key = api_key
        self._host = host
        self._timeout_s = timeout_s
        self._client: AsyncPosthog | None = None

    def _sdk(self) -> AsyncPosthog:
        if self._client is None:  # created on first use, inside the running event loop
            self._client = AsyncPosthog(
                self._api_key,
                host=self._host,
                on_error=_remember,
                before_send=stamp_library,
                max_retries=1,
                timeout=self._timeout_s,
            )
        return self._client

    async def capture(
        self, event: str, distinct_id: str, properties: dict[str, Any], groups: dict[str, str] | None = None
    ) -> str:
        """Send one event and wait for PostHog's answer; returns the event uuid or raises CaptureError."""
        errors: list[Exception] = []
        token = _ERRORS.set(errors)
        try:
            event_uuid = await self._sdk().capture_immediate(
                event, distinct_id=distinct_id, properties=properties, groups=groups
            )
        finally:
            _ERRORS.reset(token)
        if event_uuid is None or errors:
            error = errors[0] if errors else None
            status = getattr(error, "status", None)  # the SDK's APIError; other errors never had an answer
            message = getattr(error, "message", str(error or "dropped"))
            raise CaptureError(
                scrub(str(message), self._api_key),
                status=status if isinstance(status, int) else None,
                retry_after=getattr(error, "retry_after", None),
            )
        return event_uuid

    async def set_person(self, distinct_id: str, properties: dict[str, Any]) -> str:
        return await self.capture("$set", distinct_id, {"$set": properties})

    async def alias(self, distinct_id: str, alias: str) -> str:
        """Link `alias` to `distinct_id` as the SDK's alias() does ($create_alias)."""
        return await self.capture("$create_alias", distinct_id, {"distinct_id": distinct_id, "alias": alias})

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.shutdown()
            self._client = None
