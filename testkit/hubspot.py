"""A fake HubSpot CRM API (v3) speaking HubSpot's wire format, for the real client over HTTP.

- `Authorization: Bearer <token>` is required; anything else gets HubSpot's 401 body
  (`category: INVALID_AUTHENTICATION`).
- `POST /crm/v3/objects/companies/search` and `/tasks/search`: `filterGroups` (OR) of `filters` (AND)
  with EQ, NEQ, IN, HAS_PROPERTY, NOT_HAS_PROPERTY and CONTAINS_TOKEN; `properties`, `sorts`, `limit`
  and `after` paging. Unset requested properties come back as null, like HubSpot's.
- `POST /crm/v3/objects/tasks`: 201 with `{id, properties, createdAt, updatedAt, archived}`. Checks what
  HubSpot checks, answering 400 `VALIDATION_ERROR` otherwise: `hs_timestamp` present and parseable, known
  property names, string values (stricter than HubSpot, which also takes numbers, to keep the client
  honest), enumeration values, known owners, associations only to existing companies with
  `HUBSPOT_DEFINED` type 192 (task -> company).
- `GET /account-info/v3/details` (portalId, uiDomain), `GET /crm/v3/owners` and `GET /crm/v3/owners/{id}`
  (`{id, email, firstName, lastName, userId, archived, teams, createdAt, updatedAt}`, 404 when unknown);
  `add_owner(...)` adds one, `add_company(..., owner=...)` gives a company its `hubspot_owner_id`.
- `index_delay_s` hides objects younger than that from search, as HubSpot's search index lags writes;
  `token_search_properties`, when set, limits CONTAINS_TOKEN to those properties (to play a HubSpot
  that does not token-index a property).
- `script(Reply(...), path=...)` answers the next calls (to that path, or any) with the given replies;
  `unauthorized()`, `missing_scopes(...)`, `rate_limited(...)`, `server_error()` build HubSpot's bodies.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from testkit.base import FakeServer, Recorded, Reply

TOKEN = "pat-na1-test-token"
PORTAL_ID = 4242424
TASK_TO_COMPANY = 192
# The task properties the client may set, with the values HubSpot documents for enumerations.
TASK_PROPERTIES: dict[str, tuple[str, ...] | None] = {
    "hs_timestamp": None,
    "hs_task_subject": None,
    "hs_task_body": None,
    "hubspot_owner_id": None,
    "hs_task_status": ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
    "hs_task_priority": ("LOW", "MEDIUM", "HIGH"),
    "hs_task_type": ("EMAIL", "CALL", "TODO"),
    "hs_task_reminders": None,
}
OPERATORS = ("EQ", "NEQ", "IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN")


def error_reply(
    status: int, category: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Reply:
    """HubSpot's error body: `{status: "error", message, correlationId, category, ...}`."""
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return Reply(status, {**body, **extra}, headers or {})


def unauthorized() -> Reply:
    return error_reply(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
        "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )


def missing_scopes(*scopes: str) -> Reply:
    return error_reply(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about required "
        "scopes here: https://developers.hubspot.com/scopes.",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredScopes": list(scopes)},
            }
        ],
        links={"scopes": "https://developers.hubspot.com/scopes"},
    )


def rate_limited(retry_after_s: int | None = 10, policy: str = "TEN_SECONDLY_ROLLING") -> Reply:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return error_reply(
        429, "RATE_LIMITS", f"You have reached your {policy.lower()} limit.", headers, policyName=policy
    )


def server_error(status: int = 500) -> Reply:
    return error_reply(status, "INTERNAL_ERROR", "internal error")


def validation_error(message: str, **context: list[str]) -> Reply:
    return error_reply(
        400, "VALIDATION_ERROR", message, errors=[{"message": message, "context": context}] if context else []
    )


@dataclass
class FakeTask:
    id: str
    properties: dict[str, str]
    associations: list[dict[str, Any]]  # [{"to": "101", "category": "HUBSPOT_DEFINED", "typeId": 192}]
    created: float = field(default_factory=time.time)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_timestamp(value: str) -> bool:
    if value.isdigit():
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^0-9a-z]+", text.lower()) if t]


