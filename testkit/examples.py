"""Where the repository and its example files are: the signals file and the companies it enriches from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SIGNALS = ROOT / "examples" / "signals.yml"
EXAMPLE_COMPANIES = ROOT / "examples" / "companies.json"
