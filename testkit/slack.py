"""A fake Slack Web API (`<url>/api/<method>`) and `response_url` receiver (`<url>/response/<id>`).

It checks the bot token, parses JSON and form bodies as slack_sdk sends them, enforces the Block Kit
limits Slack enforces (answering `invalid_blocks` like Slack would), keeps channel history with
message metadata for `conversations.history`, threads (`thread_ts`, `reply_broadcast`, the root's
`reply_count`, `conversations.replies`), and can be scripted to fail: `script("chat.postMessage",
Reply(500), Reply(429, headers={"Retry-After": "1"}))`, or to hang: `with hanging("chat.postMessage")`.
"""

from __future__ import annotations

import itertools
import json
import mimetypes
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from testkit.base import FakeServer, Recorded, Reply
from testkit.slack_socket import APP_TOKEN

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"
BOT_USER = "U0BOT"


def _is_reply(message: dict[str, Any]) -> bool:
    return bool(message.get("thread_ts")) and message["thread_ts"] != message["ts"]


def block_problems(blocks: list[dict[str, Any]], max_blocks: int = 50) -> list[str]:
    """The limits Slack checks on chat.postMessage / chat.update blocks (a modal or Home tab may have
    100 blocks)."""
    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"more than {max_blocks} blocks")
    action_ids: set[str] = set()
    block_ids: set[str] = set()
    for block in blocks:
        kind = block.get("type")
        block_id = block.get("block_id")
        if block_id:
            if block_id in block_ids or len(block_id) > 255:
                problems.append(f"bad block_id {block_id}")
            block_ids.add(block_id)
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or not 1 <= len(text["text"]) <= 150:
                problems.append("header text must be plain_text of 1-150 chars")
        if kind == "section":
            if "text" in block and not 1 <= len(block["text"]["text"]) <= 3000:
                problems.append("section text must be 1-3000 chars")
            fields = block.get("fields") or []
            if len(fields) > 10 or any(not 1 <= len(f["text"]) <= 2000 for f in fields):
                problems.append("section fields: at most 10 of 1-2000 chars")
            if "text" not in block and not fields:
                problems.append("section needs text or fields")
        if kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10 or any(len(e.get("text", "")) > 3000 for e in elements):
                problems.append("context: 1-10 elements of at most 3000 chars")
        if kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append("actions: 1-25 elements")
            for element in elements:
                action_id = element.get("action_id", "")
                if action_id in action_ids or len(action_id) > 255:
                    problems.append(f"duplicate or long action_id {action_id}")
                action_ids.add(action_id)
                if element.get("type") == "button":
                    if len(element["text"]["text"]) > 75 or len(element.get("value", "")) > 2000:
                        problems.append("button text <= 75, value <= 2000")
                    if len(element.get("url", "")) > 3000:
                        problems.append("button url <= 3000")
    return problems


