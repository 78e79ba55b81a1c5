"""Finding the best common slots for a talk, with the reasons for their rank.

`find_slots` takes the participants' availability (loaded once, see `availability`), applies
the hard constraints by removing time from each person's free intervals, intersects them, and
ranks the candidate starts by the soft preferences.

It never walks the window minute by minute. Every soft preference is a set of "start ranges"
worth some points (a start between 08:00 and 10:00 − duration; a start on someone's surgery
day), so the score is constant between their boundaries except for the "earliest" term, which
falls with time. Within such a piece the earliest starts on the step grid are the best, so
only the first few of each piece are scored. Two people over 28 days make a few hundred
pieces at most.

All arithmetic is on seconds since the epoch; the step grid is aligned to the epoch (a 15-minute
grid is a quarter-hour grid in every time zone with a whole-quarter-hour offset).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from . import intervals
from .availability import Availability

Seconds = tuple[int, int]
_DAY = timedelta(days=1)

__all__ = [
    "HardConstraints",
    "RankedSlot",
    "Reason",
    "SoftPreferences",
    "TimeOfDay",
    "find_slots",
]


@dataclass(frozen=True)
class HardConstraints:
    """What a slot must satisfy. Every participant must be free for all of it in any case."""

    within_working_hours: bool = True
    # No talk on a date with a night or on-call shift (the date the shift starts on).
    avoid_duty_days: bool = False
    # No talk in this time after a night shift (or an overnight on-call shift) ends.
    rest_after_night: timedelta = timedelta(hours=8)
    # Free time kept before and after each existing talk.
    buffer: timedelta = timedelta()
    # At most this many talks a day for the managers (all participants if none is named).
    max_talks_per_day: int | None = None


@dataclass(frozen=True)
class TimeOfDay:
    """A preferred time of day: the whole talk between `start` and `end` (None: midnight)."""

    start: time | None = None
    end: time | None = None
    weight: float = 10.0

    def label(self) -> dict[str, str]:
        return {
            "start": self.start.strftime("%H:%M") if self.start else "",
            "end": self.end.strftime("%H:%M") if self.end else "",
        }


@dataclass(frozen=True)
class SoftPreferences:
    """Weights of what makes one slot better than another; 0 switches a preference off."""

    time_of_day: tuple[TimeOfDay, ...] = ()
    avoid_surgery_days: float = 0.0
    earliest: float = 1.0
    # Points lost per talk a manager already has on that day.
    spread: float = 0.0
    # The zone of "time of day" and of days; None: the first participant's.
    time_zone: str | None = None


_MESSAGES: dict[str, Any] = {
    "before": _("Ends by %(end)s, as preferred"),
    "after": _("Starts at %(start)s or later, as preferred"),
    "between": _("Between %(start)s and %(end)s, as preferred"),
    "before_missed": _("Does not end by %(end)s"),
    "after_missed": _("Starts before %(start)s"),
    "between_missed": _("Not between %(start)s and %(end)s"),
    "surgery_day": _("%(name)s has a surgery day"),
    "no_surgery_day": _("Not on a surgery day"),
    "busy_day": ngettext_lazy(
        "%(name)s already has %(count)s talk that day",
        "%(name)s already has %(count)s talks that day",
        "count",
    ),
    "earliest": ngettext_lazy(
        "Earlier slots rank higher: %(days)s day after the first possible day",
        "Earlier slots rank higher: %(days)s days after the first possible day",
        "days",
    ),
    # "earliest" on the first possible day itself, rather than "0 days after" it.
    "earliest_first_day": _("Earlier slots rank higher: the first possible day"),
}


@dataclass(frozen=True)
class Reason:
    """One reason for a slot's rank: a machine code, the points it gave, and the values of its
    message. `message` is rendered in the active language when it is read."""

    code: str
    points: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        key = self.code
        if key == "earliest" and not self.params.get("days"):
            key = "earliest_first_day"
        return str(_MESSAGES[key] % self.params)


@dataclass(frozen=True)
class RankedSlot:
    start: datetime
    end: datetime
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class _Feature:
    """Starts in [low, high) earn `points`."""

    low: int
    high: int
    points: float
    code: str
    params: dict[str, Any]


def find_slots(
    participants: Sequence[Availability],
    *,
    duration: timedelta,
    window: tuple[datetime, datetime] | None = None,
    hard: HardConstraints | None = None,
    soft: SoftPreferences | None = None,
    limit: int = 5,
    step: timedelta = timedelta(minutes=15),
    managers: Collection[int] = (),
    max_per_day: int | None = 1,
) -> list[RankedSlot]:
    """The `limit` best slots of `duration` in which every participant is free and every hard
    constraint holds, best first (ties: earlier first). At most `max_per_day` slots per day
    are returned (None: no limit), so that the choices offered are really different.
    `managers` are the employee ids the daily cap and the spread preference look at."""
    hard = hard or HardConstraints()
    soft = soft or SoftPreferences()
    if not participants or limit <= 0:
        return []
    length, grid = int(duration.total_seconds()), int(step.total_seconds())
    if length <= 0 or grid <= 0:
        raise ValueError("duration and step must be positive")
    bounds = _window(participants, window)
    if bounds[1] - bounds[0] < length:
        return []
    common = [bounds]
    for person in participants:
        common = intervals.intersect(common, _allowed(person, hard, managers))
        if not common:
            return []
    zone = ZoneInfo(soft.time_zone) if soft.time_zone else participants[0].zone
    features = _features(participants, soft, zone, bounds, length, managers)
    candidates = _candidates(
        common, features, soft.earliest, bounds, length, grid, limit, max_per_day
    )
    return _best(candidates, features, soft, zone, bounds, length, limit, max_per_day)


def _window(
    participants: Sequence[Availability], window: tuple[datetime, datetime] | None
) -> Seconds:
    start = max(person.window[0] for person in participants)
    end = min(person.window[1] for person in participants)
    if window is not None:
        start, end = max(start, window[0]), min(end, window[1])
    return int(start.timestamp()), int(end.timestamp())


def _allowed(
    person: Availability, hard: HardConstraints, managers: Collection[int]
) -> list[Seconds]:
    """The person's free time minus what the hard constraints exclude."""
    facts = person.seconds
    removed: list[Seconds] = []
    if hard.avoid_duty_days:
        removed.extend(facts.duty_days)
    rest = int(hard.rest_after_night.total_seconds())
    if rest > 0:
        removed.extend((end, end + rest) for end in facts.night_ends)
    buffer = int(hard.buffer.total_seconds())
    if buffer > 0:
        removed.extend((start - buffer, end + buffer) for start, end in facts.talks)
    capped = not managers or person.employee_id in managers
    if hard.max_talks_per_day is not None and capped:
        cap = hard.max_talks_per_day
        removed.extend((start, end) for start, end, count in facts.talk_days if count >= cap)
    base = facts.free if hard.within_working_hours else facts.unbusy
    return intervals.subtract(base, intervals.merge(removed)) if removed else base


