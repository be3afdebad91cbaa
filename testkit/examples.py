"""Where the repository and its example files are: the signals file and the companies it enriches from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SIGNALS = ROOT / "examples" / "signals.yml"
EXAMPLE_COMPANIES = ROOT / "examples" / "companies.json"
# The events the example's event signals listen to, for fakes of PostHog's event definitions.
EXAMPLE_EVENTS = (
    "onboarding_completed",
    "feature_activated",
    "invite_sent",
    "report_shared",
    "pricing_viewed",
)