class FakeSlack(FakeServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.history_error: str | None = None
        self._ts = itertools.count(1)
        self.socket_url: Callable[[], str] | None = None  # set to FakeSocketMode's url for Socket Mode
        self.app_token = APP_TOKEN
        self.hangs: dict[str, str | None] = {}  # method -> channel (None: every channel)
        self.users: dict[str, dict[str, Any]] = {}  # user id -> Slack's user object (add_user)
        self.home_tabs: dict[str, list[dict[str, Any]]] = defaultdict(list)  # user -> views.publish views
        self.channels: dict[str, str] = {}  # channel name (no #) -> id, for conversations.list
        self.list_error: str | None = None  # e.g. missing_scope, as without channels:read

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    def script(self, method: str, *replies: Reply) -> None:
        """Answer the next calls of `method` with these replies, then behave normally."""
        with self.lock:
            self.scripts[method].extend(replies)

    @contextmanager
    def hanging(self, method: str, channel: str | None = None) -> Iterator[None]:
        """Inside the block, calls of `method` (to `channel`, or to any) are taken in but never
        answered and change nothing, as when Slack hangs: their connections stay open until this
        fake stops. Calls made after the block are answered as usual."""
        with self.lock:
            self.hangs[method] = channel
        try:
            yield
        finally:
            with self.lock:
                self.hangs.pop(method, None)

    def answer_late(self, delay_s: float) -> Callable[[dict[str, Any]], Reply]:
        """From now on Slack takes each message at once but its answer arrives `delay_s` later;
        returns the handler that answers at once, to put back."""
        original = self.api_chat_postMessage

        def late(args: dict[str, Any]) -> Reply:
            reply = original(args)
            reply.delay_s = delay_s
            return reply

        self.api_chat_postMessage = late  # type: ignore[method-assign]
        return original

    def _hangs(self, method: str, request: Recorded) -> bool:
        with self.lock:
            if method not in self.hangs:
                return False
            channel = self.hangs[method]
        return channel is None or self.args(request).get("channel") == channel

    # -- what tests look at ---------------------------------------------------------------------
    def calls(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [self.args(r) for r in self.requests if r.path == f"/api/{method}"]

    def posted(self) -> list[dict[str, Any]]:
        """Messages Slack accepted, in order (args of successful chat.postMessage calls)."""
        with self.lock:
            return [m["args"] for channel in self.history.values() for m in channel if not m["earlier"]]

    def posted_ts(self) -> list[str]:
        with self.lock:
            return [
                m["message"]["ts"] for channel in self.history.values() for m in channel if not m["earlier"]
            ]

    def responses(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r.json()
                for r in self.requests
                if r.path.startswith("/response/") and (name is None or r.path == f"/response/{name}")
            ]

    @staticmethod
    def args(request: Recorded) -> dict[str, Any]:
        """Arguments as Slack reads them: query string (GET methods), then a JSON or form body."""
        args: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        if request.headers.get("content-type", "").startswith("application/json"):
            args.update(request.json() if request.body else {})
        elif request.body:
            args.update(request.form())
        return args

    # -- the API --------------------------------------------------------------------------------
    def respond(self, request: Recorded) -> Reply:
        if request.path.startswith("/response/"):
            return Reply(200, b"ok", {"Content-Type": "text/html"})
        if not request.path.startswith("/api/"):
            return Reply(404, b"not found", {"Content-Type": "text/html"})
        method = request.path.removeprefix("/api/")
        if self._hangs(method, request):
            return Reply(503, {"ok": False, "error": "service_unavailable"}, delay_s=600)
        with self.lock:
            if self.scripts[method]:
                return self.scripts[method].popleft()
        if method == "apps.connections.open":  # the one method called with the app-level token
            return self.apps_connections_open(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        args = self.args(request)
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(200, {"ok": True})
        return handler(args)

    def apps_connections_open(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.app_token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if self.socket_url is None:
            return Reply(200, {"ok": False, "error": "socket_mode_not_enabled"})
        return Reply(200, {"ok": True, "url": self.socket_url()})

    def api_auth_test(self, args: dict[str, Any]) -> Reply:
        return Reply(
            200,
            {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "signals",
                "team_id": "T0TEAM",
                "user_id": BOT_USER,
                "bot_id": "B0BOT",
                "is_enterprise_install": False,
            },
            {"x-oauth-scopes": "commands,chat:write,chat:write.public,files:write,users:read"},
        )

    def api_chat_postMessage(self, args: dict[str, Any]) -> Reply:
        channel = args.get("channel")
        if not channel:
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not args.get("text") and not blocks:
            return Reply(200, {"ok": False, "error": "no_text"})
        problems = block_problems(blocks or [])
        if problems:
            return Reply(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
        thread_ts = args.get("thread_ts")
        if thread_ts and self._root(channel, str(thread_ts)) is None:
            return Reply(200, {"ok": False, "error": "thread_not_found"})
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = self._keep(channel, ts, {**args, "blocks": blocks})
        return Reply(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def _root(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The top-level message `ts` in `channel` (what a reply's `thread_ts` must name)."""
        with self.lock:
            for item in self.history.get(channel, []):
                message = item["message"]
                if message["ts"] == ts and message.get("thread_ts") in (None, ts):
                    return message
        return None

    def replies(self, channel: str, root_ts: str) -> list[dict[str, Any]]:
        """The chat.postMessage args of the replies in a thread, in order."""
        with self.lock:
            return [
                item["args"]
                for item in self.history.get(channel, [])
                if item["message"].get("thread_ts") == root_ts and item["message"]["ts"] != root_ts
            ]

    def already_posted(self, channel: str, ts: str, args: dict[str, Any]) -> None:
        """A message that was in `channel` before this fake started (posted by an earlier process, or
        an earlier release), with the chat.postMessage arguments it was posted with: chat.update and
        conversations.history find it, and `posted()` leaves it out, since it was not posted here."""
        self._keep(channel, ts, args, earlier=True)

    def _keep(self, channel: str, ts: str, args: dict[str, Any], earlier: bool = False) -> dict[str, Any]:
        """The message posted with `args` (blocks decoded), kept in the channel's history."""
        message = {
            "type": "message",
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": args.get("blocks") or [],
            "bot_id": "B0BOT",
            "user": BOT_USER,
        }
        if args.get("metadata"):
            metadata = args["metadata"]
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        thread_ts = args.get("thread_ts")
        with self.lock:
            if thread_ts:
                message["thread_ts"] = str(thread_ts)
                message["parent_user_id"] = BOT_USER
                if str(args.get("reply_broadcast", "")).lower() in ("1", "true"):
                    message["subtype"] = "thread_broadcast"
                for item in self.history[channel]:
                    if item["message"]["ts"] == thread_ts:
                        root = item["message"]
                        root["thread_ts"] = thread_ts
                        root["reply_count"] = root.get("reply_count", 0) + 1
                        root["latest_reply"] = ts
            self.history[channel].append({"message": message, "args": args, "earlier": earlier})
        return message

    def api_chat_update(self, args: dict[str, Any]) -> Reply:
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        problems = block_problems(blocks or [])
        if problems:
            return Reply(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
        with self.lock:
            for item in self.history.get(args.get("channel", ""), []):
                if item["message"]["ts"] == args.get("ts"):
                    item["message"] = {
                        **item["message"],
                        "text": args.get("text", ""),
                        "blocks": blocks or [],
                    }
                    item["updates"] = [*item.get("updates", []), {**args, "blocks": blocks}]
                    return Reply(200, {"ok": True, "channel": args["channel"], "ts": args["ts"]})
        return Reply(200, {"ok": False, "error": "message_not_found"})

    def api_views_open(self, args: dict[str, Any]) -> Reply:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("trigger_id") or not isinstance(view, dict):
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        return Reply(200, {"ok": True, "view": {"id": "V0VIEW", **view}})

    def api_views_publish(self, args: dict[str, Any]) -> Reply:
        """A Home tab for `user_id`: a `home` view of at most 100 valid blocks, kept per user."""
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        user = args.get("user_id")
        if not isinstance(user, str) or not re.fullmatch(r"[UW][A-Z0-9]{2,30}", user):
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        if not isinstance(view, dict) or view.get("type") != "home":
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        problems = block_problems(view.get("blocks") or [], max_blocks=100)
        if problems:
            return Reply(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
        with self.lock:
            self.home_tabs[user].append(view)
        return Reply(200, {"ok": True, "view": {"id": "V0HOME", "team_id": "T0TEAM", **view}})

    def add_user(self, user_id: str, email: str, real_name: str = "", deleted: bool = False) -> None:
        """A member of the workspace that `users.lookupByEmail` finds by `email`."""
        name = email.split("@")[0]
        profile = {"email": email, "real_name": real_name, "display_name": name}
        user = {"id": user_id, "team_id": "T0TEAM", "name": name, "real_name": real_name, "deleted": deleted}
        with self.lock:
            self.users[user_id] = {**user, "is_bot": False, "profile": profile}

    def api_users_lookupByEmail(self, args: dict[str, Any]) -> Reply:
        email = str(args.get("email") or "").lower()
        if not email:
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        with self.lock:
            for user in self.users.values():
                if user["profile"]["email"].lower() == email:
                    return Reply(200, {"ok": True, "user": user})
        return Reply(200, {"ok": False, "error": "users_not_found"})

    def current(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The message as it reads now, after any chat.update."""
        with self.lock:
            for item in self.history.get(channel, []):
                if item["message"]["ts"] == ts:
                    return item["message"]
        return None

    def api_conversations_list(self, args: dict[str, Any]) -> Reply:
        """Slack's cursor paging: `limit` channels a page, `response_metadata.next_cursor` until the
        last, which carries an empty one."""
        if self.list_error:
            extra = {"needed": "channels:read,groups:read"} if self.list_error == "missing_scope" else {}
            return Reply(200, {"ok": False, "error": self.list_error, **extra})
        limit = max(1, min(1000, int(args.get("limit") or 100)))
        start = int(args.get("cursor") or 0)
        with self.lock:
            listed = sorted(self.channels.items(), key=lambda item: item[1])
        page = listed[start : start + limit]
        more = start + limit < len(listed)
        channels = [{"id": cid, "name": name, "is_channel": True, "is_archived": False} for name, cid in page]
        cursor = str(start + limit) if more else ""
        return Reply(200, {"ok": True, "channels": channels, "response_metadata": {"next_cursor": cursor}})

    def api_conversations_history(self, args: dict[str, Any]) -> Reply:
        if self.history_error:
            return Reply(200, {"ok": False, "error": self.history_error})
        channel = args.get("channel", "")
        oldest = float(args.get("oldest") or 0)
        include_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        with self.lock:
            messages = []
            for item in reversed(self.history.get(channel, [])):
                message = dict(item["message"])
                if float(message["ts"]) < oldest:
                    continue
                if _is_reply(message) and message.get("subtype") != "thread_broadcast":
                    continue  # the channel's history lists a thread's root, not its replies
                if not include_metadata:
                    message.pop("metadata", None)
                messages.append(message)
        return Reply(200, {"ok": True, "messages": messages, "has_more": False})

    def api_conversations_replies(self, args: dict[str, Any]) -> Reply:
        """The thread of `ts`: its root first (whatever `oldest` says), then replies oldest first."""
        if self.history_error:
            return Reply(200, {"ok": False, "error": self.history_error})
        channel, ts = args.get("channel", ""), str(args.get("ts", ""))
        oldest = float(args.get("oldest") or 0)
        include_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        root = self._root(channel, ts)
        if root is None:
            return Reply(200, {"ok": False, "error": "thread_not_found"})
        with self.lock:
            thread = [dict(root)] + [
                dict(item["message"])
                for item in self.history.get(channel, [])
                if _is_reply(item["message"])
                and item["message"].get("thread_ts") == ts
                and float(item["message"]["ts"]) >= oldest
            ]
        if not include_metadata:
            for message in thread:
                message.pop("metadata", None)
        return Reply(200, {"ok": True, "messages": thread, "has_more": False})

    # -- file uploads: the 3-step external upload of `files_upload_v2` --------------------------
    # slack_sdk 3.47 `AsyncWebClient.files_upload_v2` (web/async_client.py) does, per file:
    #   1. POST files.getUploadURLExternal, args in the query string (`params=`, empty form body):
    #      filename, length, alt_txt -> {"ok", "upload_url", "file_id"}
    #   2. POST the raw bytes to upload_url (no token, no form) -> anything but 200 raises SlackRequestError
    #   3. POST files.completeUploadExternal, query string: files='[{"id","title"}]', channel_id,
    #      initial_comment, thread_ts -> {"ok", "files": [...]} (the client adds "file" when there is one)
    # The upload URL points at a second fake server, like files.slack.com beside slack.com: `respond`
    # answers 404 outside /api/ and /response/ and wants the bot token, which step 2 never sends.

    upload_error: str | None = None
    """Answer uploads with this Slack error: token/scope errors at step 1, the others at step 3."""
    UPLOAD_URL_ERRORS = frozenset(
        {"missing_scope", "invalid_auth", "not_authed", "token_revoked", "account_inactive", "ratelimited"}
    )

    def uploaded(self) -> list[tuple[str, bytes, str | None, str | None]]:
        """Completed uploads, in order: (filename, bytes, channel_id, initial_comment)."""
        with self.lock:
            return [
                (u["filename"], u["data"], u["channel_id"], u["initial_comment"])
                for u in self._upload_state().completed
            ]

    def uploads(self) -> list[dict[str, Any]]:
        """Completed uploads with every detail (file_id, title, alt_txt, length, thread_ts, ...)."""
        with self.lock:
            return [dict(u) for u in self._upload_state().completed]

    def upload_host(self) -> _FakeUploadHost:
        """The server behind the upload URLs; started on first use, stopped with this one."""
        state = self._upload_state()
        with self.lock:
            if state.host is None:
                host = _FakeUploadHost(self).__enter__()
                state.host = host

                def stop_with_slack() -> None:
                    if self._thread.is_alive():
                        self._thread.join()  # FakeServer.__exit__ ends serve_forever
                    host.__exit__(None, None, None)

                threading.Thread(target=stop_with_slack, daemon=True).start()
            return state.host

    def _upload_state(self) -> _UploadState:
        with self.lock:
            state = self.__dict__.get("_uploads")
            if state is None:
                state = self.__dict__["_uploads"] = _UploadState()
            return state

    def _upload_failure(self, step: int) -> Reply | None:
        error = self.upload_error
        if not error or (error in self.UPLOAD_URL_ERRORS) != (step == 1):
            return None
        body: dict[str, Any] = {"ok": False, "error": error}
        if error == "missing_scope":
            body |= {"needed": "files:write", "provided": "commands,chat:write,chat:write.public"}
        return Reply(200, body)

    def api_files_getUploadURLExternal(self, args: dict[str, Any]) -> Reply:
        failure = self._upload_failure(1)
        if failure:
            return failure
        filename, length = args.get("filename"), str(args.get("length", ""))
        if not filename or not length.isdigit() or int(length) < 1:
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        state = self._upload_state()
        with self.lock:
            file_id = f"F{next(state.ids):010d}"
            state.pending[file_id] = {
                "file_id": file_id,
                "filename": filename,
                "length": int(length),
                "alt_txt": args.get("alt_txt"),
                "snippet_type": args.get("snippet_type"),
                "data": None,
            }
        upload_url = f"{self.upload_host().url}/upload/{file_id}"
        return Reply(200, {"ok": True, "upload_url": upload_url, "file_id": file_id})

    def upload_reply(self, request: Recorded) -> Reply:
        """Step 2, on the upload host: keep the raw bytes. `script("upload", Reply(500))` fails it."""
        text = {"Content-Type": "text/plain; charset=utf-8"}
        with self.lock:
            if self.scripts["upload"]:
                return self.scripts["upload"].popleft()
            pending = self._upload_state().pending.get(request.path.removeprefix("/upload/"))
            if request.method != "POST":
                return Reply(405, b"method not allowed", text)
            if pending is None or not request.path.startswith("/upload/"):
                return Reply(404, b"not found", text)
            pending["data"] = request.body
        return Reply(200, f"OK - {len(request.body)}".encode(), text)

    def api_files_completeUploadExternal(self, args: dict[str, Any]) -> Reply:
        try:
            files = json.loads(args.get("files") or "")
        except ValueError:
            files = None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            return Reply(200, {"ok": False, "error": "invalid_arguments"})
        failure = self._upload_failure(3)
        if failure:
            return failure
        state = self._upload_state()
        now = int(time.time())
        with self.lock:
            pending = [state.pending.get(str(f.get("id"))) for f in files]
            if any(p is None or p["data"] is None for p in pending):
                return Reply(200, {"ok": False, "error": "file_not_found"})
            infos = []
            for entry, upload in zip(files, pending, strict=True):
                assert upload is not None
                del state.pending[upload["file_id"]]
                title = entry.get("title") or upload["filename"]
                state.completed.append(
                    {
                        **upload,
                        "title": title,
                        "channel_id": args.get("channel_id"),
                        "channels": args.get("channels"),
                        "initial_comment": args.get("initial_comment"),
                        "thread_ts": args.get("thread_ts"),
                    }
                )
                filetype = upload["filename"].rsplit(".", 1)[-1].lower() if "." in upload["filename"] else ""
                infos.append(
                    {
                        "id": upload["file_id"],
                        "created": now,
                        "timestamp": now,
                        "name": upload["filename"],
                        "title": title,
                        "mimetype": mimetypes.guess_type(upload["filename"])[0] or "application/octet-stream",
                        "filetype": filetype,
                        "user": BOT_USER,
                        "size": len(upload["data"]),
                        "alt_txt": upload["alt_txt"],
                        "is_public": bool(args.get("channel_id") or args.get("channels")),
                        "url_private": f"https://files.slack.com/files-pri/T0TEAM-{upload['file_id']}/x",
                        "permalink": f"https://test.slack.com/files/{BOT_USER}/{upload['file_id']}/x",
                        "shares": {},  # sharing to the channel happens asynchronously, after this reply
                        "channels": [],
                    }
                )
        return Reply(200, {"ok": True, "files": infos})


@dataclass
class _UploadState:
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # file_id -> step 1 (+ bytes)
    completed: list[dict[str, Any]] = field(default_factory=list)
    host: _FakeUploadHost | None = None


class _FakeUploadHost(FakeServer):
    """Where upload URLs point (files.slack.com in real life): takes the raw bytes of step 2."""

    def __init__(self, slack: FakeSlack) -> None:
        super().__init__()
        self.slack = slack

    def respond(self, request: Recorded) -> Reply:
        return self.slack.upload_reply(request)
