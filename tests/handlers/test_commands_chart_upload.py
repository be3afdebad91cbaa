"""The real `AsyncWebClient.files_upload_v2` against the fake Slack's 3-step external upload."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.charts import funnel_png
from testkit.base import Reply
from testkit.slack import TOKEN, FakeSlack

PNG = funnel_png("Signup funnel", [("$pageview", 1200), ("signed_up", 300), ("paid", 12)])


def _upload(slack: FakeSlack, **kwargs: Any) -> Any:
    async def go() -> Any:
        client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
        return await client.files_upload_v2(**kwargs)

    return asyncio.run(go())


def test_files_upload_v2_sends_the_chart_to_the_channel() -> None:
    with FakeSlack() as slack:
        response = _upload(
            slack,
            channel="C0AE1",
            file=PNG,
            filename="funnel.png",
            title="Signup funnel",
            alt_txt="Funnel: $pageview 1,200 → paid 12",
            initial_comment="Signup funnel, last 14 days",
            thread_ts="1700000000.000100",
        )
        assert slack.uploaded() == [("funnel.png", PNG, "C0AE1", "Signup funnel, last 14 days")]
        (upload,) = slack.uploads()
        assert upload["title"] == "Signup funnel"
        assert upload["alt_txt"] == "Funnel: $pageview 1,200 → paid 12"
        assert upload["thread_ts"] == "1700000000.000100"

        # the client exposes the single file as response["file"]
        assert response["ok"] is True
        assert response["file"]["id"] == upload["file_id"]
        assert response["file"]["name"] == "funnel.png"
        assert response["file"]["mimetype"] == "image/png"
        assert response["file"]["size"] == len(PNG)

        # steps 1 and 3: POSTs with the bot token, arguments in the query string, no body
        step1, step3 = (r for r in slack.requests if r.path.startswith("/api/files."))
        assert (step1.method, step1.path) == ("POST", "/api/files.getUploadURLExternal")
        assert (step3.method, step3.path) == ("POST", "/api/files.completeUploadExternal")
        for request in (step1, step3):
            assert request.headers["authorization"] == f"Bearer {TOKEN}"
            assert request.body == b""
        assert step1.query["length"] == [str(len(PNG))]
        assert json.loads(step3.query["files"][0]) == [{"id": upload["file_id"], "title": "Signup funnel"}]

        # step 2: the raw bytes POSTed to the upload URL, without the token
        (raw,) = slack.upload_host().requests
        assert (raw.method, raw.path, raw.body) == ("POST", f"/upload/{upload['file_id']}", PNG)
        assert "authorization" not in raw.headers


def test_not_in_channel_fails_at_completion_after_the_bytes_were_sent() -> None:
    with FakeSlack() as slack:
        slack.upload_error = "not_in_channel"
        with pytest.raises(SlackApiError) as failure:
            _upload(slack, channel="C0PRIVATE", file=PNG, filename="funnel.png")
        assert failure.value.response["error"] == "not_in_channel"
        assert slack.uploaded() == []
        assert [r.body for r in slack.upload_host().requests] == [PNG]


def test_missing_scope_fails_before_any_upload() -> None:
    with FakeSlack() as slack:
        slack.upload_error = "missing_scope"
        with pytest.raises(SlackApiError) as failure:
            _upload(slack, channel="C0AE1", file=PNG, filename="funnel.png")
        assert failure.value.response["error"] == "missing_scope"
        assert failure.value.response["needed"] == "files:write"
        assert slack.calls("files.completeUploadExternal") == []
        assert slack.upload_host().requests == []


def test_a_failed_byte_upload_raises_slack_request_error() -> None:
    with FakeSlack() as slack:
        slack.script("upload", Reply(500, b"boom", {"Content-Type": "text/plain"}))
        with pytest.raises(SlackRequestError, match="status: 500"):
            _upload(slack, channel="C0AE1", file=PNG, filename="funnel.png")
        assert slack.calls("files.completeUploadExternal") == []
        assert slack.uploaded() == []


def test_completing_an_unknown_or_unsent_file_is_refused() -> None:
    with FakeSlack() as slack:

        async def go() -> None:
            client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
            started = await client.files_getUploadURLExternal(filename="funnel.png", length=len(PNG))
            for file_id in ("F-unknown", started["file_id"]):
                with pytest.raises(SlackApiError, match="file_not_found"):
                    await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0AE1")

        asyncio.run(go())
        assert slack.uploaded() == []
