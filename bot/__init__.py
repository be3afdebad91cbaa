"""posthog-slack-signals: PostHog product events to enriched, scored, routed Slack alerts."""

__version__ = "0.2.0"
LIB_NAME = "posthog-slack-signals"  # `$lib` on every event the bot sends to PostHog
