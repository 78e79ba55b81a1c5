"""Busy time from people's own calendars: an ICS file they upload or a calendar feed URL
(PRODUCT.md A6). Only the times are kept, never titles, places or attendees.

An import replaces the person's blocks of that source in the window it covers (from a day
back to `HORIZON_DAYS` ahead), so importing the same calendar again changes nothing and an
event deleted in the calendar disappears here. Recurring events are expanded; free
(TRANSP:TRANSPARENT) and cancelled events are skipped; all-day events block the whole day in
the person's time zone. A file that cannot be read changes nothing.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.audit.services import record
from miantan.core.errors import DomainError
from miantan.people.models import Employee
from miantan.people.rules import is_self

from .enums import BusySource
from .models import BusyBlock

HORIZON_DAYS = 90
MAX_BYTES = 5 * 1024 * 1024
MAX_EVENTS = 5000
FETCH_TIMEOUT_SECONDS = 10


class CalendarImportError(DomainError):
    pass


@dataclass(frozen=True)
class BusyImport:
    created: int
    removed: int
    skipped: int

    @property
    def changed(self) -> bool:
        return bool(self.created or self.removed)


def import_busy_ics(
    employee: Employee,
    content: bytes,
    *,
    actor: Any,
    source: str = BusySource.ICS,
    now: datetime | None = None,
) -> BusyImport:
    """Replace the employee's busy blocks of `source` in the import window by the events of
    the ICS `content`. Raises CalendarImportError (nothing changed) for a file that is not a
    calendar, too big, or has too many events. Only the person themself imports their busy
    time (PermissionDenied; no actor: the command line)."""
    if actor is not None and not is_self.test(actor, employee):
        raise PermissionDenied
    if len(content) > MAX_BYTES:
        raise CalendarImportError(
            _("The calendar file is larger than %(limit)s MB.") % {"limit": MAX_BYTES // 2**20}
        )
    now = now or timezone.now()
    start, end = now - timedelta(days=1), now + timedelta(days=HORIZON_DAYS)
    spans, skipped = _busy_spans(content, ZoneInfo(employee.time_zone), start, end)
    with transaction.atomic():
        existing = BusyBlock.objects.filter(
            employee=employee, source=source, start__lt=end, end__gt=start
        )
        old = set(existing.values_list("uid", "start", "end"))
        new = {(uid, a, b) for uid, a, b in spans}
        removed = old - new
        added = new - old
        if removed:
            stale = [uid for uid, _a, _b in removed]
            existing.filter(uid__in=stale).delete()
        BusyBlock.objects.bulk_create(
            BusyBlock(
                organisation_id=employee.organisation_id,
                employee=employee,
                source=source,
                uid=uid,
                start=a,
                end=b,
            )
            for uid, a, b in sorted(added)
        )
        result = BusyImport(created=len(added), removed=len(removed), skipped=skipped)
        record(
            "scheduling.busy_blocks.imported",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={
                "source": str(source),
                "created": result.created,
                "removed": result.removed,
                "skipped": skipped,
            },
        )
    return result


def fetch_feed(url: str, *, timeout: float = FETCH_TIMEOUT_SECONDS) -> bytes:
    """The body of a calendar feed URL (http, https or webcal), at most MAX_BYTES."""
    parsed = urlparse(url.strip())
    scheme = parsed.scheme.lower()
    if scheme == "webcal":
        url = "https" + url.strip()[len("webcal") :]
    elif scheme not in ("http", "https") or not parsed.netloc:
        raise CalendarImportError(
            _("Enter a calendar link that starts with https:// or webcal://.")
        )
    # The scheme is checked above: only http(s) is opened.
    request = urllib.request.Request(url, headers={"User-Agent": "Miantan calendar import"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read(MAX_BYTES + 1)
    except OSError as error:
        raise CalendarImportError(
            _("The calendar link could not be read (%(error)s).") % {"error": str(error)[:120]}
        ) from error
    if len(body) > MAX_BYTES:
        raise CalendarImportError(
            _("The calendar file is larger than %(limit)s MB.") % {"limit": MAX_BYTES // 2**20}
        )
    return body


def import_busy_feed(employee: Employee, url: str, *, actor: Any) -> BusyImport:
    return import_busy_ics(employee, fetch_feed(url), actor=actor, source=BusySource.FEED)


def _busy_spans(
    content: bytes, zone: ZoneInfo, start: datetime, end: datetime
) -> tuple[set[tuple[str, datetime, datetime]], int]:
    try:
        calendar = icalendar.Calendar.from_ical(content)
        events = recurring_ical_events.of(calendar).between(start, end)
    # Any parser error means "not a calendar".
    except Exception as error:
        raise CalendarImportError(
            _("The file is not a calendar (ICS) file: %(error)s") % {"error": str(error)[:120]}
        ) from error
    spans: set[tuple[str, datetime, datetime]] = set()
    skipped = 0
    for index, event in enumerate(events):
        if index >= MAX_EVENTS:
            raise CalendarImportError(
                _("The calendar has more than %(limit)s events in the next %(days)s days.")
                % {"limit": MAX_EVENTS, "days": HORIZON_DAYS}
            )
        transparent = str(event.get("TRANSP", "")).upper() == "TRANSPARENT"
        cancelled = str(event.get("STATUS", "")).upper() == "CANCELLED"
        begins, ends = _moment(event.get("DTSTART"), zone), _moment(event.get("DTEND"), zone)
        if begins is not None and ends is None:
            ends = begins + _duration(event)
        if transparent or cancelled or begins is None or ends is None or ends <= begins:
            skipped += 1
            continue
        uid = str(event.get("UID", "")) or f"event-{index}"
        spans.add((f"{uid}@{begins.isoformat()}"[:255], begins, ends))
    return spans, skipped


def _moment(prop: Any, zone: ZoneInfo) -> datetime | None:
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    return None


def _duration(event: Any) -> timedelta:
    duration = event.get("DURATION")
    if duration is not None:
        return duration.dt
    start = event.get("DTSTART").dt
    # An all-day event without an end lasts its day; a timed one without an end, no time.
    return timedelta(days=1) if not isinstance(start, datetime) else timedelta()
