"""Talks as iCalendar (RFC 5545): the invitation mailed to both sides (METHOD REQUEST or
CANCEL) and the subscribed feed of one person's talks (METHOD PUBLISH).

A talk keeps one UID for its whole life and raises SEQUENCE whenever its booked time moves or
it is called off, so calendars update the entry they have instead of adding another. Times
carry the TZID of the zone they are shown in, with its VTIMEZONE in the file.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from miantan.interviews.enums import ENDED_STATES, TalkState
from miantan.interviews.models import Talk
from miantan.people.models import Employee

REQUEST, CANCEL, PUBLISH = "REQUEST", "CANCEL", "PUBLISH"
PRODID = "-//Miantan//Performance talks//EN"
FEED_DAYS_BACK = 90
# A talk in these states has (or had) a time in the calendars. Negotiating keeps the booked
# time of a talk being moved until the new one is accepted.
FEED_STATES = (
    TalkState.SCHEDULED,
    TalkState.NEGOTIATING,
    TalkState.IN_PROGRESS,
    TalkState.AWAITING_SIGNATURES,
    TalkState.ARCHIVED,
    TalkState.CANCELLED,
    TalkState.EXPIRED,
)


def talk_ics(talk: Talk, method: str = REQUEST) -> bytes:
    """The invitation to a booked talk (REQUEST), or its cancellation (CANCEL), worded in
    the organiser's (the counterpart's) language, times in the organiser's time zone."""
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"unknown METHOD {method!r}")
    if talk.scheduled_start is None or talk.scheduled_end is None:
        raise ValueError("the talk has no booked time")
    organiser = talk.counterpart
    calendar = _calendar(method)
    with translation.override(organiser.language):
        cancelled = method == CANCEL or talk.state in ENDED_STATES
        calendar.add_component(
            _event(talk, zone=ZoneInfo(organiser.time_zone), cancelled=cancelled)
        )
    _add_time_zones(calendar, [talk])
    return bytes(calendar.to_ical())


def feed_ics(employee: Employee) -> bytes:
    """The employee's talks with a time, from FEED_DAYS_BACK days ago on, in their language
    and time zone; talks called off after being booked stay in it as CANCELLED. One query."""
    since = timezone.now() - timedelta(days=FEED_DAYS_BACK)
    talks = list(
        Talk.objects.filter(
            Q(employee_id=employee.pk) | Q(counterpart_id=employee.pk),
            state__in=FEED_STATES,
            scheduled_start__isnull=False,
            scheduled_end__gte=since,
        )
        .select_related("employee", "counterpart")
        .order_by("scheduled_start", "pk")
    )
    calendar = _calendar(PUBLISH)
    zone = ZoneInfo(employee.time_zone)
    with translation.override(employee.language):
        calendar.add("x-wr-calname", _("Talks: %(name)s") % {"name": employee.name})
        calendar.add("x-wr-timezone", employee.time_zone)
        for talk in talks:
            cancelled = talk.state in ENDED_STATES
            calendar.add_component(_event(talk, zone=zone, cancelled=cancelled))
    _add_time_zones(calendar, talks)
    return bytes(calendar.to_ical())


def talk_url(talk: Talk) -> str:
    return f"{settings.MIANTAN_BASE_URL}/talks/{talk.pk}/"


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def _event(talk: Talk, *, zone: ZoneInfo, cancelled: bool) -> Event:
    assert talk.scheduled_start is not None and talk.scheduled_end is not None
    event = Event()
    event.add("uid", talk.uid)
    event.add("sequence", talk.sequence)
    event.add("dtstamp", timezone.now().replace(microsecond=0))
    event.add("dtstart", talk.scheduled_start.astimezone(zone))
    event.add("dtend", talk.scheduled_end.astimezone(zone))
    event.add("summary", _summary(talk))
    place = talk.location or talk.online_link
    if place:
        event.add("location", place)
    event.add("url", talk_url(talk))
    event.add("description", _description(talk))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if talk.counterpart.email:
        event.add("organizer", _address(talk.counterpart))
    if talk.employee.email:
        event.add(
            "attendee",
            _address(talk.employee, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
        )
    return event


def _summary(talk: Talk) -> str:
    return _("%(topic)s: %(employee)s and %(counterpart)s") % {
        "topic": talk.get_topic_display(),
        "employee": talk.employee.name,
        "counterpart": talk.counterpart.name,
    }


def _description(talk: Talk) -> str:
    lines = []
    items = [str(item.get("text", "")).strip() for item in talk.agenda or []]
    items = [item for item in items if item]
    if items:
        lines.append(_("Agenda:"))
        lines.extend(f"{number}. {item}" for number, item in enumerate(items, start=1))
        lines.append("")
    if talk.online_link and talk.location:
        lines.append(_("Online meeting: %(link)s") % {"link": talk.online_link})
    lines.append(_("Talk page: %(url)s") % {"url": talk_url(talk)})
    return "\n".join(lines)


def _address(person: Employee, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name)
    for name, value in params.items():
        address.params[name] = vText(value)
    return address


def _add_time_zones(calendar: Calendar, talks: list[Talk]) -> None:
    """One VTIMEZONE per TZID used, covering the talks' years, before the events."""
    starts = [talk.scheduled_start for talk in talks if talk.scheduled_start is not None]
    ends = [talk.scheduled_end for talk in talks if talk.scheduled_end is not None]
    if not starts:
        return
    first_year, last_year = min(starts).year - 1, max(ends).year + 1
    for index, tzid in enumerate(sorted(calendar.get_missing_tzids())):
        calendar.subcomponents.insert(index, _time_zone(tzid, first_year, last_year))


@lru_cache(maxsize=64)
def _time_zone(tzid: str, first_year: int, last_year: int) -> Any:
    # Computing the transitions takes a few milliseconds per zone; the result never changes.
    # Calendars only serialise it, so one shared component is safe.
    return Timezone.from_tzinfo(
        ZoneInfo(tzid),
        tzid=tzid,
        first_date=date(first_year, 1, 1),
        last_date=date(last_year, 1, 1),
    )
