"""Progress and effect in numbers and words (PRODUCT.md E3, E4).

Definitions:
- **Progress %** of a target is how much of the way from its baseline to its goal a value has
  come: (value − baseline) / (goal − baseline) × 100, whichever the direction (a complaint
  rate from 20 to 10 at 17 is 30 % of the way). It may be negative (worse than the baseline)
  or above 100 (beyond the goal). A goal equal to its baseline has no way to go: 100 % when the
  value is at least as good, else 0 %.
- **Elapsed %** is the share of the plan's days passed on a day, 0–100.
- A check-in is **behind** when its mean progress is below the elapsed share.
- **Effect**: progress ≥ MIANTAN_PLAN_EFFECTIVE_PERCENT (100 by default) is effective,
  ≥ MIANTAN_PLAN_PARTLY_EFFECTIVE_PERCENT (50) partly effective, anything less not effective.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.utils.translation import gettext as _

from miantan.metrics.enums import Direction

from .enums import Effect


def progress_percent(baseline: float, goal: float, value: float, direction: str) -> float:
    if goal == baseline:
        better = value <= goal if direction == Direction.LOWER else value >= goal
        return 100.0 if better else 0.0
    return round((value - baseline) / (goal - baseline) * 100, 1)


def elapsed_percent(starts_on: date, ends_on: date, day: date) -> float:
    total = (ends_on - starts_on).days
    if total <= 0:
        return 100.0
    return round(min(max((day - starts_on).days / total, 0.0), 1.0) * 100, 1)


def thresholds() -> tuple[float, float]:
    return (
        float(getattr(settings, "MIANTAN_PLAN_EFFECTIVE_PERCENT", 100)),
        float(getattr(settings, "MIANTAN_PLAN_PARTLY_EFFECTIVE_PERCENT", 50)),
    )


def effect_of(percent: float | None) -> str:
    if percent is None:
        return Effect.NO_DATA
    effective, partly = thresholds()
    if percent >= effective:
        return Effect.EFFECTIVE
    if percent >= partly:
        return Effect.PARTLY
    return Effect.NOT_EFFECTIVE


def number(value: float | None, decimals: int = 1) -> str:
    """Rounded, without trailing zeros: 20.0 → "20", 2.50 → "2.5"."""
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def with_unit(value: float | None, unit: str, decimals: int = 1) -> str:
    text = number(value, decimals)
    if value is None or not unit:
        return text
    return f"{text}{unit}" if unit in ("%", "‰") else f"{text} {unit}"


def progress_text(
    label: str, baseline: float, goal: float, value: float, unit: str, direction: str
) -> str:
    """ "客户投诉率 down 3%, 7% to go (20% → 17%, 30 % of the way)"."""
    percent = progress_percent(baseline, goal, value, direction)
    change = value - baseline
    values = {
        "kpi": label,
        "change": with_unit(abs(change), unit),
        "left": with_unit(abs(goal - value), unit),
        "baseline": with_unit(baseline, unit),
        "value": with_unit(value, unit),
        "percent": number(percent),
    }
    if percent >= 100:
        return _("%(kpi)s reached its goal (%(baseline)s → %(value)s).") % values
    if change == 0:
        return (
            _("%(kpi)s unchanged at %(value)s, %(left)s to go (%(percent)s %% of the way).")
            % values
        )
    if change < 0:
        text = _(
            "%(kpi)s down %(change)s, %(left)s to go (%(baseline)s → %(value)s, "
            "%(percent)s %% of the way)."
        )
    else:
        text = _(
            "%(kpi)s up %(change)s, %(left)s to go (%(baseline)s → %(value)s, "
            "%(percent)s %% of the way)."
        )
    return text % values
