"""Writes of the scheduling app that are not imports of rows: the holiday calendar."""

from __future__ import annotations

from datetime import date
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import InvalidFields
from miantan.people.models import Employee, Organisation
from miantan.people.scopes import scope_for

from .enums import DayKind
from .holidays import (
    FIRST_YEAR,
    LAST_YEAR,
    UnknownHolidayYear,
    calendar_parts,
    file_names,
    parse_calendar_file,
)
from .models import HolidayOverride, HolidayYear
from .rules import can_manage_holidays

MAX_HOLIDAY_NAME = 100


class InvalidHoliday(InvalidFields):
    """A day of the holiday calendar was refused."""

    error_code = "invalid_holiday"


# --- the holiday calendar ---------------------------------------------------------------------


def load_holidays(
    content: Any, *, actor: Any, source: str = "", organisation: Organisation | None = None
) -> dict[int, int]:
    """Load a holiday file (see `holidays` for its format): into the national calendar
    (`manage.py update_holidays`, organisation None), or into one organisation's, by its HR
    for the whole organisation or an administrator (the holiday calendar page).

    Each year in the file replaces that year's days wholly (days entered by hand included),
    so loading the same file twice changes nothing. Raises CalendarFileError, naming every bad
    entry, and then writes nothing. Returns the number of days loaded per year.
    """
    loader = None
    if organisation is not None:
        loader = _ensure_manager(actor, organisation, "scheduling.holidays.loaded")
    calendar = parse_calendar_file(content)
    names = file_names(content)
    counts = {year: 0 for year in sorted(calendar.years)}
    for day in calendar.days:
        counts[day.year] += 1
    now = timezone.now()
    with transaction.atomic():
        _own_days(organisation).filter(date__year__in=list(counts)).delete()
        HolidayOverride.objects.bulk_create(
            HolidayOverride(
                organisation=organisation,
                date=day,
                kind=kind,
                name=names.get(day, ""),
                from_file=True,
                created_by=loader,
            )
            for day, kind in sorted(calendar.days.items())
        )
        for year in counts:
            HolidayYear.objects.update_or_create(
                organisation=organisation,
                year=year,
                defaults={"file_name": source[:200], "loaded_at": now, "loaded_by": loader},
            )
        record(
            "scheduling.holidays.loaded",
            actor=actor,
            object_type="scheduling.holidayoverride",
            organisation_id=organisation.pk if organisation is not None else None,
            data={"source": source[:200], "years": {str(y): n for y, n in counts.items()}},
        )
    return counts


def save_holiday_day(
    organisation: Organisation, *, day: date, kind: str, name: str, actor: Any
) -> HolidayOverride:
    """Set one day of the organisation's calendar by hand: a day off (a company holiday, or an
    official one the sources do not have yet), or an adjusted working day (a weekend that is
    worked, or a weekday the sources call a holiday that is worked after all). It wins over
    every other source and replaces what the organisation had set for that day."""
    author = _ensure_manager(actor, organisation, "scheduling.holiday_day.saved")
    name = (name or "").strip()
    _check_day(organisation, day, kind, name)
    with transaction.atomic():
        previous = _own_days(organisation).filter(date=day).first()
        if previous is None:
            saved = HolidayOverride.objects.create(
                organisation=organisation, date=day, kind=kind, name=name, created_by=author
            )
        else:
            saved = previous
            saved.kind, saved.name, saved.from_file, saved.created_by = kind, name, False, author
            saved.save(update_fields=["kind", "name", "from_file", "created_by", "updated_at"])
        record(
            "scheduling.holiday_day.saved",
            actor=actor,
            obj=saved,
            organisation_id=organisation.pk,
            data={
                "date": day.isoformat(),
                "kind": kind,
                "name": name,
                "replaced": previous.kind if previous is not None else None,
            },
        )
    return saved


