"""Reporting periods: finding the month, quarter or year that contains a day, and reading the
many ways people write a period in a spreadsheet ("2026-11", "2026年11月", "2026Q4", "2026年")."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from django.db import IntegrityError, transaction

from miantan.people.models import Organisation

from .enums import PeriodKind
from .models import Period


class PeriodLabelError(ValueError):
    """The text is not a period this module can read."""


_QUARTER_DIGITS = {"1": 1, "2": 2, "3": 3, "4": 4, "一": 1, "二": 2, "三": 3, "四": 4}

_MONTH = re.compile(r"(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*月?|(\d{4})(\d{2})")
_QUARTER = re.compile(r"(\d{4})\s*[-/ ]?\s*(?:年\s*)?(?:[Qq]|第)\s*([1-4一二三四])\s*(?:季度?)?")
_YEAR = re.compile(r"(\d{4})\s*年?(?:度)?")


def bounds(kind: str, start: date) -> tuple[date, date, str]:
    """Start, end (exclusive) and label of the period of `kind` beginning on `start`."""
    if kind == PeriodKind.MONTH:
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return start, end, f"{start.year}-{start.month:02d}"
    if kind == PeriodKind.QUARTER:
        quarter = (start.month - 1) // 3 + 1
        end = date(start.year + quarter // 4, (quarter % 4) * 3 + 1, 1)
        return start, end, f"{start.year}-Q{quarter}"
    return start, date(start.year + 1, 1, 1), str(start.year)


def start_of(kind: str, day: date) -> date:
    """First day of the month, quarter or year containing `day`."""
    if kind == PeriodKind.MONTH:
        return day.replace(day=1)
    if kind == PeriodKind.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def period_for(organisation: Organisation, kind: str, day: date) -> Period:
    """The organisation's period of `kind` containing `day`, created when it does not exist."""
    start, end, label = bounds(kind, start_of(kind, day))
    defaults = {"end": end, "label": label}
    try:
        with transaction.atomic():
            period, _created = Period.objects.get_or_create(
                organisation=organisation, kind=kind, start=start, defaults=defaults
            )
    except IntegrityError:
        # Another request created it between our read and our insert.
        period = Period.objects.get(organisation=organisation, kind=kind, start=start)
    return period


def parse_period_label(text: str) -> tuple[str, date]:
    """Read a period written by a person: (kind, first day).

    Accepts "2026-11", "2026/11", "2026.11", "202611", "2026年11月", "2026-Q4", "2026Q4",
    "2026年第4季度", "2026年第四季度", "2026", "2026年", with full-width digits and spaces.
    Raises PeriodLabelError for anything else.
    """
    clean = unicodedata.normalize("NFKC", text).strip()
    if match := _QUARTER.fullmatch(clean):
        quarter = _QUARTER_DIGITS[match.group(2)]
        return PeriodKind.QUARTER, date(int(match.group(1)), quarter * 3 - 2, 1)
    if match := _MONTH.fullmatch(clean):
        year, month = match.group(1) or match.group(3), match.group(2) or match.group(4)
        if 1 <= int(month) <= 12:
            return PeriodKind.MONTH, date(int(year), int(month), 1)
    elif match := _YEAR.fullmatch(clean):
        return PeriodKind.YEAR, date(int(match.group(1)), 1, 1)
    raise PeriodLabelError(text)
