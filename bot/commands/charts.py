"""Charts as PNG bytes, uploaded with `files_upload_v2`: funnels for `/posthog funnel`, and a bar per
signal for `/posthog stats --share`.

Pure functions built on matplotlib's object API with the Agg canvas: no pyplot, no global rcParams,
no `warnings` filters, so concurrent calls from threads (`asyncio.to_thread`) do not interfere.

Step names and titles are untrusted (PostHog event names such as `$pageview`, or anything a user
typed), so every string is drawn literally: each Text object gets `parse_math=False` (no mathtext,
whatever `$` it holds) and `usetex=False` (no LaTeX, even if a global rcParam turned it on). Text is
also normalised to one line, shortened with an ellipsis to the pixel width it has, and characters the
bundled DejaVu Sans font cannot draw (emoji, CJK) become "□" instead of a missing-glyph warning.

Layout is in "logical pixels" (100 per inch) and rendered at 200 dpi, so a chart is 1200 px wide and
110-150 px + 90 px per step tall: sharp on retina screens and readable in Slack's preview.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyBboxPatch

from bot.commands.stats_report import precision_text
from bot.store.stats import SignalStats

ELLIPSIS = "…"
MISSING_GLYPH = "□"
MAX_BREAKDOWNS = 5

FONT = "DejaVu Sans"  # ships with matplotlib, so charts look the same on every machine
DPI = 200  # output pixels per inch
SCALE = DPI / 100  # output pixels per logical pixel
WIDTH = 600  # logical pixels -> 1200 px PNG
MARGIN = 16
NAME_WIDTH = 204  # column of step names, left of the bars
BAR_X = MARGIN + NAME_WIDTH + 12
BAR_WIDTH = WIDTH - MARGIN - BAR_X

BLUE = "#1D4AFF"  # PostHog blue
ACCENT = "#E5484D"  # the biggest drop
TRACK = "#EEF0F4"  # 100% reference behind each bar
INK = "#151515"
MUTED = "#5F6470"
SERIES_COLORS = ("#1D4AFF", "#F54E00", "#0F9D58", "#9B2FC9", "#C99700")

_LINE_BREAKS = re.compile(r"\s+")


# -- text ------------------------------------------------------------------------------------------
@cache
def _glyphs() -> frozenset[int]:
    """Code points both the regular and the bold face can draw."""
    covered: frozenset[int] | None = None
    for weight in ("normal", "bold"):
        path = font_manager.findfont(FontProperties(family=FONT, weight=weight), fallback_to_default=True)
        charmap = frozenset(font_manager.get_font(path).get_charmap())
        covered = charmap if covered is None else covered & charmap
    return covered or frozenset()


def _normalise(text: Any) -> str:
    """One line of drawable characters: controls and format characters go, missing glyphs become □."""
    glyphs = _glyphs()
    out = []
    for char in unicodedata.normalize("NFC", str(text)):
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp") or char.isspace():
            out.append(" ")
        elif category == "Cf":
            continue  # zero-width joiners and bidi overrides: Agg lays text out left to right anyway
        elif ord(char) in glyphs:
            out.append(char)
        elif category in ("Mn", "Me", "Sk", "Cs", "Co", "Cn"):
            continue  # variation selectors, skin tones, combining marks the font lacks
        else:
            out.append(MISSING_GLYPH)
    return _LINE_BREAKS.sub(" ", "".join(out)).strip()


class _Painter:
    """One figure, its Agg canvas and renderer; draws in logical pixels with y growing downwards."""

    def __init__(self, height: float) -> None:
        self.height = height
        self.figure = Figure(figsize=(WIDTH / 100, height / 100), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.figure)
        self.renderer: RendererAgg = self.canvas.get_renderer()
        self.ax = self.figure.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, WIDTH)
        self.ax.set_ylim(height, 0)
        self.ax.set_axis_off()

    @staticmethod
    def font(size: float, bold: bool = False) -> FontProperties:
        return FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")

    def width(self, text: str, font: FontProperties) -> float:
        """Width of `text` in logical pixels."""
        width, _, _ = self.renderer.get_text_width_height_descent(text, font, ismath=False)
        return width / SCALE

    def fit(self, text: Any, font: FontProperties, room: float) -> str:
        """Normalised text, shortened with an ellipsis until it is at most `room` logical px wide."""
        text = _normalise(text)
        # glyphs are at least ~1/4 em wide, so longer text cannot fit (at worst it is cut a little
        # early); measuring at most that much keeps 500-character names fast
        longest = int(room / (font.get_size_in_points() * 100 / 72 / 4)) + 1
        if len(text) <= longest and self.width(text, font) <= room:
            return text
        text = text[:longest]
        low, high = 0, len(text)  # binary search on the number of characters kept
        while low < high:
            middle = (low + high + 1) // 2
            if self.width(text[:middle].rstrip() + ELLIPSIS, font) <= room:
                low = middle
            else:
                high = middle - 1
        return text[:low].rstrip() + ELLIPSIS

    def text(self, x: float, y: float, text: str, font: FontProperties, **kwargs: Any) -> None:
        kwargs.setdefault("va", "center")
        kwargs.setdefault("color", INK)
        # parse_math=False: "$pageview" or "$a$" are drawn as typed, never as mathtext;
        # usetex=False: never hand untrusted text to LaTeX, whatever rcParams say.
        self.ax.text(x, y, text, fontproperties=font, parse_math=False, usetex=False, **kwargs)

    def bar(self, x: float, y: float, width: float, height: float, color: str) -> None:
        if width <= 0:
            return
        radius = min(4.0, width / 2, height / 2)
        box = FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle=f"round,pad=0,rounding_size={radius}",
            linewidth=0,
            facecolor=color,
        )
        self.ax.add_patch(box)

    @staticmethod
    def header_height(subtitle: str | None) -> float:
        return 76 if subtitle else 56

    def header(self, title: str, subtitle: str | None) -> float:
        """Title and subtitle; returns the y where the body starts."""
        room = WIDTH - 2 * MARGIN
        self.text(MARGIN, 26, self.fit(title, self.font(15, True), room) or "Funnel", self.font(15, True))
        if subtitle:
            self.text(MARGIN, 50, self.fit(subtitle, self.font(10), room), self.font(10), color=MUTED)
        return self.header_height(subtitle)

    def png(self) -> bytes:
        buffer = io.BytesIO()
        # zlib level 3: ~25 ms faster than the default 6 on a 1200 px chart for ~15% more bytes;
        # no "Software: matplotlib x.y" tag, so the bytes depend only on the chart
        self.canvas.print_png(buffer, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
        return buffer.getvalue()


# -- numbers ---------------------------------------------------------------------------------------
def _count(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _percent(part: int, whole: int) -> str:
    if whole <= 0:
        return "–"
    share = 100 * part / whole
    if part == whole:
        return "100%"
    if part == 0:
        return "0%"
    if share < 0.1:
        return "<0.1%"
    return f"{share:.1f}%"


def _ink_on(color: str) -> str:
    """White or black text, whichever reads better on `color`."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 160 else INK


