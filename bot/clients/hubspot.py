"""HubSpot CRM over its REST API with a private-app token: find the company behind a domain, create a
follow-up task on it, and find that task again by a marker.

Four calls do not justify the official SDK: this keeps one timeout, one exception type and a sentence a
Slack user can act on (`HubSpotError.explain()`). Nothing here retries: only the caller knows whether a
retry is safe. Creating a task after a timeout is not, because HubSpot may have created it; look for it
with `find_task(marker)` first.

Wire format (developers.hubspot.com, CRM v3):
- `Authorization: Bearer <token>`; every property value is sent as a string.
- `POST /crm/v3/objects/companies/search`, `POST /crm/v3/objects/tasks/search`: `filterGroups` (OR) of
  `filters` (AND) of `{propertyName, operator, value}`; the answer is `{total, results: [{id,
  properties}], paging?}` with only the properties asked for.
- `POST /crm/v3/objects/tasks`: `{properties, associations: [{to: {id}, types: [{associationCategory:
  "HUBSPOT_DEFINED", associationTypeId: 192}]}]}`, 192 being task -> company; `hs_timestamp` (the due
  date, ISO 8601 UTC or epoch ms) is required.
- `GET /crm/v3/owners/{id}`: `{id, email, firstName, lastName, userId, archived, teams, createdAt,
  updatedAt}`; 404 when there is no such (active) owner.
- `GET /account-info/v3/details`: `portalId` and `uiDomain` (`app.hubspot.com`, `app-eu1.hubspot.com`, ...)
  for links into the app.
- Errors: `{status: "error", message, correlationId, category, errors?: [{message, context}]}`; 429
  carries `Retry-After` (seconds).

CRM search is eventually consistent: a task created a moment ago may not be found for a few seconds, so
`find_task` returning None right after a timeout means "not found yet", not "never created".
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.clients.errors import ApiError, clip_detail, scrub
from bot.clients.retry_after import retry_after_seconds
from bot.decide.domains import normalise_domain

TASK_TO_COMPANY = 192  # HUBSPOT_DEFINED association type id, task -> company
PRIORITIES = ("LOW", "MEDIUM", "HIGH")
# Markers are searched by their longest run of letters and digits: one token for CRM search
# (CONTAINS_TOKEN) whatever the tokenizer does with punctuation, and unchanged by HTML escaping.
MARKER_RE = re.compile(r"[A-Za-z0-9._:-]{8,100}")
_ALNUM_RE = re.compile(r"[A-Za-z0-9]+")
_UI_DOMAIN_RE = re.compile(r"[A-Za-z0-9.-]+")
_OWNER_ID_RE = re.compile(r"[0-9]{1,20}")


class HubSpotError(ApiError):
    """A HubSpot call that did not succeed; `status` is None when HubSpot never answered.

    `retryable` is not a promise that nothing happened: see `HubSpot.find_task`.
    """

    service = "HubSpot"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        retry_after: float | None = None,
        correlation_id: str | None = None,
        scopes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.category = category
        self.correlation_id = correlation_id
        self.scopes = scopes  # scopes HubSpot said were missing (403)

    def label(self) -> str:
        extra = f", correlationId {self.correlation_id}" if self.correlation_id else ""
        return f"{self.category or 'error'}{extra}"

    def explain(self) -> str:
        """One sentence for an ephemeral Slack message: what went wrong and what to do about it."""
        status = self.status
        if status is None:
            return self.message
        if status == 401:
            return "HubSpot rejected the access token (401): check HUBSPOT_ACCESS_TOKEN"
        if status == 403:
            if self.scopes:
                missing = ", ".join(self.scopes)
                return f"HubSpot refused the call (403): the private app is missing the scope {missing}"
            return "HubSpot refused the call (403): check the private app's CRM scopes and permissions"
        if status == 429:
            wait = f"in {math.ceil(self.retry_after)} s" if self.retry_after else "in a few seconds"
            return f"HubSpot is rate limiting; try again {wait}"
        if status >= 500:
            return f"HubSpot had a problem on its side ({status}); try again in a minute"
        return f"HubSpot rejected the request ({status}): {self.message}"


@dataclass(frozen=True)
class HubSpotCompany:
    id: str
    name: str | None
    domain: str | None
    owner_id: str | None  # hubspot_owner_id: a HubSpot owner, not a Slack user


@dataclass(frozen=True)
class HubSpotOwner:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None

    @property
    def name(self) -> str | None:
        """First and last name as HubSpot shows them, when it has either."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


@dataclass(frozen=True)
class HubSpotTask:
    id: str
    url: str | None  # None when the portal id could not be learned; the task exists anyway


