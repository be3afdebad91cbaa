"""`POST /slack/events`: every Slack request over HTTP (slash commands, clicks, modal submissions, and
Events API JSON: the Home tab's `app_home_opened` and the `url_verification` handshake).

Anyone on the internet can post here, so the route does the cheap refusals itself, before Bolt sees
the request: the body is read within 1 MiB (413) and 10 seconds (408), the signature is checked
(401 for a missing, bad or stale one and for a missing or malformed timestamp), and a signed body
that is not a Slack payload Bolt can route gets 400. Each refusal is one log line, with no traceback
and nothing from the request but the reason. Slack's unsigned `ssl_check` gets its 200. Bolt is
handed the payload read here rather than reading the body again (see `bolt_request`).

Socket Mode does not come through here: its requests arrive on the WebSocket, already trusted.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import Response

from handlers.body_limits import BodyTimeout, BodyTooLarge, ReadersBusy, closing, read_capped

log = logging.getLogger(__name__)

SLACK_MAX_BYTES = 1024 * 1024
MAX_AGE_S = 5 * 60  # Slack's own replay window
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII only: int() would also take other scripts' digits
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_INTERACTIVE = frozenset({"block_actions", "view_submission", "view_closed", "shortcut", "message_action"})
_VIEWS = frozenset({"view_submission", "view_closed"})
_COMMAND_FIELDS = ("command", "user_id", "channel_id", "response_url")
# Top-level parts Bolt reads while routing; Slack sends each as an object, an id or null.
_ROUTED_PARTS = ("team", "user", "enterprise", "channel", "container", "message", "view", "event")

Endpoint = Callable[[Request], Awaitable[Response]]


class NotSlackPayload(ValueError):
    """A signed body that is not a payload Slack sends; the text says what is wrong."""


def _refuse(status: int, reason: str) -> Response:
    level = logging.WARNING if status == 400 else logging.INFO
    log.log(level, "slack request refused: %s", reason, extra={"status": status})
    return Response(orjson.dumps({"error": reason}), status_code=status, media_type="application/json")


def is_ssl_check(raw: bytes) -> bool:
    """Slack's periodic certificate check (`ssl_check=1&token=…`), which it sends unsigned."""
    return raw.startswith(b"ssl_check=") and dict(parse_qsl(raw.decode("latin-1"))).get("ssl_check") == "1"


def signature_problem(
    verifier: SignatureVerifier, headers: Any, raw: bytes, now: Callable[[], float] = time.time
) -> str | None:
    """Why the request is not signed by Slack, or None when it is. The formats are checked first, so
    the verifier only ever sees what it can compare (it would raise on a non-numeric timestamp or a
    non-ASCII signature)."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if timestamp is None:
        return "missing X-Slack-Request-Timestamp"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "X-Slack-Request-Timestamp is not a number"
    if signature is None:
        return "missing X-Slack-Signature"
    if not _SIGNATURE.fullmatch(signature):
        return "X-Slack-Signature is not a v0 signature"
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8, so it cannot be signed by Slack"
    if verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return None
    if abs(now() - int(timestamp)) > MAX_AGE_S:
        return "X-Slack-Request-Timestamp is more than 5 minutes away"
    return "X-Slack-Signature does not match"


def slack_payload(body: str, content_type: str | None) -> dict[str, Any]:
    """The payload of a signed body, read the way Bolt reads it (JSON for the Events API, a form
    with a `payload` JSON for interactivity, a plain form for slash commands), provided it has the
    parts Slack always sends and Bolt and the listeners rely on. NotSlackPayload otherwise. A part
    sent as null is left out: Bolt reads a missing `event` or `view` as empty, a null one not at all."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    try:
        if media_type == "application/json" or body.startswith("{"):
            payload = json.loads(body)
        else:
            form = dict(parse_qsl(body, keep_blank_values=True))
            payload = json.loads(form["payload"]) if "payload" in form else form
    except ValueError:
        raise NotSlackPayload("the body is neither JSON nor a form with a JSON payload") from None
    if not isinstance(payload, dict):
        raise NotSlackPayload("the payload is not an object")
    if "command" in payload:
        _check_command(payload)
    elif isinstance(payload.get("type"), str):
        _check_typed(payload)
    else:
        raise NotSlackPayload("neither a slash command nor a payload with a type")
    return {name: value for name, value in payload.items() if value is not None or name not in _ROUTED_PARTS}


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _check_command(payload: dict[str, Any]) -> None:
    missing = [name for name in _COMMAND_FIELDS if not payload.get(name)]
    if missing:
        raise NotSlackPayload(f"slash command without {', '.join(missing)}")
    if not _is_url(payload["response_url"]):
        raise NotSlackPayload("slash command whose response_url is not a URL")