def biggest_drop(counts: list[int]) -> int | None:
    """Index of the step reached with the lowest conversion from the step before it (None: no drop)."""
    worst: int | None = None
    worst_rate = 1.0
    for index in range(1, len(counts)):
        previous = counts[index - 1]
        if previous <= 0:
            continue
        rate = counts[index] / previous
        if rate < worst_rate:
            worst, worst_rate = index, rate
    return worst


def _steps(steps: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    if not steps:
        raise ValueError("a funnel chart needs at least one step")
    return [name for name, _ in steps], [_count(count) for _, count in steps]


def _labelled_bar(
    painter: _Painter, y: float, height: float, fraction: float, color: str, label: str, font: FontProperties
) -> None:
    """A bar from BAR_X, `fraction` of the full width, with its label inside when it fits."""
    width = BAR_WIDTH * min(1.0, max(0.0, fraction))
    painter.bar(BAR_X, y, BAR_WIDTH, height, TRACK)
    painter.bar(BAR_X, y, width, height, color)
    label_width = painter.width(label, font)
    if width >= label_width + 16:
        painter.text(BAR_X + 8, y + height / 2, label, font, color=_ink_on(color))
    elif BAR_X + width + 6 + label_width <= WIDTH - MARGIN:
        painter.text(BAR_X + width + 6, y + height / 2, label, font)
    else:  # a nearly full bar whose label is too long to fit inside: right-align it at the end
        on_bar = WIDTH - MARGIN - 4 - label_width < BAR_X + width
        painter.text(
            WIDTH - MARGIN - 4,
            y + height / 2,
            label,
            font,
            ha="right",
            color=_ink_on(color) if on_bar else INK,
        )


# -- charts ----------------------------------------------------------------------------------------
ROW = 45  # logical px per step: a bar and the gap holding the conversion from the step before
BAR_HEIGHT = 26
FOOTER = 18


def funnel_png(title: str, steps: list[tuple[str, int]], subtitle: str | None = None) -> bytes:
    """A horizontal funnel: one bar per step, in order, labelled with its count and % of the first step;
    the conversion from the previous step sits between bars and the biggest drop is highlighted.

    Bars are scaled to the largest count (normally the first step). Negative or non-numeric counts count
    as 0; a first step of 0 shows "–" instead of percentages. Raises ValueError when `steps` is empty.
    """
    names, counts = _steps(steps)
    height = _Painter.header_height(subtitle) + ROW * (len(counts) - 1) + BAR_HEIGHT + FOOTER
    painter = _Painter(height)
    top = painter.header(title, subtitle)
    first, largest = counts[0], max(counts)
    drop = biggest_drop(counts)
    name_font, label_font = painter.font(10.5), painter.font(10, True)
    gap_font, gap_bold = painter.font(8.5), painter.font(8.5, True)
    number_width = painter.width(f"{len(counts)}.", name_font)

    for index, (name, count) in enumerate(zip(names, counts, strict=True)):
        y = top + ROW * index
        centre = y + BAR_HEIGHT / 2
        painter.text(MARGIN, centre, f"{index + 1}.", name_font, color=MUTED)
        room = NAME_WIDTH - number_width - 6
        label = painter.fit(name, name_font, room) or "(unnamed)"
        painter.text(MARGIN + number_width + 6, centre, label, name_font)
        highlighted = index == drop
        _labelled_bar(
            painter,
            y,
            BAR_HEIGHT,
            count / largest if largest else 0.0,
            ACCENT if highlighted else BLUE,
            f"{count:,} · {_percent(count, first)}",
            label_font,
        )
        if index:
            previous = counts[index - 1]
            lost = previous - count
            parts = [f"↓ {_percent(count, previous)} converted"]
            if lost > 0:
                parts.append(f"{lost:,} dropped off")
            if highlighted:
                parts.append("biggest drop")
            font = gap_bold if highlighted else gap_font
            conversion = painter.fit(" · ".join(parts), font, BAR_WIDTH)
            painter.text(
                BAR_X, y - (ROW - BAR_HEIGHT) / 2, conversion, font, color=ACCENT if highlighted else MUTED
            )
    return painter.png()


SERIES_BAR = 12  # logical px per breakdown bar
SERIES_GAP = 2
STEP_GAP = 14


def funnel_breakdown_png(
    title: str, series: list[tuple[str, list[tuple[str, int]]]], subtitle: str | None = None
) -> bytes:
    """A funnel broken down by up to 5 values (e.g. browser), as grouped bars: for each step, one bar per
    breakdown value. Bar length and % are relative to that value's own first step, so conversion can be
    compared across segments of different sizes; the legend gives each value's entrants and overall
    conversion ("Chrome · 5.0% of 1,000"). Every series must have the same steps; the first series names them.

    One chart with grouped bars rather than one chart per value: the comparison the breakdown exists
    for is side by side at each step, on one scale, and it is one upload (one message, 3 API calls)
    instead of up to 5. Pass the 5 largest values; more would not be readable (ValueError).
    """
    if not series:
        raise ValueError("a breakdown chart needs at least one series")
    if len(series) > MAX_BREAKDOWNS:
        raise ValueError(f"at most {MAX_BREAKDOWNS} breakdown values fit one chart, got {len(series)}")
    names, _ = _steps(series[0][1])
    table = []
    for _, steps in series:
        step_names, counts = _steps(steps)
        if len(step_names) != len(names):
            raise ValueError("every breakdown series needs the same number of steps")
        table.append(counts)

    # measure the legend on a scratch renderer to know the height (flow layout, wrapping lines)
    legend_font = _Painter.font(9.5)
    scratch = _Painter(100)
    entries = []
    for (value, _), counts, color in zip(series, table, SERIES_COLORS, strict=False):
        label = scratch.fit(value, legend_font, 150) or "(none)"
        text = f"{label} · {_percent(counts[-1], counts[0])} of {counts[0]:,}"
        entries.append((text, color, scratch.width(text, legend_font)))
    lines: list[list[tuple[str, str, float]]] = [[]]
    used = 0.0
    for entry in entries:
        needed = 14 + entry[2] + 18
        if lines[-1] and used + needed > WIDTH - 2 * MARGIN:
            lines.append([])
            used = 0.0
        lines[-1].append(entry)
        used += needed
    legend_height = 20 * len(lines) + 8
    group = len(table) * SERIES_BAR + (len(table) - 1) * SERIES_GAP
    body = len(names) * group + (len(names) - 1) * STEP_GAP

    painter = _Painter(_Painter.header_height(subtitle) + legend_height + body + FOOTER)
    y = painter.header(title, subtitle)
    for line in lines:
        x = float(MARGIN)
        for text, color, width in line:
            painter.bar(x, y + 3, 10, 10, color)
            painter.text(x + 14, y + 8, text, legend_font)
            x += 14 + width + 18
        y += 20
    y += 8

    name_font, label_font = painter.font(10.5), painter.font(8, True)
    number_width = painter.width(f"{len(names)}.", name_font)
    for index, name in enumerate(names):
        painter.text(MARGIN, y + group / 2, f"{index + 1}.", name_font, color=MUTED)
        label = painter.fit(name, name_font, NAME_WIDTH - number_width - 6) or "(unnamed)"
        painter.text(MARGIN + number_width + 6, y + group / 2, label, name_font)
        for counts, color in zip(table, SERIES_COLORS, strict=False):
            count, first = counts[index], counts[0]
            text = f"{count:,} · {_percent(count, first)}"
            _labelled_bar(painter, y, SERIES_BAR, count / first if first else 0.0, color, text, label_font)
            y += SERIES_BAR + SERIES_GAP
        y += STEP_GAP - SERIES_GAP
    return painter.png()


# -- signal stats ----------------------------------------------------------------------------------
MAX_STATS_ROWS = 20
STATS_ROW = 34  # logical px per signal
STATS_BAR = 18
STATS_LABEL = 118  # room right of the bars for "120 alerts · 67%"
STATS_SEGMENTS = (  # what people did with a signal's alerts, in the order the bar shows them
    ("task", "#1D4AFF"),
    ("not relevant", "#E5484D"),
    ("snoozed", "#C99700"),
    ("no action yet", "#B8BCC6"),
)


def _stats_segments(stats: SignalStats) -> tuple[int, int, int, int]:
    """Alerts with a task, marked not relevant (and no task), only snoozed, and with nothing done
    yet: each alert in one segment, so the bar is as long as its alerts."""
    tasks = min(stats.tasks, stats.alerts)
    dismissed = min(stats.dismissed, stats.alerts - tasks)
    no_action = min(stats.no_action, stats.alerts - tasks - dismissed)
    return tasks, dismissed, stats.alerts - tasks - dismissed - no_action, no_action


def stats_png(title: str, stats: Sequence[SignalStats], subtitle: str | None = None) -> bytes:
    """One bar per signal (the first MAX_STATS_ROWS, as given: most alerts first), as long as its
    alerts, split by what people did with them, with its precision at the end; a legend on top."""
    rows = list(stats[:MAX_STATS_ROWS])
    if not rows:
        raise ValueError("a stats chart needs at least one signal")
    subtitle = subtitle or "alerts by what people did · precision = tasks / (tasks + not relevant)"
    more = len(stats) - len(rows)
    legend_height = 28
    body = STATS_ROW * len(rows) + (20 if more else 0)
    painter = _Painter(_Painter.header_height(subtitle) + legend_height + body + FOOTER)
    y = painter.header(title, subtitle)
    legend_font = painter.font(9.5)
    x = float(MARGIN)
    for label, color in STATS_SEGMENTS:
        painter.bar(x, y + 3, 10, 10, color)
        painter.text(x + 14, y + 8, label, legend_font)
        x += 14 + painter.width(label, legend_font) + 18
    y += legend_height

    name_font, label_font = painter.font(10.5), painter.font(9, True)
    largest = max(s.alerts for s in rows) or 1
    room = BAR_WIDTH - STATS_LABEL
    for signal in rows:
        middle = y + STATS_BAR / 2
        painter.text(
            MARGIN, middle, painter.fit(signal.signal, name_font, NAME_WIDTH) or "(unnamed)", name_font
        )
        painter.bar(BAR_X, y, room, STATS_BAR, TRACK)
        x = float(BAR_X)
        for count, (_, color) in zip(_stats_segments(signal), STATS_SEGMENTS, strict=True):
            width = room * count / largest
            painter.bar(x, y, width, STATS_BAR, color)
            x += width
        noun = "alert" if signal.alerts == 1 else "alerts"
        label = painter.fit(
            f"{signal.alerts:,} {noun} · {precision_text(signal)}", label_font, STATS_LABEL - 8
        )
        painter.text(BAR_X + room + 8, middle, label, label_font)
        y += STATS_ROW
    if more:
        painter.text(MARGIN, y + 4, f"and {more} more signals", painter.font(9.5), color=MUTED)
    return painter.png()
