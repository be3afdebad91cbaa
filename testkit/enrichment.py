"""A fake firmographics API: `GET /v1/companies?domain=acme.com` with `Authorization: Bearer <key>`.

Known domains answer 200 with a nested JSON document (so field mapping is exercised), unknown
domains 404; `script(Reply(...))` injects failures or slowness for the next calls.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from testkit.base import FakeServer, Recorded, Reply
from testkit.examples import EXAMPLE_SIGNALS

API_KEY = "enrich-test-key"


class FakeEnrichment(FakeServer):
    def __init__(self, companies: dict[str, dict[str, Any]] | None = None, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.companies = companies or {
            "umbrella.io": {
                "name": "Umbrella Corp",
                "metrics": {"employees": 900},
                "category": {"industry": "saas"},
                "funding": {"stage": "series_c"},
                "tech": ["snowflake", "dbt"],
                "geo": {"country_code": "GB"},
            }
        }
        self.replies: deque[Reply] = deque()
        self.default_delay_s = 0.0

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def lookups(self) -> list[str]:
        with self.lock:
            return [r.query.get("domain", [""])[0] for r in self.requests if r.path == "/v1/companies"]

    def respond(self, request: Recorded) -> Reply:
        with self.lock:
            if self.replies:
                return self.replies.popleft()
        if request.path != "/v1/companies":
            return Reply(404, {"error": "not found"})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"error": "unauthorized"})
        domain = request.query.get("domain", [""])[0]
        company = self.companies.get(domain)
        if company is None:
            return Reply(404, {"error": "unknown domain"}, delay_s=self.default_delay_s)
        return Reply(200, {"domain": domain, **company}, delay_s=self.default_delay_s)


def http_provider_yaml(url: str, env: str = "ENRICH_TEST_KEY") -> str:
    """The `enrichment.http` section pointing at this fake."""
    return f"""
  http:
    url: {url}/v1/companies?domain={{domain}}
    auth_header: Authorization
    auth_env: {env}
    auth_prefix: "Bearer "
    timeout: 2s
    fields: {{name: name, employees: metrics.employees, industry: category.industry,
             funding_stage: funding.stage, tech_stack: tech, country: geo.country_code}}
"""


def signals_with_http_provider(path: Path, url: str, env: str = "ENRICH_TEST_KEY") -> Path:
    """The example signals file, written to `path`, with an `enrichment.http` section for `url`."""
    path.write_text(
        EXAMPLE_SIGNALS.read_text().replace(
            "  file: companies.json",
            f"  file: {EXAMPLE_SIGNALS.parent / 'companies.json'}" + http_provider_yaml(url, env),
        )
    )
    return path