class HubSpot:
    """The CRM calls the bot makes. Share one `httpx.AsyncClient`; each call is bounded by `timeout_s`.

    Links use the account's own `uiDomain` (EU accounts live on app-eu1.hubspot.com) once
    `portal_id()` has been answered, and `app_url` when the account does not say.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        client: httpx.AsyncClient,
        timeout_s: float = 10.0,
        app_url: str = "https://app.hubspot.com",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._client = client
        self._timeout_s = timeout_s
        self._app_url = app_url.rstrip("/")
        self._portal: int | None = None

    # -- calls -----------------------------------------------------------------------------------
    async def find_company(self, domain: str) -> HubSpotCompany | None:
        """The company whose primary `domain` is this one (the oldest, if HubSpot holds duplicates).

        HubSpot keeps `domain` bare (`acme.com`); a value that is no domain at all asks HubSpot nothing.
        """
        wanted = normalise_domain(domain)
        if wanted is None:
            return None
        data = await self._call(
            "POST",
            "/crm/v3/objects/companies/search",
            {
                "filterGroups": [
                    {"filters": [{"propertyName": "domain", "operator": "EQ", "value": wanted}]}
                ],
                "properties": ["name", "domain", "hubspot_owner_id"],
                "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
                "limit": 1,
            },
        )
        results = data.get("results") or []
        if not results:
            return None
        first = results[0]
        props = _properties(first)
        return HubSpotCompany(
            id=_object_id(first),
            name=props.get("name") or None,
            domain=props.get("domain") or None,
            owner_id=props.get("hubspot_owner_id") or None,
        )

    async def get_owner(self, owner_id: str) -> HubSpotOwner | None:
        """The owner behind a `hubspot_owner_id`, or None when HubSpot has no such owner (404).

        Owner ids are numbers; anything else asks HubSpot nothing rather than build a path from it.
        """
        if not _OWNER_ID_RE.fullmatch(owner_id):
            return None
        try:
            data = await self._call("GET", f"/crm/v3/owners/{owner_id}")
        except HubSpotError as exc:
            if exc.status == 404:
                return None
            raise
        if data.get("archived") is True:
            return None
        return HubSpotOwner(
            id=_object_id(data),
            email=_text(data.get("email")),
            first_name=_text(data.get("firstName")),
            last_name=_text(data.get("lastName")),
        )

    async def create_task(
        self,
        *,
        subject: str,
        body: str,
        due: datetime,
        priority: str,
        owner_id: str | None,
        company_id: str | None,
        marker: str,
    ) -> HubSpotTask:
        """Create a to-do task, assigned to `owner_id` and associated with `company_id` when given.

        `marker` (unique per alert, e.g. `pss-alert-<hex id>`) stays in the body, appended unless the
        body already holds it, so `find_task` can tell whether an earlier attempt that timed out did
        create the task. `body` may be HTML (HubSpot renders it) or plain text. `priority` is
        low/medium/high in any case; none or "" leaves it unset.
        """
        _search_token(marker)
        level = priority.strip().upper()
        if level not in (*PRIORITIES, "NONE", ""):
            raise ValueError(f"priority must be one of low, medium, high, none; got {priority!r}")
        properties = {
            "hs_timestamp": hubspot_timestamp(due),
            "hs_task_subject": subject,
            "hs_task_body": _with_marker(body, marker),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
        }
        if level in PRIORITIES:
            properties["hs_task_priority"] = level
        if owner_id:
            properties["hubspot_owner_id"] = str(owner_id)
        payload: dict[str, Any] = {"properties": properties}
        if company_id:
            payload["associations"] = [
                {
                    "to": {"id": str(company_id)},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_COMPANY}
                    ],
                }
            ]
        data = await self._call("POST", "/crm/v3/objects/tasks", payload)
        task_id = _object_id(data)
        return HubSpotTask(id=task_id, url=await self._link_to_task(task_id))

    async def find_task(self, marker: str, *, subject: str | None = None) -> HubSpotTask | None:
        """The task `create_task` made with this marker, if HubSpot's search index already has it.

        Searches `hs_task_body` for the marker's token and, when `subject` is given, also (OR) tasks
        with exactly that subject, which does not depend on how HubSpot tokenizes the body. Either way
        the body must really hold the marker, so no other task is ever taken for ours.
        """
        token = _search_token(marker)
        groups = [
            {"filters": [{"propertyName": "hs_task_body", "operator": "CONTAINS_TOKEN", "value": token}]}
        ]
        if subject:
            groups.append(
                {"filters": [{"propertyName": "hs_task_subject", "operator": "EQ", "value": subject}]}
            )
        data = await self._call(
            "POST",
            "/crm/v3/objects/tasks/search",
            {
                "filterGroups": groups,
                "properties": ["hs_task_subject", "hs_task_body"],
                "sorts": [{"propertyName": "hs_createdate", "direction": "DESCENDING"}],
                "limit": 20,
            },
        )
        for result in data.get("results") or []:
            if marker in (_properties(result).get("hs_task_body") or ""):
                task_id = _object_id(result)
                return HubSpotTask(id=task_id, url=await self._link_to_task(task_id))
        return None

    async def portal_id(self) -> int | None:
        """The account (portal, "Hub ID") the token belongs to; asked once, then cached.

        Raises HubSpotError when HubSpot cannot be asked; None when it answered without a portal id.
        """
        if self._portal is not None:
            return self._portal
        data = await self._call("GET", "/account-info/v3/details")
        ui_domain = data.get("uiDomain")
        if isinstance(ui_domain, str) and _UI_DOMAIN_RE.fullmatch(ui_domain):
            self._app_url = f"https://{ui_domain}"
        portal = data.get("portalId")
        if isinstance(portal, int) and not isinstance(portal, bool):
            self._portal = portal
        return self._portal

    # -- links -----------------------------------------------------------------------------------
    def task_url(self, task_id: str) -> str | None:
        """Where the task opens in HubSpot, once `portal_id()` is known."""
        if self._portal is None:
            return None
        return f"{self._app_url}/tasks/{self._portal}/view/all/task/{task_id}"

    def company_url(self, company_id: str) -> str | None:
        """The company record in HubSpot (object type 0-2), once `portal_id()` is known."""
        if self._portal is None:
            return None
        return f"{self._app_url}/contacts/{self._portal}/record/0-2/{company_id}"

    async def _link_to_task(self, task_id: str) -> str | None:
        # The task exists by now: failing to learn the portal only costs the link.
        try:
            await self.portal_id()
        except HubSpotError:
            return None
        return self.task_url(task_id)

    # -- HTTP ------------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        try:
            # httpx's timeout applies per phase (connect, each read); this bounds the whole call.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.request(
                    method, self._base + path, json=body, headers=headers, timeout=self._timeout_s
                )
        except (TimeoutError, httpx.TimeoutException):
            raise HubSpotError(
                f"HubSpot did not answer within {self._timeout_s:g} s", category="TIMEOUT"
            ) from None
        except httpx.HTTPError as exc:
            host = urlsplit(self._base).netloc or self._base
            raise HubSpotError(
                f"Could not reach HubSpot at {host} ({type(exc).__name__})", category="UNREACHABLE"
            ) from None
        if not response.is_success:
            raise self._error(response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise HubSpotError(
                "HubSpot answered with something that is not a JSON object",
                status=response.status_code,
                category="BAD_RESPONSE",
            )
        return data

    def _error(self, response: httpx.Response) -> HubSpotError:
        try:
            data = response.json()
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        message = data.get("message") if isinstance(data.get("message"), str) else None
        message = clip_detail(scrub(message or response.reason_phrase or "no details", self._token))
        category = data.get("category") or data.get("errorType")
        correlation = data.get("correlationId") or response.headers.get("x-hubspot-correlation-id")
        return HubSpotError(
            message,
            status=response.status_code,
            category=str(category) if category else None,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            correlation_id=str(correlation) if correlation else None,
            scopes=_missing_scopes(data),
        )


# -- helpers -------------------------------------------------------------------------------------
def hubspot_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as HubSpot's own examples write `hs_timestamp`."""
    if moment.tzinfo is None:
        raise ValueError("due must be timezone-aware: HubSpot stores an instant, not a wall-clock time")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _search_token(marker: str) -> str:
    """The part of the marker CRM search looks for: its longest run of letters and digits."""
    token = max(_ALNUM_RE.findall(marker), key=len, default="")
    if not MARKER_RE.fullmatch(marker) or len(token) < 8:
        raise ValueError("marker must be 8-100 of A-Z a-z 0-9 . _ : - with a run of 8 letters or digits")
    return token


