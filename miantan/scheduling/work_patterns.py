"""Writes of an organisation's patterns of work: its shift codes and its default working hours,
and setting up a new organisation with its hours.

Each function is one audited transaction and decides itself who may call it
(`rules.can_manage_work_patterns`; a new organisation is for installation administrators).
`actor` None is the command line. Bad input raises `WorkPatternError` naming each field, and
nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from itertools import pairwise
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import ConflictError, InvalidFields
from miantan.core.text import normalise
from miantan.people.models import Organisation
from miantan.people.org_file import header_key
from miantan.people.services import (
    OrganisationError,
    create_organisation,
    ensure_installation_admin,
    organisation_problems,
)

from .availability import DEFAULT_WORKING_HOURS
from .enums import ShiftKind
from .models import ShiftCode, WorkingHours
from .rules import can_manage_work_patterns

HoursByWeekday = Mapping[int, Sequence[tuple[time, time]]]
# More stretches than this in one day is a typing mistake, not a working day.
MAX_STRETCHES_PER_DAY = 4

__all__ = [
    "MAX_STRETCHES_PER_DAY",
    "WorkPatternError",
    "create_shift_code",
    "default_hours_of",
    "reinstate_shift_code",
    "retire_shift_code",
    "set_default_working_hours",
    "set_up_organisation",
    "shift_code_problems",
    "update_shift_code",
    "working_hours_problems",
]


class WorkPatternError(InvalidFields):
    """A shift code or working hours were refused; `errors` maps each field to its problem."""

    error_code = "invalid_work_pattern"


# --- working hours ---------------------------------------------------------------------------


def working_hours_problems(hours: HoursByWeekday) -> dict[str, Any]:
    """What is wrong with a week of working hours, by weekday (`day0` is Monday); empty when
    nothing. Each stretch ends after it starts on the same day; stretches do not overlap."""
    problems: dict[str, Any] = {}
    for weekday, stretches in sorted(hours.items()):
        if weekday not in range(7):
            problems["hours"] = _("A weekday is a number from 0 (Monday) to 6 (Sunday).")
            continue
        problem = _day_problem(weekday, sorted(stretches))
        if problem:
            problems[f"day{weekday}"] = problem
    if not problems and not any(hours.values()):
        problems["hours"] = _("At least one weekday needs working hours.")
    return problems


def _day_problem(weekday: int, stretches: list[tuple[time, time]]) -> str:
    day = WEEKDAYS[weekday]
    if len(stretches) > MAX_STRETCHES_PER_DAY:
        message = _("%(day)s: at most %(count)s stretches of working time a day.")
        return message % {"day": day, "count": MAX_STRETCHES_PER_DAY}
    for begins, ends in stretches:
        if ends <= begins:
            message = _(
                "%(day)s: %(start)s–%(end)s ends before it starts; working hours end on the "
                "day they start."
            )
            return message % {"day": day, "start": _hhmm(begins), "end": _hhmm(ends)}
    for (first_start, first_end), (second_start, second_end) in pairwise(stretches):
        if second_start < first_end:
            message = _("%(day)s: %(first)s and %(second)s overlap.")
            return message % {
                "day": day,
                "first": f"{_hhmm(first_start)}–{_hhmm(first_end)}",
                "second": f"{_hhmm(second_start)}–{_hhmm(second_end)}",
            }
    return ""


def default_hours_of(organisation: Organisation) -> dict[int, list[tuple[time, time]]]:
    """The organisation's own default working hours by weekday (one query); empty when it has
    none, and availability then uses `DEFAULT_WORKING_HOURS`."""
    rows = WorkingHours.objects.filter(
        organisation=organisation, employee__isnull=True
    ).values_list("weekday", "start", "end")
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday, begins, ends in sorted(rows):
        hours.setdefault(weekday, []).append((begins, ends))
    return hours


def set_default_working_hours(
    organisation: Organisation, *, hours: HoursByWeekday, actor: Any
) -> bool:
    """Make the organisation's default working hours exactly `hours` (weekday → stretches).
    Employees with hours of their own keep them. Returns whether anything changed."""
    _ensure_may_manage(actor, organisation, "scheduling.working_hours.changed")
    problems = working_hours_problems(hours)
    if problems:
        raise WorkPatternError(problems)
    with transaction.atomic():
        return _replace_default_hours(organisation, hours, actor=actor)


def _replace_default_hours(
    organisation: Organisation, hours: HoursByWeekday, *, actor: Any
) -> bool:
    wanted = {day: sorted(stretches) for day, stretches in hours.items() if stretches}
    before = default_hours_of(organisation)
    if before == wanted:
        return False
    WorkingHours.objects.filter(organisation=organisation, employee__isnull=True).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(organisation=organisation, weekday=day, start=begins, end=ends)
        for day, stretches in sorted(wanted.items())
        for begins, ends in stretches
    )
    record(
        "scheduling.working_hours.changed",
        actor=actor,
        obj=organisation,
        organisation_id=organisation.pk,
        data={"from": _describe_hours(before), "to": _describe_hours(wanted)},
    )
    return True


def _describe_hours(hours: Mapping[int, Sequence[tuple[time, time]]]) -> dict[str, list[str]]:
    return {
        str(day): [f"{_hhmm(a)}-{_hhmm(b)}" for a, b in stretches]
        for day, stretches in sorted(hours.items())
    }


# --- a new organisation ----------------------------------------------------------------------


def set_up_organisation(
    *,
    slug: str,
    name: str,
    name_en: str = "",
    time_zone: str,
    root_code: str = "",
    root_name: str = "",
    root_name_en: str = "",
    hours: HoursByWeekday | None = None,
    actor: Any,
) -> Organisation:
    """A new organisation with its root department and default working hours, in one
    transaction (`people.services.create_organisation` does the first two).

    For installation administrators and the command line. Every bad field is named at once
    (OrganisationError): a taken short name, an unknown time zone, hours that end before they
    start. Without `hours` the organisation gets 09:00–12:00 and 13:00–18:00 on weekdays.
    """
    ensure_installation_admin(actor, "people.organisation.created")
    hours = DEFAULT_WORKING_HOURS if hours is None else hours
    problems = {
        **organisation_problems(
            slug=normalise(slug).lower(),
            name=normalise(name),
            name_en=normalise(name_en),
            time_zone=normalise(time_zone),
            root_code=normalise(root_code),
        ),
        **working_hours_problems(hours),
    }
    if problems:
        raise OrganisationError(problems)
    with transaction.atomic():
        organisation = create_organisation(
            slug=slug,
            name=name,
            name_en=name_en,
            time_zone=time_zone,
            root_code=root_code,
            root_name=root_name,
            root_name_en=root_name_en,
            actor=actor,
        )
        _replace_default_hours(organisation, hours, actor=actor)
    return organisation


# --- shift codes -----------------------------------------------------------------------------


def shift_code_problems(
    organisation: Organisation,
    *,
    code: str,
    name: str,
    name_en: str,
    start: time,
    end: time,
    kind: str,
    overnight: bool | None = None,
    exclude: ShiftCode | None = None,
) -> dict[str, Any]:
    """What is wrong with a shift code's fields, by field; empty when nothing.

    A shift ends the next day exactly when its end is at or before its start; `overnight`,
    when given, must say the same (it catches 20:00–08:00 typed for 08:00–20:00). The code and
    both names must name no other shift of the organisation, retired ones included: a roster
    file may use any of them.
    """
    problems: dict[str, Any] = {}
    if not code:
        problems["code"] = _("The code is required.")
    elif len(code) > 20:
        problems["code"] = _("A shift code has at most 20 characters.")
    for field, value in (("name", name), ("name_en", name_en)):
        if len(value) > 100:
            problems[field] = _("A name has at most 100 characters.")
    if kind not in ShiftKind.values:
        problems["kind"] = _("Choose what the shift means for talks.")
    crosses = end <= start
    if overnight is not None and overnight != crosses:
        problems["overnight"] = _overnight_problem(start, end, crosses)
    if not problems:
        problems.update(_clashes(organisation, code, name, name_en, exclude))
    return problems


def _overnight_problem(start: time, end: time, crosses: bool) -> str:
    times = {"start": _hhmm(start), "end": _hhmm(end)}
    if crosses:
        return (
            _(
                "%(start)s–%(end)s ends the next day (its end is at or before its start). Choose "
                "“next day”, or correct the times."
            )
            % times
        )
    return (
        _(
            "%(start)s–%(end)s ends on the day it starts. A shift that ends the next day ends at "
            "or before its start, such as 20:00–08:00."
        )
        % times
    )


def _clashes(
    organisation: Organisation, code: str, name: str, name_en: str, exclude: ShiftCode | None
) -> dict[str, Any]:
    others = ShiftCode.objects.filter(organisation=organisation)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    taken: dict[str, str] = {}
    for other_code, other_name, other_name_en in others.values_list("code", "name", "name_en"):
        for value in (other_code, other_name, other_name_en):
            if value:
                taken.setdefault(header_key(value), other_code)
    problems: dict[str, Any] = {}
    for field, value in (("code", code), ("name", name), ("name_en", name_en)):
        other = taken.get(header_key(value)) if value else None
        if other is not None:
            message = _(
                "“%(value)s” already names the shift %(other)s; a roster must name one shift "
                "unambiguously."
            )
            problems[field] = message % {"value": value, "other": other}
    return problems


def create_shift_code(
    organisation: Organisation,
    *,
    code: str,
    name: str = "",
    name_en: str = "",
    start: time,
    end: time,
    kind: str,
    overnight: bool | None = None,
    actor: Any,
) -> ShiftCode:
    """A new shift code that rosters of the organisation may use from now on."""
    _ensure_may_manage(actor, organisation, "scheduling.shift_code.created")
    fields = _clean(code=code, name=name, name_en=name_en, start=start, end=end, kind=kind)
    problems = shift_code_problems(organisation, overnight=overnight, **fields)
    if problems:
        raise WorkPatternError(problems)
    try:
        with transaction.atomic():
            shift_code = ShiftCode.objects.create(organisation=organisation, **fields)
            record(
                "scheduling.shift_code.created",
                actor=actor,
                obj=shift_code,
                organisation_id=organisation.pk,
                data=_describe_shift(shift_code),
            )
    except IntegrityError:
        # The same code was created by someone else between the check and the insert.
        raise WorkPatternError({"code": _code_taken(fields["code"])}) from None
    return shift_code


def update_shift_code(
    shift_code: ShiftCode,
    *,
    code: str,
    name: str = "",
    name_en: str = "",
    start: time,
    end: time,
    kind: str,
    overnight: bool | None = None,
    actor: Any,
) -> ShiftCode:
    """Change a shift code. Roster entries refer to the code, not copy it: a change of times or
    kind applies to every entry with it, those already imported included."""
    organisation = shift_code.organisation
    _ensure_may_manage(actor, organisation, "scheduling.shift_code.updated", obj=shift_code)
    fields = _clean(code=code, name=name, name_en=name_en, start=start, end=end, kind=kind)
    problems = shift_code_problems(organisation, overnight=overnight, exclude=shift_code, **fields)
    if problems:
        raise WorkPatternError(problems)
    changes = {
        field: [_plain(getattr(shift_code, field)), _plain(value)]
        for field, value in fields.items()
        if getattr(shift_code, field) != value
    }
    if not changes:
        return shift_code
    try:
        with transaction.atomic():
            for field, value in fields.items():
                setattr(shift_code, field, value)
            shift_code.save(update_fields=[*changes, "updated_at"])
            record(
                "scheduling.shift_code.updated",
                actor=actor,
                obj=shift_code,
                organisation_id=organisation.pk,
                data={"changes": changes},
            )
    except IntegrityError:
        shift_code.refresh_from_db()
        raise WorkPatternError({"code": _code_taken(fields["code"])}) from None
    return shift_code


def retire_shift_code(shift_code: ShiftCode, *, actor: Any) -> ShiftCode:
    """New rosters may no longer use the code; roster entries that have it keep it, so past and
    already planned shifts still count."""
    return _set_retired(shift_code, retired=True, actor=actor)


def reinstate_shift_code(shift_code: ShiftCode, *, actor: Any) -> ShiftCode:
    return _set_retired(shift_code, retired=False, actor=actor)


def _set_retired(shift_code: ShiftCode, *, retired: bool, actor: Any) -> ShiftCode:
    action = "scheduling.shift_code.retired" if retired else "scheduling.shift_code.reinstated"
    _ensure_may_manage(actor, shift_code.organisation, action, obj=shift_code)
    with transaction.atomic():
        locked = ShiftCode.objects.select_for_update().get(pk=shift_code.pk)
        if locked.is_retired == retired:
            message = (
                _("The shift code %(code)s is already retired.")
                if retired
                else _("The shift code %(code)s is not retired.")
            )
            raise ConflictError(message % {"code": locked.code})
        shift_code.retired_at = timezone.now() if retired else None
        shift_code.save(update_fields=["retired_at", "updated_at"])
        record(action, actor=actor, obj=shift_code, organisation_id=shift_code.organisation_id)
    return shift_code


def _clean(**fields: Any) -> dict[str, Any]:
    """Text as the roster import reads it (full-width folded, spaces trimmed); times to the
    minute, as rosters and pages show them."""
    for field in ("code", "name", "name_en"):
        fields[field] = normalise(fields[field])
    for field in ("start", "end"):
        fields[field] = fields[field].replace(second=0, microsecond=0)
    return fields


def _describe_shift(shift_code: ShiftCode) -> dict[str, Any]:
    return {
        "code": shift_code.code,
        "name": shift_code.name,
        "name_en": shift_code.name_en,
        "start": _hhmm(shift_code.start),
        "end": _hhmm(shift_code.end),
        "kind": shift_code.kind,
    }


def _plain(value: Any) -> Any:
    return _hhmm(value) if isinstance(value, time) else value


def _code_taken(code: str) -> str:
    return _("The organisation already has a shift code %(code)s.") % {"code": code}


def _hhmm(moment: time) -> str:
    return f"{moment:%H:%M}"


def _ensure_may_manage(
    actor: Any, organisation: Organisation, action: str, *, obj: Any = None
) -> None:
    """PermissionDenied (audited) unless the actor may change the organisation's patterns."""
    if actor is None or can_manage_work_patterns.test(actor, organisation):
        return
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj if obj is not None else organisation,
        organisation_id=organisation.pk,
    )
    raise PermissionDenied
