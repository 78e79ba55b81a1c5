"""Input of the talk pages: the three steps of a request, the actions on a talk page, and
the ranked slots offered as choices.

The forms check the shape of what was sent (a choice, a date, a length); what a talk may be is
decided by `interviews.services`, whose `InvalidTalk` errors the views put back on the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from miantan.interviews.enums import Topic, Urgency
from miantan.interviews.queries import SlotOffer
from miantan.interviews.services import MAX_MESSAGE, TalkRequest
from miantan.people.models import Employee
from miantan.scheduling.enums import DUTY_KINDS, ShiftKind
from miantan.scheduling.slots import RankedSlot

DURATIONS = (15, 30, 45, 60, 90, 120)
CUSTOM, NO_TIME = "custom", "none"
# The fields of each step of a request; later steps carry the earlier ones in hidden inputs.
WHOM_FIELDS = ("other", "topic", "duration_minutes", "urgency", "message")
WHEN_FIELDS = (
    "slot",
    "custom_date",
    "custom_time",
    "accept_conflicts",
    "not_before",
    "not_after",
    "avoid_duty_days",
    "before_ten",
    "avoid_surgery_days",
    "location",
    "online_link",
)


def _durations() -> list[tuple[int, str]]:
    # Worded when a form is made, in the language of the request.
    return [(m, gettext("%(minutes)s minutes") % {"minutes": m}) for m in DURATIONS]


class WhomForm(forms.Form):
    """Step 1: whom to talk with, about what, for how long, how urgently."""

    other = forms.IntegerField(
        label=_("With whom"),
        error_messages={"required": _("Choose whom you want to talk with.")},
    )
    topic = forms.ChoiceField(
        label=_("Topic"),
        choices=[("", pgettext_lazy("talk topic", "Choose a topic")), *Topic.choices],
        error_messages={"required": _("Choose a topic.")},
    )
    duration_minutes = forms.TypedChoiceField(
        label=_("Length"),
        choices=_durations,
        coerce=int,
        initial=45,
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=Urgency.choices,
        initial=Urgency.NORMAL,
        widget=forms.RadioSelect,
    )
    message = forms.CharField(
        label=_("Message (optional)"),
        required=False,
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, find_person: Callable[[Any], Employee | None], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.find_person = find_person

    def clean_other(self) -> Employee:
        person = self.find_person(self.cleaned_data["other"])
        if person is None:
            raise forms.ValidationError(_("Choose whom you want to talk with."))
        return person


class TimeForm(forms.Form):
    """A time for a talk: one of the ranked slots (its start, ISO 8601), or another day and
    time in the viewer's time zone. `start` in cleaned_data is the aware start, or None."""

    slot = forms.CharField(required=False)
    custom_date = forms.DateField(
        label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    custom_time = forms.TimeField(
        label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    accept_conflicts = forms.BooleanField(label=_("Propose this time anyway"), required=False)
    allow_no_time = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choice = (data.get("slot") or "").strip()
        data["start"] = None
        if choice == NO_TIME and self.allow_no_time:
            return data
        if choice == CUSTOM:
            day, moment = data.get("custom_date"), data.get("custom_time")
            if day is None or moment is None:
                if "custom_date" not in self.errors and "custom_time" not in self.errors:
                    self.add_error("custom_date", _("Enter the day and the time."))
                return data
            data["start"] = timezone.make_aware(
                datetime.combine(day, moment), timezone.get_current_timezone()
            )
        else:
            data["start"] = _parse_start(choice)
            if data["start"] is None:
                raise forms.ValidationError(
                    _("Choose one of the times, or enter another time."), code="no_time"
                )
        if data["start"] <= timezone.now():
            raise forms.ValidationError(_("Choose a time in the future."), code="past")
        return data


class WhenForm(TimeForm):
    """Step 2: the time, the place, the days to search and what the slot search should
    prefer. Duty and surgery days are offered only to organisations whose shift codes have
    them (`shift_kinds`; None offers both)."""

    allow_no_time = True
    not_before = forms.DateField(
        label=pgettext_lazy("talk request", "Not before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    not_after = forms.DateField(
        label=pgettext_lazy("talk request", "Not after"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    avoid_duty_days = forms.BooleanField(label=_("Not on a duty day"), required=False)
    before_ten = forms.BooleanField(label=_("Before 10:00"), required=False)
    avoid_surgery_days = forms.BooleanField(label=_("Not on a surgery day"), required=False)
    location = forms.CharField(label=_("Place (optional)"), required=False, max_length=200)
    online_link = forms.CharField(
        label=_("Online meeting link (optional)"),
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )

    def __init__(self, *args: Any, shift_kinds: Collection[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if shift_kinds is not None:
            if not {str(kind) for kind in DUTY_KINDS} & set(shift_kinds):
                del self.fields["avoid_duty_days"]
            if ShiftKind.SURGERY not in shift_kinds:
                del self.fields["avoid_surgery_days"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("not_before"), data.get("not_after")
        if first and last and last < first:
            self.add_error("not_after", _("The last day is before the first day."))
        return data


class DeclineForm(forms.Form):
    # Its own ids: the decline and cancel forms share a page and a field name.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_decline_%s")
        super().__init__(*args, **kwargs)

    reason = forms.CharField(
        label=_("Why you decline"),
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say why you decline, so the other side knows.")},
    )


class CancelForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_cancel_%s")
        super().__init__(*args, **kwargs)

    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AgendaForm(forms.Form):
    agenda = forms.CharField(
        label=_("Agenda, one point per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def items(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["agenda"].splitlines() if line.strip()]


def talk_request(whom: dict[str, Any], when: dict[str, Any] | None) -> TalkRequest:
    """What the two steps ask for, as the service takes it."""
    when = when or {}
    return TalkRequest(
        topic=whom["topic"],
        message=whom.get("message") or "",
        duration_minutes=whom["duration_minutes"],
        urgency=whom["urgency"],
        location=when.get("location") or "",
        online_link=when.get("online_link") or "",
        hard_constraints={"avoid_duty_days": bool(when.get("avoid_duty_days"))},
        soft_preferences={
            "before": "10:00" if when.get("before_ten") else None,
            "avoid_surgery_days": bool(when.get("avoid_surgery_days")),
        },
        not_before=when.get("not_before"),
        not_after=when.get("not_after"),
    )


def slot_end(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)


def _parse_start(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


# --- the ranked slots as the choices of a calendar ---------------------------------------------


@dataclass(frozen=True)
class SlotView:
    rank: int
    start: datetime
    end: datetime
    day: date
    value: str
    # (code, message) of each reason for the rank
    reasons: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DayView:
    day: date
    slots: tuple[SlotView, ...]


@dataclass(frozen=True)
class WeekDay:
    day: date
    count: int
    past: bool


def slot_calendar(offer: SlotOffer | None) -> dict[str, Any]:
    """What a slot list shows: the slots (best first), by day, the weeks they fall in, and
    the years without holiday data in which none could be offered."""
    slots = _slot_views(offer.slots if offer else [])
    return {
        "slots": slots,
        "days": _days(slots),
        "weeks": _weeks(slots),
        "unknown_years": offer.unknown_years if offer else [],
    }


def _slot_views(ranked: Sequence[RankedSlot]) -> list[SlotView]:
    return [
        SlotView(
            rank=rank,
            start=slot.start,
            end=slot.end,
            day=timezone.localtime(slot.start).date(),
            value=slot_value(slot.start.isoformat()),
            reasons=tuple((reason.code, reason.message) for reason in slot.reasons),
        )
        for rank, slot in enumerate(ranked, start=1)
    ]


def slot_value(value: str) -> str:
    """A slot's start as the radio buttons carry it: ISO 8601 in UTC, whatever was sent."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(UTC).isoformat() if timezone.is_aware(moment) else value


def _days(slots: Sequence[SlotView]) -> list[DayView]:
    """The slots by day, in the order of the calendar."""
    by_day: dict[date, list[SlotView]] = {}
    for slot in sorted(slots, key=lambda s: s.start):
        by_day.setdefault(slot.day, []).append(slot)
    return [DayView(day=day, slots=tuple(found)) for day, found in by_day.items()]


def _weeks(slots: Sequence[SlotView]) -> list[list[WeekDay]]:
    """Monday-to-Sunday rows from the first slot's week to the last one's."""
    if not slots:
        return []
    counts: dict[date, int] = {}
    for slot in slots:
        counts[slot.day] = counts.get(slot.day, 0) + 1
    today = timezone.localdate()
    first = min(counts) - timedelta(days=min(counts).weekday())
    last = max(counts)
    weeks = []
    while first <= last:
        days = [first + timedelta(days=offset) for offset in range(7)]
        weeks.append([WeekDay(day, counts.get(day, 0), day < today) for day in days])
        first += timedelta(days=7)
    return weeks
