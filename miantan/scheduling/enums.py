"""Kinds of shifts, leave, busy time and calendar days, with translated labels."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ShiftKind(models.TextChoices):
    """What a roster shift means for talks.

    A day shift (白班, 早班) is working time: on its date the shift replaces the working hours,
    and a talk can take place during it. A day off (休) has no working time at all. Every
    other kind is busy while it lasts: night shifts and on-call duty (duty days, with rest
    after them), surgery days and clinic sessions (门诊)."""

    DAY = "day", pgettext_lazy("shift kind", "day shift")
    NIGHT = "night", pgettext_lazy("shift kind", "night shift")
    ON_CALL = "on_call", pgettext_lazy("shift kind", "on call")
    SURGERY = "surgery", pgettext_lazy("shift kind", "surgery day")
    CLINIC = "clinic", pgettext_lazy("shift kind", "clinic or other busy duty")
    OFF = "off", pgettext_lazy("shift kind", "day off")


# A roster day with one of these is a duty day ("not on a duty day").
DUTY_KINDS = frozenset({ShiftKind.NIGHT, ShiftKind.ON_CALL})
# Shifts that are time at work, free for a talk, rather than busy time.
WORKING_KINDS = frozenset({ShiftKind.DAY})


class LeaveKind(models.TextChoices):
    ANNUAL = "annual", pgettext_lazy("leave", "annual leave")
    SICK = "sick", pgettext_lazy("leave", "sick leave")
    PERSONAL = "personal", pgettext_lazy("leave", "personal leave")
    TRAINING = "training", pgettext_lazy("leave", "training")
    BUSINESS_TRIP = "business_trip", pgettext_lazy("leave", "business trip")
    OTHER = "other", pgettext_lazy("leave", "other")


class BusySource(models.TextChoices):
    ICS = "ics", _("imported calendar file")
    FEED = "feed", _("calendar feed")
    MANUAL = "manual", pgettext_lazy("busy source", "entered by hand")


class BusyReason(models.TextChoices):
    """Why a stretch of time is not free, as availability reports it."""

    SHIFT = "shift", pgettext_lazy("busy reason", "on shift")
    LEAVE = "leave", pgettext_lazy("busy reason", "on leave")
    BUSY = "busy", pgettext_lazy("busy reason", "busy in the calendar")
    TALK = "talk", pgettext_lazy("busy reason", "another talk")
    HOLIDAY = "holiday", pgettext_lazy("busy reason", "public holiday")


class DayKind(models.TextChoices):
    """An override of the national calendar for one date."""

    HOLIDAY = "holiday", pgettext_lazy("calendar day", "holiday")
    WORKING_DAY = "working_day", pgettext_lazy("calendar day", "adjusted working day")
