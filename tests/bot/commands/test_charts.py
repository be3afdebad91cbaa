"""Funnel and signal stats chart PNGs: size, hostile text drawn literally, zero and single-step
funnels, threads."""

from __future__ import annotations

import gc
import io
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import matplotlib
import pytest
from matplotlib import mathtext
from PIL import Image

from bot.commands.charts import (
    ELLIPSIS,
    MAX_STATS_ROWS,
    MISSING_GLYPH,
    _normalise,
    _Painter,
    _percent,
    biggest_drop,
    funnel_breakdown_png,
    funnel_png,
    stats_png,
)
from bot.store.stats import SignalStats

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

HOSTILE = [
    "$pageview",
    "$autocapture → $pageleave",
    "$x^2$ and $\\frac{1}{0}$",
    "\\alpha \\$ \\",
    "a_b_c ^caret^ {braces} %percent #hash",
    "<!channel> <@U123> <https://evil.example|PostHog> &amp;",
    "x" * 500,
    "W" * 500,
    "🚀 launch 👨‍👩‍👧 family 👍🏽 ❤️",
    "日本語のイベント名",
    "line\nbreak\ttab\x00null\x7f\u2028sep",
    "\u202eevil RTL override\u200b zero width",
    "a" + "\u0301" * 300,
    "",
    "   ",
]


