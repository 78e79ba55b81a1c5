"""What availability is built from: shift codes and rosters, working hours, leave, busy blocks,
and overrides of the national holiday calendar.

Times of day (shift codes, working hours) are wall-clock times in the employee's time zone;
leave and busy blocks are aware datetimes, half-open [start, end).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

from miantan.core.models import TimeStampedModel
from miantan.people.models import Employee, Organisation

from .enums import DUTY_KINDS, BusySource, DayKind, LeaveKind, ShiftKind


class ShiftCode(TimeStampedModel):
    """A code a roster uses ("白班", "夜班", "休", or "N" named 夜班), defined per organisation.

    An end at or before the start means the shift ends the next day: 夜班 20:00–08:00 runs
    overnight and 值班 08:00–08:00 lasts 24 hours. A shift belongs to the date it starts on.
    A retired code stays on the roster entries that have it but new rosters may not use it.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100, blank=True)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    start = models.TimeField(_("starts"))
    end = models.TimeField(_("ends"))
    kind = models.CharField(_("kind"), max_length=10, choices=ShiftKind.choices)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    class Meta:
        verbose_name = _("shift code")
        verbose_name_plural = _("shift codes")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="shift_code_unique"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    def display_name(self, language: str = "zh-hans") -> str:
        """The name in the page's language, else the other one, else the code."""
        preferred = (self.name_en, self.name) if language == "en" else (self.name, self.name_en)
        return next((name for name in preferred if name), self.code)

    @property
    def is_duty(self) -> bool:
        return self.kind in DUTY_KINDS

    def length(self) -> timedelta:
        """Wall-clock length; the real length differs on a daylight-saving change day."""
        start = datetime.combine(date.min, self.start)
        end = datetime.combine(date.min, self.end)
        return end - start + (timedelta(days=1) if self.crosses_midnight else timedelta())


class RosterEntry(models.Model):
    """One shift of one employee on one date (the date the shift starts)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(
        Employee,
        on_delete=models.CASCADE,
        related_name="roster_entries",
        verbose_name=_("employee"),
    )
    date = models.DateField(_("date"))
    shift_code = models.ForeignKey(
        ShiftCode, on_delete=models.PROTECT, related_name="entries", verbose_name=_("shift")
    )

    class Meta:
        verbose_name = _("roster entry")
        verbose_name_plural = _("roster entries")
        ordering = ["employee", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["employee", "date", "shift_code"], name="roster_entry_unique"
            ),
        ]
        indexes = [models.Index(fields=["employee", "date"], name="roster_employee_date_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.date} {self.shift_code_id}"


class WorkingHours(models.Model):
    """One stretch of working time on a weekday (0 = Monday). Several rows per day are allowed
    (08:00–12:00 and 14:00–17:30). Rows without an employee are the organisation's default;
    an employee with rows of their own uses only those."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(
        Employee,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="working_hours",
        verbose_name=_("employee"),
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"))
    start = models.TimeField(_("starts"))
    end = models.TimeField(_("ends"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6), name="working_hours_weekday"
            ),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="working_hours_order"
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "employee"], name="working_hours_owner_idx")
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}–{self.end:%H:%M}"


class _Span(models.Model):
    """An aware, half-open [start, end) stretch of one employee's time."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))

    class Meta:
        abstract = True


class Leave(_Span):
    employee = models.ForeignKey(
        Employee, on_delete=models.CASCADE, related_name="leave", verbose_name=_("employee")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=LeaveKind.choices)

    class Meta:
        verbose_name = _("leave")
        verbose_name_plural = _("leave")
        ordering = ["employee", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="leave_order"
            )
        ]
        indexes = [models.Index(fields=["employee", "start"], name="leave_employee_start_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.kind} {self.start:%Y-%m-%d}"


class BusyBlock(_Span):
    """Busy time from someone's own calendar. Only the time is kept, never the title: what the
    person is doing is none of the scheduler's business."""

    employee = models.ForeignKey(
        Employee, on_delete=models.CASCADE, related_name="busy_blocks", verbose_name=_("employee")
    )
    source = models.CharField(_("source"), max_length=10, choices=BusySource.choices)
    # The event's UID in the calendar it came from, so that a re-import replaces it.
    uid = models.CharField(_("calendar UID"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("busy block")
        verbose_name_plural = _("busy blocks")
        ordering = ["employee", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="busy_order"
            ),
            models.UniqueConstraint(
                fields=["employee", "source", "uid"],
                condition=~models.Q(uid=""),
                name="busy_block_uid_unique",
            ),
        ]
        indexes = [models.Index(fields=["employee", "start"], name="busy_employee_start_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.start:%Y-%m-%d %H:%M}"


class HolidayOverride(TimeStampedModel):
    """One date of the mainland Chinese calendar set by hand or from a file, on top of the
    bundled data and the `holidays` package. `organisation` is empty for the national calendar
    (loaded by `manage.py update_holidays`); set, it is that organisation's own (HR's holiday
    calendar page). `from_file` rows came with a whole year from a file (see HolidayYear)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=20, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    from_file = models.BooleanField(_("from a file"), default=False)
    created_by = models.ForeignKey(
        Employee,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )

    class Meta:
        verbose_name = _("holiday override")
        verbose_name_plural = _("holiday overrides")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "date"], name="holiday_override_unique"
            ),
            models.UniqueConstraint(
                fields=["date"],
                condition=models.Q(organisation__isnull=True),
                name="holiday_override_national_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.kind}"


class HolidayYear(TimeStampedModel):
    """What is settled about one year of an organisation's calendar (or, without one, of the
    national calendar): a file that gave the whole year (then no other source is read for it),
    and HR's confirmation that the year's official adjusted working days (调休) are in."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    loaded_at = models.DateTimeField(_("loaded"), null=True, blank=True)
    loaded_by = models.ForeignKey(
        Employee,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("loaded by"),
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        Employee,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("confirmed by"),
    )

    class Meta:
        verbose_name = _("holiday year")
        verbose_name_plural = _("holiday years")
        ordering = ["year"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "year"], name="holiday_year_unique"),
            models.UniqueConstraint(
                fields=["year"],
                condition=models.Q(organisation__isnull=True),
                name="holiday_year_national_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id or '-'} {self.year}"

    @property
    def from_file(self) -> bool:
        return self.loaded_at is not None


class CalendarFeedToken(models.Model):
    """The secret in a person's calendar subscription link (/calendar/<token>.ics). Only a
    SHA-256 of it is stored; it is shown once. One active token per employee: a new one
    revokes the old."""

    employee = models.ForeignKey(
        Employee, on_delete=models.CASCADE, related_name="calendar_feed_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed link")
        verbose_name_plural = _("calendar feed links")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["employee"],
                condition=models.Q(revoked_at__isnull=True),
                name="calendar_feed_one_active_per_employee",
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.created_at:%Y-%m-%d}"
