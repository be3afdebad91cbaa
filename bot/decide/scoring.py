"""Explainable ICP scoring: each criterion is met, missed or unknown (no data), and says why.

The score is the met criteria's weight over the total weight, times 100. Unknown counts as not met,
but is shown as unknown so an AE can tell "not a fit" from "we don't know yet".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.config.signals_file import Criterion
from bot.decide.matching import MISSING, lookup, normalise

Status = Literal["met", "missed", "unknown"]


@dataclass(frozen=True)
class CriterionResult:
    name: str
    status: Status
    weight: float
    points: float
    detail: str  # e.g. "240 employees, wanted 50–2000"


@dataclass(frozen=True)
class Score:
    value: int  # 0-100
    points: float
    total: float
    breakdown: tuple[CriterionResult, ...]

    @property
    def met(self) -> int:
        return sum(1 for r in self.breakdown if r.status == "met")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").strip())
        except ValueError:
            return None
    return None


def _fmt(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set):
        return list(value)
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    return [value]


def _short(value: Any, limit: int = 60) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evaluate(criterion: Criterion, context: Mapping[str, Any]) -> CriterionResult:
    value = lookup(context, criterion.field)

    def result(status: Status, detail: str) -> CriterionResult:
        points = criterion.weight if status == "met" else 0.0
        return CriterionResult(criterion.name, status, criterion.weight, points, detail)

    if value is MISSING or value is None or value == "" or value == []:
        return result("unknown", f"no {criterion.field}")

    if criterion.between is not None:
        low, high = criterion.between
        number = _number(value)
        if number is None:
            return result("unknown", f"{_short(value)} is not a number")
        wanted = f"wanted {_fmt(low)}–{_fmt(high)}"
        return result("met" if low <= number <= high else "missed", f"{_fmt(number)}, {wanted}")

    if criterion.in_ is not None:
        options = {normalise(v) for v in criterion.in_}
        hit = any(normalise(v) in options for v in _as_list(value))
        return result("met" if hit else "missed", _short(value))

    if criterion.contains_any is not None:
        wanted = {normalise(v) for v in criterion.contains_any}
        found = [v for v in _as_list(value) if normalise(v) in wanted]
        if found:
            return result("met", f"has {_short(found)}")
        return result("missed", f"none of {_short(criterion.contains_any)}")

    assert criterion.not_matches is not None
    text = str(value)
    if criterion.not_matches.search(text):
        return result("missed", f"{_short(text)} matches {criterion.not_matches.pattern}")
    return result("met", _short(text))


def score(criteria: Sequence[Criterion], context: Mapping[str, Any]) -> Score:
    """Score an account; with no ICP configured every account scores 100."""
    results = tuple(evaluate(c, context) for c in criteria)
    total = sum(c.weight for c in criteria)
    points = sum(r.points for r in results)
    # Half rounds up (12.5 -> 13), not to even as round() does.
    value = 100 if total == 0 else math.floor(points * 100 / total + 0.5)
    return Score(value=value, points=points, total=total, breakdown=results)
