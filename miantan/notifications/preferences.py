"""What each person chose, and when a message may reach them.

A message on a push channel (mail, group robots, webhooks) that is not urgent waits while its
recipient is quiet:
- in their own quiet hours (by default 22:00–07:00), in their own time zone;
- for 8 hours after a night shift (or an on-call shift that ran overnight) on their roster
  ends: a nurse who came off duty at 08:00 hears nothing until 16:00 (her rest), unless she
  switched that off.
The in-app inbox is never held: it makes no sound. A digest collects the messages that are
not urgent into one mail (or one post) a day, at the time the person chose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from miantan.people.models import Employee
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.models import RosterEntry

from .enums import DEFAULT_CHANNELS, Channel
from .models import Preference

REST_AFTER_NIGHT = timedelta(hours=8)


def defaults(employee: Employee) -> Preference:
    """What someone who never chose gets: mail and inbox, the installation's default quiet
    hours (MIANTAN_DEFAULT_QUIET_HOURS, "22:00-07:00" unless set), rest after night shifts."""
    quiet_from, quiet_until = default_quiet_hours()
    return Preference(
        employee=employee,
        channels=[str(c) for c in DEFAULT_CHANNELS],
        quiet_from=quiet_from,
        quiet_until=quiet_until,
    )


def default_quiet_hours() -> tuple[time | None, time | None]:
    text = str(getattr(settings, "MIANTAN_DEFAULT_QUIET_HOURS", "") or "").strip()
    if not text:
        return None, None
    start, _sep, end = text.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def preference_of(employee: Employee) -> Preference:
    found = Preference.objects.filter(employee=employee).first()
    return found or defaults(employee)


def preferences_of(employees: Iterable[Employee]) -> dict[int, Preference]:
    people = {employee.pk: employee for employee in employees}
    found = {p.employee_id: p for p in Preference.objects.filter(employee_id__in=list(people))}
    return {pk: found.get(pk) or defaults(employee) for pk, employee in people.items()}


def chosen_channels(preference: Preference) -> list[str]:
    """The channels chosen, the inbox always among them (it is the product itself)."""
    valid = {choice.value for choice in Channel}
    chosen = [channel for channel in preference.channels if channel in valid]
    if Channel.INBOX not in chosen:
        chosen.append(Channel.INBOX)
    return chosen


def next_digest(preference: Preference, zone: str, after: datetime) -> datetime:
    """The first digest time at or after `after`, in the person's time zone."""
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    at = datetime.combine(local.date(), preference.digest_at, tzinfo=tz)
    if at < local:
        at = datetime.combine(local.date() + timedelta(days=1), preference.digest_at, tzinfo=tz)
    return at


def quiet_until(
    preference: Preference, zone: str, night_ends: Sequence[datetime], now: datetime
) -> datetime | None:
    """When the person stops being quiet, or None if a message may reach them now."""
    moment = now
    for _ in range(4):  # a quiet time may end inside another one: follow them
        end = _quiet_end(preference, zone, night_ends, moment)
        if end is None:
            break
        moment = end
    return moment if moment != now else None


def _quiet_end(
    preference: Preference, zone: str, night_ends: Sequence[datetime], moment: datetime
) -> datetime | None:
    ends = []
    if preference.rest_after_night:
        ends += [
            end + REST_AFTER_NIGHT for end in night_ends if end <= moment < end + REST_AFTER_NIGHT
        ]
    hours = _in_quiet_hours(preference, ZoneInfo(zone), moment)
    if hours is not None:
        ends.append(hours)
    return max(ends) if ends else None


def _in_quiet_hours(preference: Preference, tz: ZoneInfo, moment: datetime) -> datetime | None:
    start, end = preference.quiet_from, preference.quiet_until
    if start is None or end is None or start == end:
        return None
    local = moment.astimezone(tz)
    clock = local.time()
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # crosses midnight: 22:00–07:00
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz)


def night_ends_of(employees: Iterable[Employee], now: datetime) -> Mapping[int, list[datetime]]:
    """Ends of the night shifts (and overnight on-call shifts) of these people that ended in
    the rest time before `now` or end soon after it. One query."""
    people = {employee.pk: employee for employee in employees}
    if not people:
        return {}
    today = now.date()
    entries = (
        RosterEntry.objects.filter(
            employee_id__in=list(people),
            date__gte=today - timedelta(days=2),
            date__lte=today + timedelta(days=1),
            shift_code__kind__in=[ShiftKind.NIGHT, ShiftKind.ON_CALL],
        )
        .select_related("shift_code")
        .only("employee_id", "date", "shift_code__start", "shift_code__end", "shift_code__kind")
    )
    ends: dict[int, list[datetime]] = defaultdict(list)
    for entry in entries:
        code = entry.shift_code
        if code.kind == ShiftKind.ON_CALL and not code.crosses_midnight:
            continue
        tz = ZoneInfo(people[entry.employee_id].time_zone)
        ends[entry.employee_id].append(_shift_end(entry.date, code.start, code.end, tz))
    return ends


def _shift_end(day: date, start: time, end: time, tz: ZoneInfo) -> datetime:
    end_day = day + timedelta(days=1) if end <= start else day
    return datetime.combine(end_day, end, tzinfo=tz)