def _features(
    participants: Sequence[Availability],
    soft: SoftPreferences,
    zone: ZoneInfo,
    bounds: Seconds,
    length: int,
    managers: Collection[int],
) -> list[_Feature]:
    features: list[_Feature] = []
    days = _days(zone, bounds)
    for preference in soft.time_of_day:
        if preference.weight == 0:
            continue
        for day in days:
            low = _at(day, preference.start or time(0), zone)
            high = (
                _at(day + _DAY, time(0), zone)
                if preference.end is None
                else _at(day, preference.end, zone)
            )
            # The talk has to end by `high`, so it starts by `high - length`.
            if high - length + 1 > low:
                features.append(
                    _Feature(low, high - length + 1, preference.weight, "time_of_day", {})
                )
    for person in participants:
        if soft.avoid_surgery_days:
            for low, high in person.seconds.surgery_days:
                features.append(
                    _Feature(
                        low, high, -soft.avoid_surgery_days, "surgery_day", {"name": person.name}
                    )
                )
        if soft.spread and (not managers or person.employee_id in managers):
            for low, high, count in person.seconds.talk_days:
                params = {"name": person.name, "count": count}
                features.append(_Feature(low, high, -soft.spread * count, "busy_day", params))
    return features


def _candidates(
    common: list[Seconds],
    features: list[_Feature],
    earliest: float,
    bounds: Seconds,
    length: int,
    grid: int,
    limit: int,
    max_per_day: int | None,
) -> list[tuple[float, int]]:
    """(score, start) of the first few grid starts of every piece of constant preference."""
    cuts, values = _pieces(features)
    per_piece = min(limit, max_per_day) if max_per_day else limit
    span = max(bounds[1] - bounds[0], 1)
    found: list[tuple[float, int]] = []
    for low, high in common:
        first = -(-low // grid) * grid
        last = high - length
        start = first
        while start <= last:
            index = bisect.bisect_right(cuts, start) - 1
            piece_end = cuts[index + 1] if index + 1 < len(cuts) else last + 1
            points = values[index] if index >= 0 else 0.0
            taken = 0
            while start <= last and start < piece_end and taken < per_piece:
                found.append((points + earliest * (1 - (start - bounds[0]) / span), start))
                start += grid
                taken += 1
            # The rest of this piece scores lower than its first starts: skip to the next piece.
            if start < piece_end:
                start = -(-piece_end // grid) * grid
    return found


def _pieces(features: list[_Feature]) -> tuple[list[int], list[float]]:
    """Breakpoints and the summed points from each breakpoint to the next."""
    deltas: dict[int, float] = {}
    for feature in features:
        deltas[feature.low] = deltas.get(feature.low, 0.0) + feature.points
        deltas[feature.high] = deltas.get(feature.high, 0.0) - feature.points
    cuts = sorted(deltas)
    values = []
    total = 0.0
    for cut in cuts:
        total += deltas[cut]
        values.append(total)
    return cuts, values


def _best(
    candidates: list[tuple[float, int]],
    features: list[_Feature],
    soft: SoftPreferences,
    zone: ZoneInfo,
    bounds: Seconds,
    length: int,
    limit: int,
    max_per_day: int | None,
) -> list[RankedSlot]:
    candidates.sort(key=lambda item: (-round(item[0], 9), item[1]))
    chosen: list[RankedSlot] = []
    per_day: dict[date, int] = {}
    for score, start in candidates:
        day = datetime.fromtimestamp(start, zone).date()
        if max_per_day is not None and per_day.get(day, 0) >= max_per_day:
            continue
        per_day[day] = per_day.get(day, 0) + 1
        begins = datetime.fromtimestamp(start, UTC)
        reasons = _reasons(start, score, features, soft, zone, bounds, length)
        chosen.append(
            RankedSlot(begins, begins + timedelta(seconds=length), round(score, 3), reasons)
        )
        if len(chosen) >= limit:
            break
    return chosen


def _reasons(
    start: int,
    score: float,
    features: list[_Feature],
    soft: SoftPreferences,
    zone: ZoneInfo,
    bounds: Seconds,
    length: int,
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    begins = datetime.fromtimestamp(start, zone)
    ends = begins + timedelta(seconds=length)
    for preference in soft.time_of_day:
        if preference.weight == 0:
            continue
        kind = (
            "between"
            if preference.start and preference.end
            else "before"
            if preference.end
            else "after"
        )
        inside = _inside(begins, ends, preference)
        code = kind if inside else f"{kind}_missed"
        reasons.append(Reason(code, preference.weight if inside else 0.0, preference.label()))
    hits = [f for f in features if f.code != "time_of_day" and f.low <= start < f.high]
    reasons.extend(Reason(f.code, f.points, f.params) for f in hits)
    # "Not on a surgery day" only means something when someone has surgery days to avoid.
    surgery = [f for f in features if f.code == "surgery_day"]
    if surgery and not any(f in hits for f in surgery):
        reasons.append(Reason("no_surgery_day", 0.0))
    if soft.earliest:
        points = score - sum(reason.points for reason in reasons)
        first_day = datetime.fromtimestamp(bounds[0], zone).date()
        reasons.append(
            Reason("earliest", round(points, 3), {"days": (begins.date() - first_day).days})
        )
    return tuple(reasons)


def _inside(begins: datetime, ends: datetime, preference: TimeOfDay) -> bool:
    low = datetime.combine(begins.date(), preference.start or time(0), tzinfo=begins.tzinfo)
    if preference.end is None:
        high = datetime.combine(begins.date() + _DAY, time(0), tzinfo=begins.tzinfo)
    else:
        high = datetime.combine(begins.date(), preference.end, tzinfo=begins.tzinfo)
    return low <= begins and ends <= high


def _days(zone: ZoneInfo, bounds: Seconds) -> list[date]:
    first = datetime.fromtimestamp(bounds[0], zone).date()
    last = datetime.fromtimestamp(bounds[1], zone).date()
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _at(day: date, moment: time, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, moment, tzinfo=zone).timestamp())
