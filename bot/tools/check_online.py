"""The `--online` half of `python -m bot check`: each configured credential tried against its API
(Slack, PostHog, Anthropic, HubSpot, the enrichment API), each query signal run once, the events the
signals listen to looked up in PostHog, the routes' `#name` channels resolved, and `--owner-of`'s
lookups. Kept apart from the offline checks in `check` because each of these waits on another
service, under its own timeout, through the API clients the bot itself uses: `check` without
`--online` neither imports this module nor waits on anything but the database.
"""

from __future__ import annotations

import os

import httpx

from bot.config.settings import Settings, secret
from bot.config.signals_file import SignalsConfig
from bot.tools.check import Finding, Status

QUERY_CHECK_TIMEOUT_S = 30.0


def query_signal_findings(settings: Settings, config: SignalsConfig) -> list[Finding]:
    """Run each query signal once, for a row or two, through PostHog's Query API as the bot does:
    ok with the columns it returns, or what PostHog said."""
    import asyncio

    from bot.clients.posthog_api import PostHogApi, PostHogApiError
    from bot.clients.posthog_queries import HogQLTable
    from bot.schedule.queries import NOT_CONFIGURED

    signals = config.query_signals
    key = secret(settings.posthog_personal_api_key)
    if not signals:
        return []
    if not key or not settings.posthog_project_id:
        return [Finding("error", f"signals: {s.name}", NOT_CONFIGURED) for s in signals]

    async def run_each() -> list[Finding]:
        found = []
        async with httpx.AsyncClient(follow_redirects=False) as client:
            api = PostHogApi(
                settings.posthog_app_host, settings.posthog_project_id, key, client, QUERY_CHECK_TIMEOUT_S
            )
            for signal in signals:
                subject = f"signals: {signal.name}"
                try:
                    table = await api.hogql_table(signal.query or "", 1, "posthog-slack-signals check")
                except PostHogApiError as exc:
                    found.append(Finding("error", subject, f"the query failed: {exc.explain()}"))
                    continue
                columns = ", ".join(table.columns) or "none"
                if not {"account", "distinct_id"} & set(table.columns):
                    detail = f"returns no `account` or `distinct_id` column (columns: {columns})"
                    found.append(Finding("error", subject, detail))
                    continue
                rows = "rows" if table.truncated else f"{len(table.rows)} row(s)"
                found.append(Finding("ok", subject, f"the query runs ({rows}); columns: {columns}"))
                if not {"account", "email"} & set(table.columns):
                    found += await persons_finding(api, subject, table)
        return found

    async def persons_finding(api: PostHogApi, subject: str, table: HogQLTable) -> list[Finding]:
        """Rows that name only a person are looked up in the Persons API: tried once, as the worker
        would, with the first row's distinct id."""
        first = table.rows[0].get("distinct_id") if table.rows else None
        probe = str(first) if first is not None else "posthog-slack-signals-check"
        try:
            await api.person(probe)
        except PostHogApiError as exc:
            detail = f"rows name only a person, and their lookup failed: {exc.explain()}"
            return [Finding("note", subject, detail + "; their company stays unknown")]
        return []

    return asyncio.run(run_each())


def signal_event_findings(settings: Settings, config: SignalsConfig) -> list[Finding]:
    """`lint`'s first check before a rule goes live: each event signal's event must be one PostHog has
    received (its event definitions), else an error with the closest known names."""
    import asyncio

    from bot.clients.posthog_api import PostHogApi, PostHogApiError
    from bot.lint.names import KnownNames
    from bot.lint.report import unknown_events
    from bot.lint.source import Catalog, explain_failure, read_definitions, with_names_confirmed

    key = secret(settings.posthog_personal_api_key)
    checked = [s for s in config.signals if not s.is_query]
    wanted = config.event_names
    if not key or not settings.posthog_project_id or not checked:
        return []

    async def read() -> list[str]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            api = PostHogApi(
                settings.posthog_app_host,
                settings.posthog_project_id or "",
                key,
                client,
                QUERY_CHECK_TIMEOUT_S,
            )
            definitions, capped, skipped = await read_definitions(api)
            catalog = await with_names_confirmed(
                api, Catalog(tuple(definitions), {}, capped, skipped), wanted
            )
            return catalog.names

    try:
        known = KnownNames(asyncio.run(read()))
    except PostHogApiError as exc:
        # Without the scope, signals still work; only `lint` and this check cannot run.
        status: Status = "note" if exc.missing_scope == "event_definition:read" else "error"
        return [Finding(status, "signal events", f"not checked: {explain_failure(exc)}")]
    findings = []
    for item in unknown_events(config, known):
        hint = f"; did you mean {' or '.join(item.suggestions)}?" if item.suggestions else ""
        detail = f"listens to {item.event}, an event PostHog never received{hint}"
        findings.append(Finding("error", f"signals: {item.signal}", detail))
    if not findings:
        events = len({s.event for s in checked})
        detail = f"PostHog has received each of the {events} event(s) the signals listen to"
        findings.append(Finding("ok", "signal events", detail))
    return findings


def channel_name_findings(settings: Settings, config: SignalsConfig) -> list[Finding]:
    """The `#name` channels the routes use, as a worker will resolve them to ids as it starts."""
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.channels import channel_ids, channel_names

    names = channel_names(config)
    token = secret(settings.slack_bot_token)
    if not names or not token:
        return []

    async def resolve() -> tuple[dict[str, str], str | None]:
        return await channel_ids(AsyncWebClient(token=token, base_url=settings.slack_api_url), names)

    ids, problem = asyncio.run(resolve())
    findings = [Finding("ok", f"channel {name}", f"is {ids[name]}") for name in sorted(ids)]
    if problem:
        left = ", ".join(sorted(names - set(ids)))
        detail = (
            f"{left} stay as written: {problem}; an interrupted post there cannot be verified, "
            "so write the channel's id or grant channels:read"
        )
        findings.append(Finding("note", "channel names", detail))
    return findings


