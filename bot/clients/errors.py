"""What the outside APIs' clients raise when a call does not succeed.

Every error says the same things the same way: the status (None when the service never answered),
how long the service asked us to wait, whether trying again may help, and `explain()`, one sentence a
Slack user can act on, worded by each client for its own service. Error text never holds the
credential a call was made with: `scrub` takes it out of whatever the service echoed.
"""

from __future__ import annotations

from typing import ClassVar

MAX_DETAIL = 300  # characters of a service's own error text that an explanation quotes


class ApiError(Exception):
    """A call that did not succeed; `status` is None when the service never answered."""

    service: ClassVar[str] = "The service"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after  # seconds the service asked us to wait, when it said

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{self.service} {where} ({self.label()}): {self.message}"

    def label(self) -> str:
        """What the service called the error, for logs."""
        return "error"

    @property
    def retryable(self) -> bool:
        """Worth trying again later: no answer, rate limited, or a fault on the service's side. Not a
        promise that nothing happened: a create that timed out may have created."""
        return self.status is None or self.status == 429 or self.status >= 500

    def explain(self) -> str:
        """One sentence for Slack: what went wrong and what to do about it."""
        return self.message


def scrub(text: str, secret: str) -> str:
    """Services should never echo the credential, but an explanation must not leak it if one does."""
    return text.replace(secret, "***") if secret else text


def clip_detail(text: str) -> str:
    """A service's error text, shortened to what an explanation quotes."""
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
