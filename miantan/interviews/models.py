"""Talks (a request is a talk before it has a time), the times proposed for them, what
happened to them, and review cycles that create many at once."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.core.fields import EncryptedJSONField, EncryptedTextField
from miantan.core.models import TimeStampedModel
from miantan.people.models import Department, Employee, Organisation

from .enums import CycleState, Initiation, ProposalState, TalkEvent, TalkState, Topic, Urgency


def new_uid() -> str:
    """The talk's calendar UID: stable for its whole life, across reschedules and cancelling."""
    return f"{uuid.uuid4()}@miantan"


class ReviewCycle(TimeStampedModel):
    """A round of talks HR launches for a scope ("2026 Q4 review"). The talks it created at
    launch are its participants, frozen: later changes to the organisation do not add any."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    topic = models.CharField(
        _("topic"), max_length=30, choices=Topic.choices, default=Topic.QUARTERLY_REVIEW
    )
    period = models.CharField(_("period"), max_length=50, blank=True)
    departments = models.ManyToManyField(
        Department, related_name="+", verbose_name=_("departments (with their subtrees)")
    )
    window_start = models.DateField(_("first day"))
    window_end = models.DateField(_("last day"))
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=45)
    state = models.CharField(
        _("state"), max_length=10, choices=CycleState.choices, default=CycleState.DRAFT
    )
    created_by = models.ForeignKey(
        Employee, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)
    # What the launch found: {"pairs": n, "placed": n, "infeasible": [{"talk": id, "reason": …}]}
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("review cycle")
        verbose_name_plural = _("review cycles")
        ordering = ["-window_start", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_end__gte=models.F("window_start")),
                name="review_cycle_window_order",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Talk(TimeStampedModel):
    """One performance talk between an employee and a counterpart (their manager, a manager
    further up, a department head, HR or an executive), from the request on.

    `state` changes only through `services.transition`."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(
        Employee, on_delete=models.PROTECT, related_name="talks", verbose_name=_("employee")
    )
    counterpart = models.ForeignKey(
        Employee,
        on_delete=models.PROTECT,
        related_name="talks_led",
        verbose_name=_("talks with"),
    )
    requested_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    initiation = models.CharField(
        _("started by"), max_length=20, choices=Initiation.choices, default=Initiation.EMPLOYEE
    )
    topic = models.CharField(_("topic"), max_length=30, choices=Topic.choices)
    # Free text is sealed at rest (core/fields.py): readable here, never searchable in SQL.
    message = EncryptedTextField(_("message"), blank=True)
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=45)
    location = models.CharField(_("place"), max_length=200, blank=True)
    online_link = models.URLField(_("online meeting link"), max_length=500, blank=True)
    urgency = models.CharField(
        _("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    # {"avoid_duty_days": bool, "rest_after_night_hours": int, "within_working_hours": bool}
    hard_constraints = models.JSONField(_("hard constraints"), default=dict, blank=True)
    # {"before": "10:00" | null, "after": "14:00" | null, "avoid_surgery_days": bool}
    soft_preferences = models.JSONField(_("preferences"), default=dict, blank=True)
    not_before = models.DateField(_("not before"), null=True, blank=True)
    not_after = models.DateField(_("not after"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=TalkState.choices, default=TalkState.REQUESTED
    )
    state_changed_at = models.DateTimeField(default=timezone.now)
    # Raised by every step (`services.transition`): a step taken on an older copy is refused.
    version = models.PositiveIntegerField(default=0)
    # Whose answer the talk waits for (an open state); the SLA reminder goes to them.
    awaiting = models.ForeignKey(
        Employee,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("waiting for"),
    )
    scheduled_start = models.DateTimeField(_("starts"), null=True, blank=True)
    scheduled_end = models.DateTimeField(_("ends"), null=True, blank=True)
    uid = models.CharField(max_length=100, unique=True, default=new_uid, editable=False)
    # The calendar SEQUENCE: raised whenever a booked time changes or is cancelled.
    sequence = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    closing_reason = EncryptedTextField(_("reason"), blank=True)
    cycle = models.ForeignKey(
        ReviewCycle,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="talks",
        verbose_name=_("review cycle"),
    )
    # [{"text": "…", "source": "topic" | "flag" | "action" | "own", "data": {...}}]
    agenda = EncryptedJSONField(_("agenda"), default=list, blank=True)

    class Meta:
        verbose_name = _("talk")
        verbose_name_plural = _("talks")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["employee", "state"], name="talk_employee_state_idx"),
            models.Index(fields=["counterpart", "state"], name="talk_counterpart_state_idx"),
            models.Index(fields=["awaiting", "state"], name="talk_awaiting_state_idx"),
            models.Index(fields=["state", "expires_at"], name="talk_state_expiry_idx"),
            models.Index(fields=["scheduled_start"], name="talk_scheduled_start_idx"),
            models.Index(fields=["cycle", "state"], name="talk_cycle_state_idx"),
            # The organisation-wide list (HR, administrators), newest change first.
            models.Index(
                fields=["organisation", "-state_changed_at", "-id"], name="talk_org_changed_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(employee=models.F("counterpart")), name="talk_two_people"
            ),
            models.CheckConstraint(
                condition=models.Q(scheduled_start__isnull=True)
                | models.Q(scheduled_end__gt=models.F("scheduled_start")),
                name="talk_time_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_topic_display()}: {self.employee_id} / {self.counterpart_id}"

    @property
    def participant_ids(self) -> tuple[int, int]:
        return (self.employee_id, self.counterpart_id)

    def other_side(self, employee_id: int) -> int:
        return self.counterpart_id if employee_id == self.employee_id else self.employee_id

    def open_proposal(self) -> Proposal | None:
        return self.proposals.filter(state=ProposalState.OPEN).order_by("-pk").first()


class Proposal(models.Model):
    """A time one side proposed. At most one is open; a counter-proposal supersedes it."""

    talk = models.ForeignKey(Talk, on_delete=models.CASCADE, related_name="proposals")
    proposed_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    state = models.CharField(
        _("state"), max_length=12, choices=ProposalState.choices, default=ProposalState.OPEN
    )
    # What availability said against a custom time the proposer chose to keep:
    # [{"employee": id, "reason": "shift", "detail": "夜班", "start": iso, "end": iso}]
    conflicts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("proposed time")
        verbose_name_plural = _("proposed times")
        ordering = ["talk", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="proposal_time_order"
            ),
            models.UniqueConstraint(
                fields=["talk"],
                condition=models.Q(state="open"),
                name="proposal_one_open_per_talk",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.talk_id} {self.start:%Y-%m-%d %H:%M}"


class TalkActivity(models.Model):
    """What happened to a talk, as both sides see it on the talk page (the audit trail records
    the same for accountability; this is the conversation's own history)."""

    talk = models.ForeignKey(Talk, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=20, choices=TalkEvent.choices)
    from_state = models.CharField(max_length=20, choices=TalkState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=TalkState.choices, blank=True)
    # The reason typed with a decline or a cancellation (sealed); `data` holds ids, counts,
    # codes and times only, never typed text.
    note = EncryptedTextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("talk activity")
        verbose_name_plural = _("talk activities")
        ordering = ["talk", "at", "pk"]
        indexes = [models.Index(fields=["talk", "at"], name="talk_activity_talk_at_idx")]

    def __str__(self) -> str:
        return f"{self.talk_id} {self.event}"
