"""What every client's error shares: the status, whether to try again, how it reads in a log, and
never the credential, whatever the service echoes. Each client's own sentences are tested with it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.clients.errors import MAX_DETAIL, ApiError, clip_detail, scrub
from bot.clients.hubspot import HubSpot, HubSpotError
from bot.clients.posthog_api import PostHogApi, PostHogApiError
from bot.clients.posthog_capture import CaptureError, PostHogCapture
from testkit import hubspot as hubspot_fakes
from testkit import posthog_api as api_fakes
from testkit.base import Recorded, Reply
from testkit.hubspot import FakeHubSpot
from testkit.posthog import PROJECT_KEY, FakePostHog, error
from testkit.posthog_api import FakePostHogApi

ERRORS = [PostHogApiError, HubSpotError, CaptureError]


def test_a_log_line_names_the_service_the_status_and_what_the_service_called_it():
    assert str(PostHogApiError("Project not found.", status=404, code="not_found")) == (
        "PostHog HTTP 404 (not_found): Project not found."
    )
    assert str(PostHogApiError("PostHog did not answer within 2 s")) == (
        "PostHog no answer (error): PostHog did not answer within 2 s"
    )
    assert str(HubSpotError("bad", status=400, category="VALIDATION_ERROR", correlation_id="c-1")) == (
        "HubSpot HTTP 400 (VALIDATION_ERROR, correlationId c-1): bad"
    )
    assert str(HubSpotError("HubSpot did not answer within 2 s", category="TIMEOUT")) == (
        "HubSpot no answer (TIMEOUT): HubSpot did not answer within 2 s"
    )
    assert str(CaptureError("Project API key invalid.", status=401)) == (
        "PostHog ingestion HTTP 401 (error): Project API key invalid."
    )


@pytest.mark.parametrize("kind", ERRORS)
@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (None, True),
        (429, True),
        (500, True),
        (503, True),
        (200, False),
        (400, False),
        (401, False),
        (404, False),
    ],
)
def test_only_no_answer_rate_limits_and_the_services_own_faults_are_worth_retrying(kind, status, retryable):
    error = kind("x", status=status, retry_after=3.0)
    assert isinstance(error, ApiError) and error.retryable is retryable
    assert (error.status, error.retry_after, error.message) == (status, 3.0, "x")


def test_scrub_and_clip():
    assert scrub("Bearer s3cret-token, again s3cret-token", "s3cret-token") == "Bearer ***, again ***"
    assert scrub("nothing to hide", "") == "nothing to hide"
    assert clip_detail("x" * MAX_DETAIL) == "x" * MAX_DETAIL
    assert clip_detail("x" * (MAX_DETAIL + 1)) == "x" * (MAX_DETAIL - 1) + "…"


class EchoingPostHog(FakePostHog):
    """A capture endpoint whose refusal quotes the key it was sent."""

    def respond(self, request: Recorded) -> Reply:
        key = request.json().get("api_key")
        return Reply(400, error("validation_error", "invalid_input", f"Bad event for key {key}"))


def _raised(call: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> ApiError:
    async def go() -> None:
        async with httpx.AsyncClient() as client:
            await call(client)

    with pytest.raises(ApiError) as caught:
        asyncio.run(go())
    return caught.value


async def _capture(url: str) -> str:
    capture = PostHogCapture(PROJECT_KEY, url)
    try:
        return await capture.capture("signal_feedback", "u_1", {})
    finally:
        await capture.aclose()


def _posthog_api_echoing() -> tuple[ApiError, str]:
    secret = api_fakes.PERSONAL_KEY
    with FakePostHogApi(seed=False) as fake:
        fake.script(api_fakes.error(400, "validation_error", "invalid_input", f"Bad token {secret}"))
        error = _raised(
            lambda client: PostHogApi(fake.url, api_fakes.PROJECT_ID, secret, client).event_names()
        )
    return error, secret


def _hubspot_echoing() -> tuple[ApiError, str]:
    secret = hubspot_fakes.TOKEN
    with FakeHubSpot() as fake:
        fake.script(hubspot_fakes.validation_error(f"bad header Bearer {secret}"))
        error = _raised(lambda client: HubSpot(fake.url, secret, client).find_company("acme.com"))
    return error, secret


def _capture_echoing() -> tuple[ApiError, str]:
    with EchoingPostHog() as fake:
        error = _raised(lambda _client: _capture(fake.url))
    return error, PROJECT_KEY


@pytest.mark.parametrize(
    ("echoing", "kind"),
    [
        (_posthog_api_echoing, PostHogApiError),
        (_hubspot_echoing, HubSpotError),
        (_capture_echoing, CaptureError),
    ],
)
def test_every_client_scrubs_its_credential_out_of_what_the_service_echoes(echoing, kind):
    error, secret = echoing()
    assert type(error) is kind and error.status == 400 and not error.retryable
    assert "***" in error.message
    for text in (error.message, error.explain(), str(error)):
        assert secret not in text


def test_a_capture_posthog_refuses_names_the_project_key():
    with FakePostHog(api_key="phc_another_project") as fake:
        error = _raised(lambda _client: _capture(fake.url))
    assert isinstance(error, CaptureError)
    assert error.status == 401 and not error.retryable and error.message == "Project API key invalid."
    assert error.explain() == (
        "PostHog rejected POSTHOG_PROJECT_API_KEY (the project key, phc_…): check it belongs to this project."
    )
