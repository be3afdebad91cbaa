"""Local fake HTTP servers that speak the real wire formats of Slack, PostHog and enrichment APIs."""