def _check_typed(payload: dict[str, Any]) -> None:
    """Events API and interactivity payloads. Interactivity sends its parts as objects; the
    Events API may send some as bare ids."""
    kind = payload["type"]
    interactive = kind in _INTERACTIVE
    allowed: Any = dict | None if interactive else dict | str | None
    for name in _ROUTED_PARTS:
        if not isinstance(payload.get(name), allowed):
            raise NotSlackPayload(f"`{name}` is not {'an object' if interactive else 'an object or an id'}")
    authorizations = payload.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        raise NotSlackPayload("`authorizations` is not a list of objects")
    if interactive and not isinstance((payload.get("user") or {}).get("id"), str):
        raise NotSlackPayload(f"{kind} without a user id")
    if kind in _VIEWS and not isinstance(payload.get("view"), dict):
        raise NotSlackPayload(f"{kind} without a view")
    # A click on a message always comes with a response_url; the listeners answer on it.
    from_message = interactive and (payload.get("container") or {}).get("type") == "message"
    if ("response_url" in payload or from_message) and not _is_url(payload.get("response_url")):
        raise NotSlackPayload(f"{kind} without a usable response_url")
    if kind == "block_actions":
        _check_actions(payload.get("actions"))


def _check_actions(actions: object) -> None:
    if not (isinstance(actions, list) and actions and all(isinstance(a, dict) for a in actions)):
        raise NotSlackPayload("block_actions without a list of actions")
    for action in actions:
        if not isinstance(action.get("selected_option"), dict | None):
            raise NotSlackPayload("an action whose selected_option is not an object")
        if not isinstance(action.get("value"), str | None):
            raise NotSlackPayload("an action whose value is not a string")


def bolt_request(request: Request, body: str, payload: dict[str, Any]) -> AsyncBoltRequest:
    """The request as Bolt sees it: the raw body (Bolt checks the signature again) and the payload
    `slack_payload` read from it. Bolt's own reading differs: it takes any form body that contains
    the word "payload" anywhere (a command typed in #payload-team, a funnel of `payload_sent`) for
    an interactive one without a payload, and finds nothing in it to route.

    Bolt's own `X-Slack-Bolt-*` headers are left out: they mark its re-invocations of lazy listeners
    (not used here), the signature does not cover them, and `X-Slack-Bolt-Lazy-Only` makes Bolt skip
    the listener and answer 404 after 3 seconds."""
    headers = {name: value for name, value in request.headers.items() if not name.startswith("x-slack-bolt-")}
    bolt = AsyncBoltRequest(body="", query=request.url.query, headers=headers)
    bolt.raw_body = body
    bolt.body = payload
    bolt.context = build_async_context(AsyncBoltContext(), payload)
    return bolt


_UNROUTABLE = (LookupError, TypeError, AttributeError, ValueError)  # what reading a payload raises


async def unroutable(error: Exception) -> None:
    """Bolt's error handler. Bolt's matchers index into parts Slack always sends, and a signed payload
    without them (an `interactive_message` without actions, an action without an action_id, a view
    without a type, an event that is a string) makes Bolt answer 500 by itself, with a traceback.
    Raised out of `async_dispatch` instead, it gets the endpoint's 400 and one log line. Any other
    failure (Slack's API unreachable for auth.test) is Bolt's own: logged, and Bolt's 500 stands."""
    if isinstance(error, _UNROUTABLE):
        raise error
    log.error("Bolt failed: %s", type(error).__name__, exc_info=error)


async def not_configured(request: Request) -> Response:
    return _refuse(503, "Slack is not configured (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)")


def slack_events(bolt: AsyncApp | None, signing_secret: str | None) -> Endpoint:
    """The `/slack/events` endpoint for this Bolt app (503 when Slack is not configured: the demo)."""
    if bolt is None or not signing_secret:
        return not_configured
    verifier = SignatureVerifier(signing_secret)

    async def endpoint(request: Request) -> Response:
        state = request.app.state
        try:
            # Nobody is authenticated before the signature is checked: reading takes one of the
            # process's few slots for unverified bodies.
            timeout_s = state.services.tuning.body_timeout_s
            raw = await read_capped(request, SLACK_MAX_BYTES, timeout_s, state.unverified_reads)
        except BodyTooLarge:
            return closing(_refuse(413, f"body larger than {SLACK_MAX_BYTES} bytes"))
        except BodyTimeout:
            return closing(_refuse(408, "the body did not arrive in time"))
        except ReadersBusy:
            return closing(_refuse(503, "too many unverified requests; retry shortly"), retry_after_s=1)
        if is_ssl_check(raw):
            return Response(status_code=200)
        problem = signature_problem(verifier, request.headers, raw)
        if problem is not None:
            return _refuse(401, problem)
        body = raw.decode("utf-8")
        try:
            payload = slack_payload(body, request.headers.get("content-type"))
            return to_starlette_response(await bolt.async_dispatch(bolt_request(request, body, payload)))
        # A body nobody can read is refused like an unsigned one (401): only something holding the
        # signing secret gets this far, and it gets no more from the app than a stranger does.
        except NotSlackPayload as exc:
            return _refuse(401, str(exc))
        except Exception as exc:  # Bolt could not read or route what Slack's signature vouches for
            return _refuse(401, f"Bolt could not read the payload ({type(exc).__name__})")

    return endpoint
