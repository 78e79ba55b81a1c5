"""Writes of the scheduling app that are not imports of rows: the holiday calendar."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from miantan.audit.services import record

from .holidays import parse_calendar_file
from .models import HolidayOverride


def load_holidays(content: Any, *, actor: Any, source: str = "") -> dict[int, int]:
    """Load a holiday file (see `holidays` for its format) into the national overrides.

    Each year in the file replaces that year's overrides wholly, so loading the same file
    twice changes nothing. Raises CalendarFileError, naming every bad entry, and then writes
    nothing. Returns the number of days loaded per year.
    """
    calendar = parse_calendar_file(content)
    counts = {year: 0 for year in sorted(calendar.years)}
    for day in calendar.days:
        counts[day.year] += 1
    with transaction.atomic():
        HolidayOverride.objects.filter(
            organisation__isnull=True, date__year__in=list(counts)
        ).delete()
        HolidayOverride.objects.bulk_create(
            HolidayOverride(organisation=None, date=day, kind=kind)
            for day, kind in sorted(calendar.days.items())
        )
        record(
            "scheduling.holidays.loaded",
            actor=actor,
            object_type="scheduling.holidayoverride",
            data={"source": source[:200], "years": {str(y): n for y, n in counts.items()}},
        )
    return counts