def _with_marker(body: str, marker: str) -> str:
    if marker in body:
        return body
    if body.lstrip().startswith("<"):
        return f"{body}<p>posthog-slack-signals ref {marker}</p>"
    return f"{body}\n\nposthog-slack-signals ref {marker}"


def _object_id(obj: dict[str, Any]) -> str:
    value = obj.get("id")
    if value is None or isinstance(value, bool | dict | list) or str(value) == "":
        raise HubSpotError("HubSpot answered without an object id", status=200, category="BAD_RESPONSE")
    return str(value)


def _text(value: Any) -> str | None:
    """A non-empty string field of an answer, stripped; anything else is None."""
    return (value.strip() or None) if isinstance(value, str) else None


def _properties(obj: dict[str, Any]) -> dict[str, Any]:
    props = obj.get("properties")
    return props if isinstance(props, dict) else {}


def _missing_scopes(data: dict[str, Any]) -> tuple[str, ...]:
    """Scope names from a 403 body: `context` at the top or in `errors[]`, under any of HubSpot's keys."""
    contexts = [data.get("context")]
    errors = data.get("errors")
    if isinstance(errors, list):
        contexts += [e.get("context") for e in errors if isinstance(e, dict)]
    scopes: list[str] = []
    for context in contexts:
        if not isinstance(context, dict):
            continue
        for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
            values = context.get(key)
            if isinstance(values, list):
                scopes += [v for v in values if isinstance(v, str) and v not in scopes]
    return tuple(scopes)