class FakeHubSpot(FakeServer):
    def __init__(
        self, token: str = TOKEN, portal_id: int = PORTAL_ID, ui_domain: str = "app.hubspot.com"
    ) -> None:
        super().__init__()
        self.token = token
        self.portal_id = portal_id
        self.ui_domain = ui_domain
        self.index_delay_s = 0.0
        self.token_search_properties: set[str] | None = None
        self.owners = {
            "111": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"},
            "222": {"email": "grace@example.com", "firstName": "Grace", "lastName": "Hopper"},
        }
        self.companies: dict[str, dict[str, Any]] = {}
        self._company_created: dict[str, float] = {}
        self._tasks: list[FakeTask] = []
        self._task_ids = itertools.count(90001)
        self._scripted: deque[tuple[str | None, Reply]] = deque()
        long_ago = time.time() - 86400
        self.add_company("101", name="Acme Corp", domain="acme.com", owner="111", created=long_ago)
        self.add_company("102", name="Initech", domain="initech.com", created=long_ago)
        self.add_company("103", name="Umbrella Corp", domain="umbrella.io", owner="222", created=long_ago)

    @property
    def api_url(self) -> str:
        return self.url

    # -- setup and what tests look at --------------------------------------------------------------
    def add_company(
        self,
        company_id: str,
        *,
        name: str,
        domain: str,
        owner: str | None = None,
        created: float | None = None,
    ) -> None:
        with self.lock:
            self.companies[company_id] = {"name": name, "domain": domain, "hubspot_owner_id": owner}
            self._company_created[company_id] = created if created is not None else time.time()

    def add_owner(
        self, owner_id: str, *, email: str | None, first_name: str = "", last_name: str = ""
    ) -> None:
        with self.lock:
            self.owners[owner_id] = {"email": email, "firstName": first_name, "lastName": last_name}

    def _owner(self, owner_id: str) -> dict[str, Any]:
        when = _iso(time.time() - 86400)
        return {
            "id": owner_id,
            **self.owners[owner_id],
            "type": "PERSON",
            "userId": int(owner_id),
            "userIdIncludingInactive": int(owner_id),
            "archived": False,
            "teams": [{"id": "178588", "name": "Sales", "primary": True}],
            "createdAt": when,
            "updatedAt": when,
        }

    def script(self, *replies: Reply, path: str | None = None) -> None:
        """Answer the next calls (to `path` only, when given) with these replies, then behave normally."""
        with self.lock:
            self._scripted.extend((path, reply) for reply in replies)

    def tasks(self) -> list[FakeTask]:
        with self.lock:
            return list(self._tasks)

    def calls(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    # -- the API ------------------------------------------------------------------------------------
    def respond(self, request: Recorded) -> Reply:
        with self.lock:
            for entry in self._scripted:
                if entry[0] is None or entry[0] == request.path:
                    self._scripted.remove(entry)
                    return entry[1]
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return unauthorized()
        body: Any = None
        if request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                return validation_error("Invalid input JSON on line 1")
            if not isinstance(body, dict):
                return validation_error("Invalid input JSON: expected an object")
        route = (request.method, request.path)
        if route == ("GET", "/account-info/v3/details"):
            return Reply(200, self._account())
        if route == ("GET", "/crm/v3/owners"):
            return Reply(200, {"results": [self._owner(k) for k in list(self.owners)]})
        if request.method == "GET" and request.path.startswith("/crm/v3/owners/"):
            owner_id = request.path.removeprefix("/crm/v3/owners/")
            if owner_id not in self.owners:
                return error_reply(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found")
            return Reply(200, self._owner(owner_id))
        if route == ("POST", "/crm/v3/objects/companies/search"):
            return self._search(body, self._company_rows())
        if route == ("POST", "/crm/v3/objects/tasks/search"):
            return self._search(body, self._task_rows())
        if route == ("POST", "/crm/v3/objects/tasks"):
            return self._create_task(body)
        return error_reply(404, "OBJECT_NOT_FOUND", f"Unable to route {request.method} {request.path}")

    def _account(self) -> dict[str, Any]:
        return {
            "portalId": self.portal_id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": self.ui_domain,
            "dataHostingLocation": "na1",
        }

    def _company_rows(self) -> list[tuple[str, float, dict[str, Any]]]:
        with self.lock:
            return [
                (cid, self._company_created[cid], {**props, "createdate": _iso(self._company_created[cid])})
                for cid, props in self.companies.items()
            ]

    def _task_rows(self) -> list[tuple[str, float, dict[str, Any]]]:
        with self.lock:
            return [(t.id, t.created, dict(t.properties)) for t in self._tasks]

    def _search(self, body: dict[str, Any], rows: list[tuple[str, float, dict[str, Any]]]) -> Reply:
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(g.get("filters") or []) > 6 for g in groups):
            return validation_error("at most 5 filterGroups of at most 6 filters")
        for group in groups:
            for f in group.get("filters") or []:
                if f.get("operator") not in OPERATORS or not f.get("propertyName"):
                    return validation_error(f"Unsupported filter {f!r}")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            return validation_error("limit must be between 1 and 200")
        visible_before = time.time() - self.index_delay_s
        matches = [
            row
            for row in rows
            if row[1] <= visible_before and (not groups or any(self._all(g, row[2]) for g in groups))
        ]
        for sort in reversed(body.get("sorts") or []):
            name = sort["propertyName"] if isinstance(sort, dict) else str(sort)
            descending = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
            matches.sort(key=lambda row, n=name: str(row[2].get(n) or ""), reverse=descending)
        start = int(body.get("after") or 0)
        page = matches[start : start + limit]
        wanted = body.get("properties") or ["hs_object_id"]
        results = [
            {
                "id": oid,
                "properties": {**{name: props.get(name) for name in wanted}, "hs_object_id": oid},
                "createdAt": _iso(created),
                "updatedAt": _iso(created),
                "archived": False,
            }
            for oid, created, props in page
        ]
        answer: dict[str, Any] = {"total": len(matches), "results": results}
        if start + limit < len(matches):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return Reply(200, answer)

    def _all(self, group: dict[str, Any], props: dict[str, Any]) -> bool:
        for f in group.get("filters") or []:
            actual = props.get(f["propertyName"])
            value = str(f.get("value", "")).lower()
            text = str(actual).lower() if actual is not None else None
            op = f["operator"]
            if op == "HAS_PROPERTY":
                ok = text not in (None, "")
            elif op == "NOT_HAS_PROPERTY":
                ok = text in (None, "")
            elif op == "EQ":
                ok = text == value
            elif op == "NEQ":
                ok = text != value
            elif op == "IN":
                ok = text in [str(v).lower() for v in f.get("values") or []]
            else:  # CONTAINS_TOKEN: every token of the value is a whole token of the property
                indexed = (
                    self.token_search_properties is None or f["propertyName"] in self.token_search_properties
                )
                have = set(_tokens(text or "")) if indexed else set()
                ok = bool(_tokens(value)) and all(t in have for t in _tokens(value))
            if not ok:
                return False
        return True

    def _create_task(self, body: dict[str, Any]) -> Reply:
        properties = body.get("properties")
        if not isinstance(properties, dict):
            return validation_error("properties is required")
        for name, value in properties.items():
            if name not in TASK_PROPERTIES:
                return validation_error(f'Property "{name}" does not exist', propertyName=[name])
            if not isinstance(value, str):
                return validation_error(f"Property values must be strings: {name}", propertyName=[name])
            allowed = TASK_PROPERTIES[name]
            if allowed is not None and value not in allowed:
                return validation_error(
                    f'Property values were not valid: {value!r} is not an allowed option for "{name}"',
                    propertyName=[name],
                )
        if not properties.get("hs_timestamp"):
            return validation_error('Property "hs_timestamp" is required', propertyName=["hs_timestamp"])
        if not _parse_timestamp(properties["hs_timestamp"]):
            return validation_error(
                f"Property values were not valid: hs_timestamp {properties['hs_timestamp']!r}",
                propertyName=["hs_timestamp"],
            )
        owner = properties.get("hubspot_owner_id")
        if owner is not None and owner not in self.owners:
            return validation_error(f"{owner} is not a valid owner id", propertyName=["hubspot_owner_id"])
        associations = []
        for association in body.get("associations") or []:
            target = str((association.get("to") or {}).get("id", ""))
            types = association.get("types") or []
            if target not in self.companies:
                return validation_error(f"No company with id {target!r} to associate with")
            if not types:
                return validation_error("Each association needs at least one type")
            for kind in types:
                category, type_id = kind.get("associationCategory"), kind.get("associationTypeId")
                if category != "HUBSPOT_DEFINED" or type_id != TASK_TO_COMPANY:
                    return validation_error(
                        f"{category} association type {type_id} is not valid between task and company",
                        associationTypeId=[str(type_id)],
                    )
                associations.append({"to": target, "category": category, "typeId": type_id})
        now = time.time()
        with self.lock:
            task_id = str(next(self._task_ids))
            stored = {
                **properties,
                "hs_object_id": task_id,
                "hs_createdate": _iso(now),
                "hs_lastmodifieddate": _iso(now),
            }
            self._tasks.append(FakeTask(task_id, stored, associations, now))
        return Reply(
            201,
            {
                "id": task_id,
                "properties": stored,
                "createdAt": _iso(now),
                "updatedAt": _iso(now),
                "archived": False,
            },
        )


class SlowHubSpot(FakeHubSpot):
    """A HubSpot that creates a task at once but may answer only after `answer_after_s`: the answer a
    client gave up on, for tests of what the bot does when it cannot know whether a task exists."""

    answer_after_s = 0.0

    def _create_task(self, body: dict[str, Any]) -> Reply:
        reply = super()._create_task(body)
        reply.delay_s = self.answer_after_s
        return reply