def remove_holiday_day(day: HolidayOverride, *, actor: Any) -> None:
    """Take back a day the organisation set: the other sources decide that day again."""
    organisation = day.organisation
    if organisation is None:
        # The national calendar changes only by loading a file.
        _deny("scheduling.holiday_day.removed", actor)
    _ensure_manager(actor, organisation, "scheduling.holiday_day.removed")
    with transaction.atomic():
        record(
            "scheduling.holiday_day.removed",
            actor=actor,
            obj=day,
            organisation_id=organisation.pk,
            data={"date": day.date.isoformat(), "kind": day.kind, "name": day.name},
        )
        day.delete()


def confirm_holiday_year(
    organisation: Organisation, year: int, *, actor: Any, confirmed: bool = True
) -> HolidayYear:
    """Record that the year's official adjusted working days (调休) are in the calendar, as
    the State Council published them, or withdraw that."""
    action = "scheduling.holidays.confirmed" if confirmed else "scheduling.holidays.unconfirmed"
    author = _ensure_manager(actor, organisation, action)
    if not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidHoliday({"year": _year_range()})
    with transaction.atomic():
        entry, _created = HolidayYear.objects.select_for_update().get_or_create(
            organisation=organisation, year=year
        )
        entry.confirmed_at = timezone.now() if confirmed else None
        entry.confirmed_by = author if confirmed else None
        entry.save(update_fields=["confirmed_at", "confirmed_by", "updated_at"])
        record(action, actor=actor, obj=entry, organisation_id=organisation.pk, data={"year": year})
    return entry


def _check_day(organisation: Organisation, day: date, kind: str, name: str) -> None:
    errors: dict[str, Any] = {}
    if kind not in DayKind.values:
        errors["kind"] = _("Choose a day off or an adjusted working day.")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors["date"] = _year_range()
    if not name:
        errors["name"] = _("Give the day a name, such as 春节 or 公司年会.")
    elif len(name) > MAX_HOLIDAY_NAME:
        errors["name"] = _("Keep the name to %(limit)s characters.") % {"limit": MAX_HOLIDAY_NAME}
    # A weekday is an adjusted working day only when it would otherwise be a holiday.
    weekday_worked = not errors and kind == DayKind.WORKING_DAY and day.weekday() < 5
    if weekday_worked and _underlying_kind(organisation, day) != DayKind.HOLIDAY:
        errors["date"] = _(
            "%(date)s is a weekday that is worked anyway. An adjusted working day is a "
            "weekend day that is worked, or a holiday that is worked after all."
        ) % {"date": day.isoformat()}
    if errors:
        raise InvalidHoliday(errors)


def _underlying_kind(organisation: Organisation, day: date) -> str | None:
    """What the day is without the organisation's own setting for it."""
    base, _own = calendar_parts(organisation.pk)
    try:
        return base.day_kind(day)
    except UnknownHolidayYear:
        return None


def _own_days(organisation: Organisation | None) -> Any:
    if organisation is None:
        return HolidayOverride.objects.filter(organisation__isnull=True)
    return HolidayOverride.objects.filter(organisation=organisation)


def _year_range() -> Any:
    return _("Choose a year from %(first)s to %(last)s.") % {"first": FIRST_YEAR, "last": LAST_YEAR}


def _ensure_manager(actor: Any, organisation: Organisation, action: str) -> Employee:
    """The acting employee, if they may change this organisation's holiday calendar; else the
    refusal is audited and PermissionDenied raised."""
    own = scope_for(actor).employee
    if (
        own is None
        or not own.is_active
        or own.organisation_id != organisation.pk
        or not can_manage_holidays.test(actor)
    ):
        _deny(action, actor)
    return own


def _deny(action: str, actor: Any) -> NoReturn:
    own = scope_for(actor).employee
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        object_type="scheduling.holidayoverride",
        organisation_id=own.organisation_id if own is not None else None,
    )
    raise PermissionDenied
