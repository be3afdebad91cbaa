"""`python -m bot lint` as an operator runs it, against the fake PostHog over real HTTP: the report as
tables, exit 1 for a signal that can never fire, 0 for warnings, 2 with what to fix when it cannot run."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from bot.tools.lint import run_lint
from testkit import posthog_api as fakes
from testkit.examples import EXAMPLE_EVENTS, EXAMPLE_SIGNALS
from testkit.posthog_api import PERSONAL_KEY, PROJECT_ID, FakePostHogApi
from tests.conftest import make_settings
from tests.support.command_line import run

DAY = 86_400.0
CLICKS = {"click": 1200, "Click": 30, "button-click": 80, "btnClick": 15, "user_clicked_button": 400}


def signals_file(directory: Path, typo: bool) -> Path:
    """The example signals file, its first signal listening to `onboarding_complete` when `typo`."""
    text = EXAMPLE_SIGNALS.read_text(encoding="utf-8").replace(
        "file: companies.json", f"file: {EXAMPLE_SIGNALS.parent / 'companies.json'}"
    )
    if typo:
        text = text.replace("event: onboarding_completed", "event: onboarding_complete", 1)
    path = directory / "signals.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def posthog() -> Iterator[FakePostHogApi]:
    with FakePostHogApi(seed=False) as server:
        for name, volume in CLICKS.items():
            server.add_event_definition(name, volume_30_day=volume)
        for name in EXAMPLE_EVENTS:
            server.add_event_definition(name, volume_30_day=50)
        server.add_event_definition("report_exported", volume_30_day=3400)
        server.add_event_definition("[bold]Weird[/] Name", volume_30_day=2)
        server.add_event_definition("legacy_export", volume_30_day=0, last_seen=45 * DAY)
        yield server


def lint(
    posthog: FakePostHogApi, tmp_path: Path, typo: bool = True, **overrides: str
) -> tuple[int, str, str]:
    values = {
        "posthog_app_host_setting": posthog.url,
        "posthog_personal_api_key": PERSONAL_KEY,
        "posthog_project_id": PROJECT_ID,
        "signals_config": str(signals_file(tmp_path, typo)),
        **overrides,
    }
    settings = make_settings(f"sqlite:///{tmp_path / 'lint.db'}", **values)
    out, err = io.StringIO(), io.StringIO()
    code = run_lint(
        settings,
        Console(file=out, width=200, color_system=None),
        Console(file=err, width=200, color_system=None),
        now=posthog.now.timestamp(),
    )
    return code, out.getvalue(), err.getvalue()


def row(output: str, first_cell: str) -> list[str]:
    line = next(x for x in output.splitlines() if f"│ {first_cell} " in x)
    return [c.strip() for c in line.split("│") if c.strip()]


def test_a_typo_fails_the_lint_and_the_report_has_all_five(posthog, tmp_path):
    code, out, err = lint(posthog, tmp_path)
    assert code == 1 and err == ""
    assert "Tracking plan: 13 events in PostHog, 5 event signals checked" in out
    assert row(out, "Trial finished onboarding") == [
        "Trial finished onboarding",
        "onboarding_complete",
        "onboarding_completed",
    ]
    assert "error: Trial finished onboarding (onboarding_complete; did you mean onboarding_completed?)" in out
    assert "Names that break snake_case (4)" in out and row(out, "btnClick")[:2] == ["btnClick", "btn_click"]
    assert row(out, "[bold]Weird[/] Name") == ["[bold]Weird[/] Name", "bold_weird_name", "2"]  # not markup
    assert "Near-duplicate names (2 groups)" in out
    assert row(out, "1") == ["1", "click", "1,200", "keep"]
    assert row(out, "2") == ["2", "user_clicked_button", "400", "keep"]
    assert "Gone quiet: not seen for 30 days (1)" in out and row(out, "legacy_export")[0] == "legacy_export"
    assert row(out, "report_exported") == ["report_exported", "3,400"]
    unused = out[out.index("No action: events no signal listens to (8)") :]
    assert unused.index("│ report_exported ") < unused.index("│ onboarding_completed ")  # busiest first
    assert "1 signal can never fire" in out


def test_only_warnings_exit_0(posthog, tmp_path):
    code, out, _ = lint(posthog, tmp_path, typo=False)
    assert code == 0
    assert "ok: PostHog has received every event the signals listen to" in out
    assert "Near-duplicate names" in out


def test_without_query_read_volumes_are_unknown_not_fatal(posthog, tmp_path):
    posthog.scopes = {"event_definition:read"}
    posthog.add_event_definition("no_volume_given")
    code, out, _ = lint(posthog, tmp_path)
    assert code == 1
    assert "note: the personal API key lacks `query:read`, so volumes are unknown" in " ".join(out.split())


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (fakes.missing_scope("event_definition:read"), "the personal API key lacks `event_definition:read`"),
        (fakes.unauthorized(), "check POSTHOG_PERSONAL_API_KEY"),
        (fakes.rate_limited(9), "PostHog is rate limiting the bot; try again in 9 s"),
        (fakes.server_error(503), "PostHog is failing (HTTP 503)"),
    ],
)
def test_posthog_errors_exit_2_with_what_to_fix(posthog, tmp_path, reply, said):
    posthog.script(reply, path="event_definitions/")
    code, out, err = lint(posthog, tmp_path)
    assert code == 2 and out == ""
    assert err.startswith("lint: ") and said in err and "Traceback" not in err


def test_unreachable_posthog_exits_2(posthog, tmp_path):
    code, _, err = lint(posthog, tmp_path, posthog_app_host_setting="http://127.0.0.1:9")
    assert code == 2 and "PostHog did not answer (could not reach 127.0.0.1:9" in err


def test_missing_settings_and_a_broken_signals_file_exit_2(posthog, tmp_path):
    code, _, err = lint(posthog, tmp_path, posthog_personal_api_key="")
    assert code == 2 and "lint: needs POSTHOG_PERSONAL_API_KEY" in err and "event_definition:read" in err
    broken = tmp_path / "broken.yml"
    broken.write_text("signals: []\n", encoding="utf-8")
    code, _, err = lint(posthog, tmp_path, signals_config=str(broken))
    assert code == 2 and "broken.yml" in err


def test_the_command_line(posthog, tmp_path):
    result = run(
        ["lint"],
        tmp_path,
        POSTHOG_APP_HOST=posthog.url,
        POSTHOG_PERSONAL_API_KEY=PERSONAL_KEY,
        POSTHOG_PROJECT_ID=PROJECT_ID,
        SIGNALS_CONFIG=str(signals_file(tmp_path, typo=True)),
    )
    assert result.returncode == 1, result.stderr
    assert "did you mean onboarding_completed?" in result.stdout
