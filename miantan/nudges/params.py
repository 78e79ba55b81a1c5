"""The parameters of each kind of rule: their defaults, their labels on HR's page, and their
validation (a whole number in a range, or one of a few choices), refused field by field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.core.errors import InvalidFields
from miantan.metrics.enums import PeriodKind

from .enums import NudgeKind

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class InvalidParams(InvalidFields):
    error_code = "invalid_params"


@dataclass(frozen=True)
class Param:
    name: str
    label: _StrPromise
    default: int | str
    low: int = 0
    high: int = 0
    choices: tuple[tuple[str, Any], ...] = ()
    help_text: _StrPromise | str = ""

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)


DAYS_BEFORE = pgettext_lazy("nudge parameter", "Days before")
PARAMS: dict[str, tuple[Param, ...]] = {
    NudgeKind.PERIOD_END_LOW_KPI: (
        Param(
            "period_kind",
            pgettext_lazy("nudge parameter", "KPI period"),
            PeriodKind.QUARTER.value,
            choices=tuple((str(value), label) for value, label in PeriodKind.choices),
        ),
        Param(
            "days_before",
            pgettext_lazy("nudge parameter", "Days before the period ends"),
            15,
            1,
            90,
        ),
        Param(
            "threshold",
            pgettext_lazy("nudge parameter", "Completion below (%)"),
            80,
            1,
            200,
            help_text=_("A KPI completed below this share of its target counts as behind."),
        ),
    ),
    NudgeKind.REQUEST_WAITING: (
        Param(
            "sla_hours",
            pgettext_lazy("nudge parameter", "Answer expected within (hours)"),
            48,
            1,
            720,
        ),
    ),
    NudgeKind.TALK_TOMORROW: (),
    NudgeKind.ACTION_DUE: (Param("days_before", DAYS_BEFORE, 3, 0, 60),),
    NudgeKind.PLAN_MILESTONE: (Param("days_before", DAYS_BEFORE, 3, 0, 60),),
    NudgeKind.NO_TALK_FOR: (
        Param("weeks", pgettext_lazy("nudge parameter", "Weeks without a talk"), 8, 1, 104),
    ),
    NudgeKind.TRAINING_FINISHED: (
        Param(
            "days",
            pgettext_lazy("nudge parameter", "Training finished within the last (days)"),
            14,
            1,
            90,
        ),
    ),
}


DESCRIPTIONS: dict[str, Promise] = {
    NudgeKind.PERIOD_END_LOW_KPI: _(
        "Some days before a KPI period ends, employees with a KPI completed below the threshold "
        "are invited to ask their manager for a talk, while there is still time to catch up."
    ),
    NudgeKind.REQUEST_WAITING: _(
        "A talk request that waits for its counterpart's answer longer than this reminds the "
        "counterpart once (without this rule the installation's default applies)."
    ),
    NudgeKind.TALK_TOMORROW: _(
        "Both people of a talk booked for tomorrow get a reminder to prepare, with the link to "
        "the data brief (unless a preparation reminder has already been sent)."
    ),
    NudgeKind.ACTION_DUE: _("The owner of an open action item is reminded before it is due."),
    NudgeKind.PLAN_MILESTONE: _(
        "The employee and the manager of an improvement plan in force are reminded before a "
        "milestone is due."
    ),
    NudgeKind.NO_TALK_FOR: _(
        "Managers who have had no talk with a direct report for this long are invited to ask "
        "for one (at most once in each such stretch)."
    ),
    NudgeKind.TRAINING_FINISHED: _(
        "Employees who finished a training are invited to talk about what comes next."
    ),
}


def defaults(kind: str) -> dict[str, int | str]:
    return {param.name: param.default for param in PARAMS[kind]}


def effective(kind: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored parameters over the defaults (a parameter added later takes its default)."""
    return {**defaults(kind), **{k: v for k, v in stored.items() if k in defaults(kind)}}


def clean(kind: str, raw: dict[str, Any]) -> dict[str, int | str]:
    """The parameters of a rule of `kind` from what was sent (strings from a form, numbers from
    JSON); raises InvalidParams with a translated message per parameter. Unknown names are
    refused too, so a typo never passes silently."""
    errors: dict[str, Any] = {}
    cleaned: dict[str, int | str] = {}
    specs = {param.name: param for param in PARAMS[kind]}
    for name in raw:
        if name not in specs:
            errors[name] = _("This rule has no such setting.")
    for name, param in specs.items():
        value = raw.get(name, param.default)
        if param.is_choice:
            allowed = [choice for choice, _label in param.choices]
            if str(value) not in allowed:
                errors[name] = _("Choose one of the options.")
            else:
                cleaned[name] = str(value)
            continue
        number = _whole_number(value)
        if number is None or not param.low <= number <= param.high:
            errors[name] = _("Enter a whole number from %(low)s to %(high)s.") % {
                "low": param.low,
                "high": param.high,
            }
        else:
            cleaned[name] = number
    if errors:
        raise InvalidParams(errors)
    return cleaned


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
