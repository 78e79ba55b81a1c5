"""Follow-up after a talk (PRODUCT.md E1–E5): action items, performance improvement plans (PIP)
with their targets, milestones, check-ins, published versions and acknowledgements, the training
catalogue and the recommendations a plan's progress raises.

A plan is edited freely as a draft. HR publishes it: the plan locks and its content is stored as
a canonical snapshot (`PlanVersion`) that the employee acknowledges, re-authenticating. Any
later change is a new version waiting for a new acknowledgement; the page shows what changed
since the acknowledged one. Free text is sealed at rest (core/fields.py).
"""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.core.fields import EncryptedTextField
from miantan.core.models import TimeStampedModel
from miantan.interviews.models import Talk
from miantan.metrics.enums import Direction
from miantan.metrics.models import Kpi, Period
from miantan.people.models import Employee, Organisation

from .enums import (
    OPEN_STATES,
    ActionStatus,
    Effect,
    PlanState,
    RecommendationKind,
    RecommendationState,
)

__all__ = [
    "OPEN_STATES",
    "ActionItem",
    "ActionStatus",
    "CheckIn",
    "ImprovementPlan",
    "PlanAcknowledgement",
    "PlanMilestone",
    "PlanState",
    "PlanTarget",
    "PlanVersion",
    "Recommendation",
    "TrainingCourse",
]