def online_findings(settings: Settings, config: SignalsConfig | None) -> list[Finding]:
    """Try each configured credential against its API, with short timeouts."""
    findings: list[Finding] = []
    with httpx.Client(timeout=5) as client:

        def attempt(subject: str, request: httpx.Request, ok: str) -> None:
            try:
                response = client.send(request)
            except httpx.HTTPError as exc:
                findings.append(Finding("error", subject, f"unreachable: {type(exc).__name__}"))
                return
            if subject == "SLACK_BOT_TOKEN":
                body = (
                    response.json()
                    if response.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                if body.get("ok"):
                    findings.append(
                        Finding("ok", subject, f"{ok} as {body.get('user')} in {body.get('team')}")
                    )
                else:
                    findings.append(
                        Finding("error", subject, f"Slack says {body.get('error', response.status_code)}")
                    )
            elif response.status_code < 400:
                findings.append(Finding("ok", subject, ok))
            else:
                findings.append(
                    Finding("error", subject, f"HTTP {response.status_code}: {response.text[:160]}")
                )

        token = secret(settings.slack_bot_token)
        if token:
            attempt(
                "SLACK_BOT_TOKEN",
                client.build_request(
                    "POST", settings.slack_api_url + "auth.test", headers={"Authorization": f"Bearer {token}"}
                ),
                "valid",
            )
        project_key = secret(settings.posthog_project_api_key)
        if project_key:
            attempt(
                "POSTHOG_PROJECT_API_KEY",
                client.build_request(
                    "POST",
                    settings.posthog_host + "/flags/?v=2",
                    json={"api_key": project_key, "distinct_id": "posthog-slack-signals-check"},
                ),
                "accepted by " + settings.posthog_host,
            )
        personal_key = secret(settings.posthog_personal_api_key)
        if personal_key and settings.posthog_project_id:
            attempt(
                "POSTHOG_PERSONAL_API_KEY",
                client.build_request(
                    "POST",
                    f"{settings.posthog_app_host}/api/projects/{settings.posthog_project_id}/query/",
                    headers={"Authorization": f"Bearer {personal_key}"},
                    json={
                        "query": {"kind": "HogQLQuery", "query": "SELECT 1"},
                        "name": "posthog-slack-signals check",
                    },
                ),
                "can run queries",
            )
        anthropic_key = secret(settings.anthropic_api_key)
        if anthropic_key:  # listing models costs no tokens
            base = (settings.anthropic_base_url or "https://api.anthropic.com").rstrip("/")
            attempt(
                "ANTHROPIC_API_KEY",
                client.build_request(
                    "GET",
                    base + "/v1/models",
                    headers={"x-api-key": anthropic_key, "anthropic-version": "2023-06-01"},
                ),
                "valid",
            )
        hubspot = secret(settings.hubspot_access_token)
        if hubspot:
            attempt(
                "HUBSPOT_ACCESS_TOKEN",
                client.build_request(
                    "GET",
                    settings.hubspot_api_url + "/account-info/v3/details",  # as the bot itself calls
                    headers={"Authorization": f"Bearer {hubspot}"},
                ),
                "valid",
            )
        http = config.enrichment.http if config else None
        if http is not None:
            headers = {}
            if http.auth_header and http.auth_env:
                headers[http.auth_header] = http.auth_prefix + os.environ.get(http.auth_env, "")
            request = client.build_request(
                "GET", http.url.replace("{domain}", "posthog.com"), headers=headers
            )
            try:
                response = client.send(request)
                status: Status = "ok" if response.status_code in (200, *http.not_found_status) else "error"
                findings.append(Finding(status, "enrichment.http", f"HTTP {response.status_code}"))
            except httpx.HTTPError as exc:
                findings.append(Finding("error", "enrichment.http", f"unreachable: {type(exc).__name__}"))
    return findings


OWNER_CHECK_TIMEOUT_S = 10.0


def owner_findings(settings: Settings, domain: str) -> list[Finding]:
    """`--owner-of acme.com`: the `owner: crm` lookups for that domain, step by step, as alerts make
    them but without the cache, so what HubSpot and Slack answer now is what is reported."""
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.clients.hubspot import HubSpot
    from bot.decide.owners import OwnerResolver

    subject = f"owner of {domain}"
    token = secret(settings.hubspot_access_token)
    if not token:
        return [Finding("error", subject, "HUBSPOT_ACCESS_TOKEN is not set: `owner: crm` finds no owner")]

    async def run() -> list[Finding]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            hubspot = HubSpot(settings.hubspot_api_url, token, client, timeout_s=OWNER_CHECK_TIMEOUT_S)
            slack = AsyncWebClient(
                token=secret(settings.slack_bot_token) or "",
                base_url=settings.slack_api_url,
                timeout=int(OWNER_CHECK_TIMEOUT_S),
                retry_handlers=[],
            )
            resolver = OwnerResolver(None, hubspot, slack, timeout_s=3 * OWNER_CHECK_TIMEOUT_S)
            found = await resolver.resolve(domain)
        marks: dict[str, Status] = {"ok": "ok", "missing": "error", "failed": "error"}
        findings = [Finding(marks[s.status], f"{subject}: {s.name}", s.detail) for s in found.steps]
        status: Status = "ok" if found.slack_user else "error"
        findings.append(Finding(status, subject, found.note))
        return findings

    return asyncio.run(run())
