"""Performance data: the KPI catalogue, targets, periods and values per employee and period.

Values are the large table (10,000,000 rows in the benchmark): one row per employee, KPI and
period, unique on that triple, indexed for "one employee's values" and "one KPI in one period".
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from miantan.core.fields import EncryptedTextField
from miantan.core.models import TimeStampedModel
from miantan.people.models import Department, Employee, Organisation, Position

from .enums import Aggregation, Direction, EvidenceKind, ImportStatus, PeriodKind


class Kpi(TimeStampedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="kpis")
    code = models.CharField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.HIGHER
    )
    aggregation = models.CharField(
        _("aggregation"), max_length=10, choices=Aggregation.choices, default=Aggregation.SUM
    )
    decimals = models.PositiveSmallIntegerField(_("decimal places"), default=0)
    # The valid range of values and targets (ranges.py); an empty end is open.
    min_value = models.DecimalField(
        _("lowest valid value"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("highest valid value"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    # Which industry pack it came from ("hospital", "manufacturing", …); empty when made by hand.
    pack = models.CharField(_("pack"), max_length=30, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("KPI")
        verbose_name_plural = _("KPIs")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="kpi_code_unique"),
            models.CheckConstraint(
                condition=models.Q(min_value__isnull=True)
                | models.Q(max_value__isnull=True)
                | models.Q(min_value__lte=models.F("max_value")),
                name="kpi_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str = "zh-hans") -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class KpiAssignment(TimeStampedModel):
    """A KPI applies to a department (and its subtree), a position, or a position within a
    department, with a weight and a target per period kind. The most specific one wins."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="assignments")
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="kpi_assignments"
    )
    position = models.ForeignKey(
        Position, on_delete=models.CASCADE, null=True, blank=True, related_name="kpi_assignments"
    )
    period_kind = models.CharField(
        _("period"), max_length=10, choices=PeriodKind.choices, default=PeriodKind.MONTH
    )
    weight = models.DecimalField(_("weight"), max_digits=5, decimal_places=2, default=1)
    target = models.DecimalField(_("target"), max_digits=18, decimal_places=4)

    class Meta:
        verbose_name = _("KPI assignment")
        verbose_name_plural = _("KPI assignments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(department__isnull=False) | models.Q(position__isnull=False),
                name="kpi_assignment_has_scope",
            ),
            models.UniqueConstraint(
                fields=["kpi", "department", "position", "period_kind"],
                name="kpi_assignment_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kpi} → {self.department or ''} {self.position or ''}".strip()


class Period(models.Model):
    """A reporting period. Half-open [start, end): a month, a quarter or a year."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="periods")
    kind = models.CharField(_("kind"), max_length=10, choices=PeriodKind.choices)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    # "2026-11", "2026-Q4", "2026"
    label = models.CharField(_("label"), max_length=20)

    class Meta:
        verbose_name = _("period")
        verbose_name_plural = _("periods")
        ordering = ["start", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind", "start"], name="period_unique"),
            models.UniqueConstraint(fields=["organisation", "label"], name="period_label_unique"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="period_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class KpiValue(models.Model):
    """One employee's actual for one KPI in one period (the big table).

    Written in bulk by the import (metrics/importing.py), which resolves every id from the
    organisation's own rows inside its transaction. So the references carry no database
    constraint (a constraint check per reference and row was most of an import's time; Django
    still applies on_delete) and no single-column indexes: the unique (employee, KPI, period)
    and the (KPI, period) indexes serve every lookup.
    """

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    employee = models.ForeignKey(
        Employee,
        on_delete=models.CASCADE,
        related_name="kpi_values",
        db_constraint=False,
        db_index=False,
    )
    kpi = models.ForeignKey(
        Kpi, on_delete=models.PROTECT, related_name="values", db_constraint=False, db_index=False
    )
    period = models.ForeignKey(
        Period,
        on_delete=models.PROTECT,
        related_name="values",
        db_constraint=False,
        db_index=False,
    )
    value = models.DecimalField(_("value"), max_digits=18, decimal_places=4)
    # A target agreed for this person and period, overriding the assignment's.
    target = models.DecimalField(
        _("target"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    source = models.CharField(_("source"), max_length=50, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("KPI value")
        verbose_name_plural = _("KPI values")
        constraints = [
            models.UniqueConstraint(fields=["employee", "kpi", "period"], name="kpi_value_unique"),
        ]
        indexes = [models.Index(fields=["kpi", "period"], name="kpi_value_kpi_period_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.kpi_id} {self.period_id}: {self.value}"


class MetricsImport(TimeStampedModel):
    """One uploaded KPI file and what became of it (progress, report)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file = models.FileField(_("file"), upload_to="imports/metrics/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    # {"errors": [{"row": 7, "column": "指标", "message": "…"}], "summary": {...}}
    report = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker's lease (core/leases.py): an attempt whose lease runs out is taken back.
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("KPI import")
        verbose_name_plural = _("KPI imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name


class ProjectContribution(TimeStampedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="projects")
    project = models.CharField(_("project"), max_length=200)
    role = models.CharField(_("role"), max_length=100, blank=True)
    # Free text is sealed at rest (core/fields.py): readable here, never searchable in SQL.
    result = EncryptedTextField(_("result"), blank=True)
    completion = models.DecimalField(
        _("completion rate"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Per cent, 0–100."),
    )
    started_on = models.DateField(_("start"), null=True, blank=True)
    finished_on = models.DateField(_("finish"), null=True, blank=True)

    class Meta:
        verbose_name = _("project contribution")
        verbose_name_plural = _("project contributions")
        ordering = ["-finished_on", "-started_on"]
        indexes = [models.Index(fields=["employee", "-finished_on"], name="project_employee_idx")]

    def __str__(self) -> str:
        return self.project


class PeerFeedback(TimeStampedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="peer_feedback")
    author = models.ForeignKey(
        Employee,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    period = models.ForeignKey(
        Period, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    text = EncryptedTextField(_("feedback"))

    class Meta:
        verbose_name = _("peer feedback")
        verbose_name_plural = _("peer feedback")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["employee", "-created_at"], name="feedback_employee_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id}: {self.text[:30]}"


class TrainingRecord(TimeStampedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="trainings")
    course = models.CharField(_("course"), max_length=200)
    skill = models.CharField(_("skill"), max_length=100, blank=True)
    hours = models.DecimalField(_("hours"), max_digits=6, decimal_places=1, default=0)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("training record")
        verbose_name_plural = _("training records")
        ordering = ["-completed_on"]
        indexes = [models.Index(fields=["employee", "-completed_on"], name="training_employee_idx")]

    def __str__(self) -> str:
        return self.course


class AttendanceSummary(models.Model):
    """Attendance and leave per employee and period, as delivered by the time system."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="attendance")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    work_days = models.DecimalField(_("days worked"), max_digits=5, decimal_places=1, default=0)
    leave_days = models.DecimalField(_("days of leave"), max_digits=5, decimal_places=1, default=0)
    late_count = models.PositiveSmallIntegerField(_("late arrivals"), default=0)
    absence_days = models.DecimalField(_("days absent"), max_digits=5, decimal_places=1, default=0)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints = [
            models.UniqueConstraint(fields=["employee", "period"], name="attendance_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.period_id}"


class EvidenceEntry(TimeStampedModel):
    """Something a manager or HR noted between talks, good or bad, with its date."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="evidence")
    author = models.ForeignKey(
        Employee,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EvidenceKind.choices)
    happened_on = models.DateField(_("date"))
    text = EncryptedTextField(_("what happened"))
    kpi = models.ForeignKey(Kpi, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("evidence entry")
        verbose_name_plural = _("evidence log")
        ordering = ["-happened_on"]
        indexes = [models.Index(fields=["employee", "-happened_on"], name="evidence_employee_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id} {self.happened_on}: {self.text[:30]}"