class ImprovementPlan(TimeStampedModel):
    """绩效改进计划 for one employee, owned by their manager and HR."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(
        Employee, on_delete=models.PROTECT, related_name="improvement_plans"
    )
    state = models.CharField(
        _("state"), max_length=14, choices=PlanState.choices, default=PlanState.DRAFT
    )
    title = models.CharField(_("title"), max_length=200)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    # Support (the "achievable" of the plan): training, a mentor.
    training = EncryptedTextField(_("training"), blank=True)
    mentor = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Owners besides the employee.
    manager = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hr = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Seen by HR only; not part of what the employee acknowledges.
    hr_notes = EncryptedTextField(_("HR notes"), blank=True)
    # The version being edited (draft) or the latest published one.
    version = models.PositiveIntegerField(default=1)
    acknowledged_version = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source_talk = models.ForeignKey(
        Talk, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # The latest effect evaluation (services.evaluate_plan): its verdict and the numbers.
    effect = models.CharField(max_length=14, choices=Effect.choices, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("improvement plan")
        verbose_name_plural = _("improvement plans")
        ordering = ["-starts_on", "-pk"]
        indexes = [
            models.Index(fields=["employee", "state"], name="plan_employee_state_idx"),
            models.Index(fields=["organisation", "state"], name="plan_org_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="plan_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class PlanTarget(models.Model):
    """A goal of the plan: from `baseline` (the latest value when the plan was made) to `goal`.
    Unit and direction come from the KPI (a complaint rate is better lower)."""

    plan = models.ForeignKey(ImprovementPlan, on_delete=models.CASCADE, related_name="targets")
    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    label = models.CharField(_("target"), max_length=200)
    baseline = models.FloatField(_("baseline"))
    goal = models.FloatField(_("goal"))
    baseline_period = models.ForeignKey(
        Period, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.HIGHER
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("plan target")
        verbose_name_plural = _("plan targets")
        ordering = ["plan", "position", "pk"]

    def __str__(self) -> str:
        return self.label


class PlanMilestone(models.Model):
    plan = models.ForeignKey(ImprovementPlan, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(_("milestone"), max_length=200)
    due_on = models.DateField(_("due on"))
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["plan", "due_on", "pk"]

    def __str__(self) -> str:
        return self.title


class ActionItem(TimeStampedModel):
    """行动项: one SMART step in an employee's development, with an owner and a due date; from a
    talk, a plan, or on its own."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    # Whose development it serves.
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="action_items")
    owner = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="owned_actions")
    talk = models.ForeignKey(
        Talk, on_delete=models.PROTECT, null=True, blank=True, related_name="action_items"
    )
    plan = models.ForeignKey(
        ImprovementPlan,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="action_items",
    )
    title = models.CharField(_("title"), max_length=200)
    # SMART: specific, measurable (a KPI and a value), achievable (support), relevant, time-bound.
    specific = EncryptedTextField(_("specific"), blank=True)
    measurable = EncryptedTextField(_("measurable"), blank=True)
    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_value = models.DecimalField(
        _("target value"), max_digits=18, decimal_places=4, null=True, blank=True
    )
    support = EncryptedTextField(_("support needed"), blank=True)
    relevance = EncryptedTextField(_("relevance"), blank=True)
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        ordering = ["due_on", "pk"]
        indexes = [
            models.Index(fields=["owner", "status", "due_on"], name="action_owner_idx"),
            models.Index(fields=["employee", "status", "due_on"], name="action_employee_idx"),
            models.Index(fields=["organisation", "status", "due_on"], name="action_org_due_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def is_overdue(self, today: date | None = None) -> bool:
        return self.is_open and self.due_on < (today or timezone.localdate())


class CheckIn(models.Model):
    """A scheduled look at the plan's progress (at each milestone and at mid-term). `progress`
    holds one entry per target: {"target": id, "label", "value", "percent"}."""

    plan = models.ForeignKey(ImprovementPlan, on_delete=models.CASCADE, related_name="check_ins")
    milestone = models.ForeignKey(
        PlanMilestone, on_delete=models.SET_NULL, null=True, blank=True, related_name="check_ins"
    )
    due_on = models.DateField(_("due on"))
    done_at = models.DateTimeField(null=True, blank=True)
    progress = models.JSONField(default=list, blank=True)
    # Mean progress over the targets, and how much of the plan's time had passed, in per cent.
    percent = models.FloatField(null=True, blank=True)
    elapsed_percent = models.FloatField(null=True, blank=True)
    evidence = EncryptedTextField(_("evidence"), blank=True)
    notes = EncryptedTextField(_("notes"), blank=True)
    author = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["plan", "due_on", "pk"]
        indexes = [models.Index(fields=["due_on", "done_at"], name="checkin_due_idx")]

    def __str__(self) -> str:
        return f"check-in of plan {self.plan_id} on {self.due_on}"

    @property
    def behind(self) -> bool:
        return (
            self.percent is not None
            and self.elapsed_percent is not None
            and self.percent < self.elapsed_percent
        )


class PlanVersion(models.Model):
    """The canonical JSON of a plan as published in one version (what the employee
    acknowledges, and what a later version is compared with)."""

    plan = models.ForeignKey(ImprovementPlan, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content = EncryptedTextField(_("plan as published"))
    sha256 = models.CharField(max_length=64)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("plan version")
        verbose_name_plural = _("plan versions")
        ordering = ["plan", "version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="plan_version_once")
        ]

    def __str__(self) -> str:
        return f"plan {self.plan_id} v{self.version}"


class PlanAcknowledgement(models.Model):
    """The employee acknowledged version N (its hash), re-authenticating at that moment."""

    plan = models.ForeignKey(
        ImprovementPlan, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    version = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(default=timezone.now)
    reauthenticated = models.BooleanField(default=True)
    method = models.CharField(max_length=12, default="password")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        verbose_name = _("plan acknowledgement")
        verbose_name_plural = _("plan acknowledgements")
        ordering = ["plan", "version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="plan_ack_once_per_version")
        ]

    def __str__(self) -> str:
        return f"acknowledgement of plan {self.plan_id} v{self.version}"


class TrainingCourse(TimeStampedModel):
    """The organisation's training catalogue, kept by HR; matched to plans by KPI or skill."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kpis = models.ManyToManyField(Kpi, blank=True, related_name="+", verbose_name=_("KPIs"))
    # Comma-separated skill tags ("沟通, 客户服务").
    skills = models.CharField(_("skills"), max_length=300, blank=True)
    link = models.URLField(_("link"), max_length=500, blank=True)
    active = models.BooleanField(_("offered"), default=True)

    class Meta:
        verbose_name = _("training course")
        verbose_name_plural = _("training courses")
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def skill_list(self) -> list[str]:
        return [s.strip() for s in self.skills.replace("，", ",").split(",") if s.strip()]


class Recommendation(TimeStampedModel):
    """A course for a plan that falls behind, or a salary/promotion review flag for HR when a
    plan proved effective; `reason` says why, with the numbers."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        ImprovementPlan, on_delete=models.CASCADE, related_name="recommendations"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RecommendationKind.choices)
    course = models.ForeignKey(
        TrainingCourse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    check_in = models.ForeignKey(
        CheckIn, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = EncryptedTextField(_("reason"))
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=RecommendationState.choices,
        default=RecommendationState.OPEN,
    )
    decided_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} for plan {self.plan_id}"
