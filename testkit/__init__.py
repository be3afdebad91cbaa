"""The test kit: fake Slack, PostHog, HubSpot, Anthropic and enrichment servers on 127.0.0.1 that speak
the real wire formats, so the real SDK clients talk to them over HTTP; `serve` in a child process that can
be killed; fresh PostgreSQL schemas; PostHog webhook bodies. Used by tests/ and bench/, not shipped."""