def _image(png: bytes) -> Image.Image:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _no_warnings(render, *args, **kwargs) -> bytes:
    """What `render` draws, asserting it warned of nothing. Objects earlier tests left for the garbage
    collector are finalised first: their ResourceWarnings are theirs, not the chart's."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render(*args, **kwargs)
    assert [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)] == []
    return png


STEPS = [("$pageview", 12345), ("signed_up", 4321), ("onboarding_completed", 3900), ("paid", 80)]


@pytest.mark.parametrize("count", [1, 2, 4, 8, 15])
def test_size_grows_with_steps_within_bounds(count: int) -> None:
    steps = [(f"step {i}", 1000 - 60 * i) for i in range(count)]
    image = _image(funnel_png("Signup funnel", steps, subtitle="Last 14 days"))
    assert image.format == "PNG"
    assert image.width == 1200
    assert 200 <= image.height <= 200 + 90 * count


def test_title_only_is_shorter_than_with_subtitle() -> None:
    plain = _image(funnel_png("Funnel", STEPS))
    with_subtitle = _image(funnel_png("Funnel", STEPS, subtitle="Insight 42"))
    assert plain.height < with_subtitle.height


# Each name is drawn as a title, a subtitle, a step, a breakdown value and a signal, five names a
# chart: the overhead of a figure is most of a chart's cost, and a name misdrawn anywhere warns.
HOSTILE_CHUNKS = [HOSTILE[i : i + 5] for i in range(0, len(HOSTILE), 5)]


@pytest.mark.parametrize("names", HOSTILE_CHUNKS, ids=lambda names: ascii(names[0][:24]))
def test_hostile_step_names_title_and_subtitle_render_without_warnings(names: list[str]) -> None:
    for title, subtitle in zip(names, names[1:] + names[:1], strict=True):
        png = _no_warnings(
            funnel_png, title, [(name, 10 - i) for i, name in enumerate(names)], subtitle=subtitle
        )
        assert _image(png).width == 1200
    series = [(name, [(name, 10), ("b", 5)]) for name in names]
    png = _no_warnings(funnel_breakdown_png, names[0], series, subtitle=names[-1])
    assert _image(png).width == 1200


def test_dollar_signs_never_reach_mathtext_or_tex(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_mathtext(*args, **kwargs):
        raise AssertionError("mathtext parser called")

    monkeypatch.setattr(mathtext.MathTextParser, "parse", no_mathtext)
    # even if someone switches LaTeX and math parsing on globally (there is no latex here: it would fail)
    with matplotlib.rc_context({"text.usetex": True, "text.parse_math": True}):
        funnel_png("$x$ funnel $y$", [("$a$", 3), ("$\\frac{1}{2}$", 1)], subtitle="$$")
        funnel_breakdown_png("$x$", [("$b$", [("$a$", 3), ("$c$", 1)])])


def test_dollar_text_is_drawn_as_typed() -> None:
    painter = _Painter(100)
    font = painter.font(10)
    # literal "$x$" is wider than "x": the dollar signs are drawn, not eaten as math delimiters
    assert painter.fit("$x$", font, 500) == "$x$"
    assert painter.width("$x$", font) > painter.width("x", font)
    assert _normalise("$pageview \\$") == "$pageview \\$"


def test_long_names_are_shortened_with_an_ellipsis_to_the_room_they_have() -> None:
    painter = _Painter(100)
    font = painter.font(10.5)
    for text in ("x" * 500, "W" * 500, "i" * 500, "onboarding_completed with a long tail"):
        fitted = painter.fit(text, font, 150)
        assert fitted.endswith(ELLIPSIS)
        assert painter.width(fitted, font) <= 150
        assert len(fitted) > 5
    assert painter.fit("short", font, 150) == "short"


def test_normalise_makes_one_line_of_drawable_characters() -> None:
    assert _normalise("a\nb\tc\x00d\u2028e") == "a b c d e"
    assert _normalise("🚀 go") == f"{MISSING_GLYPH} go"
    assert _normalise("👍🏽") == MISSING_GLYPH  # the skin tone modifier is dropped, not boxed
    assert _normalise("a\u200db\u202ec") == "abc"
    assert _normalise("café") == "café"
    assert _normalise(42) == "42"


def test_biggest_drop_is_the_lowest_step_conversion() -> None:
    assert biggest_drop([1000, 500, 450, 45]) == 3
    assert biggest_drop([1000, 100, 90]) == 1
    assert biggest_drop([100, 100, 100]) is None
    assert biggest_drop([0, 0, 0]) is None
    assert biggest_drop([7]) is None
    assert biggest_drop([10, 0, 0]) == 1


def test_percent_labels() -> None:
    assert _percent(5, 5) == "100%"
    assert _percent(0, 5) == "0%"
    assert _percent(1, 3) == "33.3%"
    assert _percent(1, 100000) == "<0.1%"
    assert _percent(3, 0) == "–"


@pytest.mark.parametrize(
    "steps",
    [
        [("only step", 7)],
        [("only step", 0)],
        [("a", 0), ("b", 0), ("c", 0)],
        [("a", 10), ("b", 0), ("c", 0)],
        [("a", 5), ("b", 9)],  # later step larger than the first: bars scale to the largest
        [("a", -3), ("b", "nope")],  # type: ignore[list-item]
        [("a", 10**12), ("b", 1)],
    ],
)
def test_zero_single_and_odd_counts(steps: list[tuple[str, int]]) -> None:
    image = _image(_no_warnings(funnel_png, "Funnel", steps))
    assert image.width == 1200


def test_empty_funnel_is_an_error() -> None:
    with pytest.raises(ValueError):
        funnel_png("Funnel", [])


def test_rendering_is_deterministic_and_thread_safe() -> None:
    cases = [
        (f"Funnel {i} $x$", [(f"$step {j} 🚀", 1000 // (j + 1)) for j in range(1 + i % 6)]) for i in range(12)
    ]
    serial = [funnel_png(title, steps) for title, steps in cases]
    with ThreadPoolExecutor(6) as pool:
        parallel = list(pool.map(lambda case: funnel_png(*case), cases))
    assert parallel == serial
    assert len(set(serial)) == len(serial)


def test_fast_enough_for_a_slash_command() -> None:
    steps = [(f"step {i} with a name long enough to need shortening", 1000 - 90 * i) for i in range(10)]
    funnel_png("warm up", steps)
    started = time.perf_counter()
    funnel_png("Ten steps", steps, subtitle="Last 30 days")
    assert time.perf_counter() - started < 2.0  # ~0.15 s on a dev machine


def test_breakdown_grouped_bars() -> None:
    series = [
        (value, [("$pageview", 1000 // (k + 1)), ("signed_up", 300 // (k + 1)), ("paid", 40 // (k + 1))])
        for k, value in enumerate(["Chrome", "Safari", "Firefox 🦊", "", "x" * 300])
    ]
    image = _image(_no_warnings(funnel_breakdown_png, "By browser", series, subtitle="Last 30 days"))
    assert image.width == 1200
    assert 300 <= image.height <= 1000
    one = _image(funnel_breakdown_png("By browser", series[:1]))
    assert one.height < image.height


def test_breakdown_limits() -> None:
    steps = [("a", 2), ("b", 1)]
    with pytest.raises(ValueError, match="at most 5"):
        funnel_breakdown_png("T", [(str(i), steps) for i in range(6)])
    with pytest.raises(ValueError):
        funnel_breakdown_png("T", [])
    with pytest.raises(ValueError):
        funnel_breakdown_png("T", [("x", steps), ("y", [("a", 1)])])
    _image(funnel_breakdown_png("T", [("zero", [("a", 0), ("b", 0)]), ("one", [("a", 1)] * 2)]))


# -- signal stats ----------------------------------------------------------------------------------
def _signal(name: str, alerts: int = 0, **counts) -> SignalStats:
    return SignalStats(signal=name, alerts=alerts, **counts)


@pytest.mark.parametrize("count", [1, 5, 20, 30])
def test_stats_chart_has_a_bar_per_signal_up_to_its_cap(count: int) -> None:
    stats = [
        _signal(f"signal {i}", alerts=i, tasks_clicked=i // 2, no_action=i - i // 2) for i in range(count)
    ]
    image = _image(_no_warnings(stats_png, "Signals, last 7 days", stats))
    assert image.width == 1200
    rows = min(count, MAX_STATS_ROWS)
    assert 2 * (100 + 34 * rows) <= image.height <= 2 * (170 + 34 * rows + 20)


@pytest.mark.parametrize("names", HOSTILE_CHUNKS, ids=lambda names: ascii(names[0][:24]))
def test_stats_chart_draws_hostile_signal_names_literally(names: list[str]) -> None:
    stats = [
        _signal(name, alerts=3, tasks_auto=1, not_relevant={"wrong_fit": 1}, no_action=1) for name in names
    ]
    assert _image(_no_warnings(stats_png, names[0], stats, subtitle=names[-1])).width == 1200


def test_stats_chart_of_no_signals_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one signal"):
        stats_png("Signals", [])
