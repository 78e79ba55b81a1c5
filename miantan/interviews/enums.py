"""States of a talk and the transitions between them; topics, urgency, who started a talk."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class TalkState(models.TextChoices):
    REQUESTED = "requested", pgettext_lazy("talk state", "requested")
    NEGOTIATING = "negotiating", pgettext_lazy("talk state", "finding a time")
    SCHEDULED = "scheduled", pgettext_lazy("talk state", "scheduled")
    IN_PROGRESS = "in_progress", pgettext_lazy("talk state", "in progress")
    AWAITING_SIGNATURES = "awaiting_signatures", pgettext_lazy("talk state", "awaiting signatures")
    ARCHIVED = "archived", pgettext_lazy("talk state", "archived")
    DECLINED = "declined", pgettext_lazy("talk state", "declined")
    EXPIRED = "expired", pgettext_lazy("talk state", "expired")
    CANCELLED = "cancelled", pgettext_lazy("talk state", "cancelled")


# Waiting for somebody to answer: these expire and remind.
OPEN_STATES = frozenset({TalkState.REQUESTED, TalkState.NEGOTIATING})
# The talk has a time in the calendars.
BOOKED_STATES = frozenset({TalkState.SCHEDULED, TalkState.IN_PROGRESS})
# The talk took place (a review cycle counts it as held).
HELD_STATES = frozenset({TalkState.IN_PROGRESS, TalkState.AWAITING_SIGNATURES, TalkState.ARCHIVED})
ENDED_STATES = frozenset({TalkState.DECLINED, TalkState.EXPIRED, TalkState.CANCELLED})

# DESIGN.md "Lifecycle of a talk". A scheduled talk goes back to negotiating when one side
# proposes another time; the booked time stays in the calendars until the new one is accepted.
TRANSITIONS: dict[str, frozenset[str]] = {
    TalkState.REQUESTED: frozenset(
        {
            TalkState.NEGOTIATING,
            TalkState.SCHEDULED,
            TalkState.DECLINED,
            TalkState.EXPIRED,
            TalkState.CANCELLED,
        }
    ),
    TalkState.NEGOTIATING: frozenset(
        {
            TalkState.NEGOTIATING,
            TalkState.SCHEDULED,
            TalkState.DECLINED,
            TalkState.EXPIRED,
            TalkState.CANCELLED,
        }
    ),
    TalkState.SCHEDULED: frozenset(
        {TalkState.NEGOTIATING, TalkState.IN_PROGRESS, TalkState.CANCELLED}
    ),
    TalkState.IN_PROGRESS: frozenset({TalkState.AWAITING_SIGNATURES, TalkState.CANCELLED}),
    # An appeal resolved by amending sends the record back to both sides to change and sign.
    TalkState.AWAITING_SIGNATURES: frozenset({TalkState.ARCHIVED, TalkState.IN_PROGRESS}),
    TalkState.ARCHIVED: frozenset(),
    TalkState.DECLINED: frozenset(),
    TalkState.EXPIRED: frozenset(),
    TalkState.CANCELLED: frozenset(),
}


class Topic(models.TextChoices):
    """What a talk is about (PRODUCT.md A1). The first five have a data brief of their own."""

    QUARTERLY_REVIEW = "quarterly_review", _("Quarterly review")
    CAREER = "career", _("Career development")
    PROJECT_RECOGNITION = "project_recognition", _("Project recognition")
    IMPROVEMENT = "improvement", _("Improvement talk")
    PROMOTION = "promotion", _("Promotion or professional title")
    OTHER = "other", pgettext_lazy("talk topic", "Other")


class Urgency(models.TextChoices):
    NORMAL = "normal", pgettext_lazy("urgency", "normal")
    URGENT = "urgent", pgettext_lazy("urgency", "urgent")


class Initiation(models.TextChoices):
    """Who started the talk, seen from the employee it is about (G1: 主动申请率)."""

    EMPLOYEE = "employee", pgettext_lazy("initiation", "the employee")
    MANAGER = "manager", pgettext_lazy("initiation", "the manager")
    SKIP_LEVEL = "skip_level", pgettext_lazy("initiation", "a manager further up")
    DEPARTMENT_HEAD = "department_head", pgettext_lazy("initiation", "the department head")
    HR = "hr", pgettext_lazy("initiation", "HR")
    EXECUTIVE = "executive", pgettext_lazy("initiation", "an executive")
    CYCLE = "cycle", pgettext_lazy("initiation", "a review cycle")


class ProposalState(models.TextChoices):
    OPEN = "open", pgettext_lazy("proposal", "open")
    ACCEPTED = "accepted", pgettext_lazy("proposal", "accepted")
    SUPERSEDED = "superseded", pgettext_lazy("proposal", "replaced by another time")
    WITHDRAWN = "withdrawn", pgettext_lazy("proposal", "withdrawn")


class TalkEvent(models.TextChoices):
    """What happened to a talk: the audit code `interviews.talk.<event>` and the notification."""

    REQUESTED = "requested", pgettext_lazy("talk event", "requested a talk")
    PROPOSED = "proposed", pgettext_lazy("talk event", "proposed a time")
    ACCEPTED = "accepted", pgettext_lazy("talk event", "accepted the time")
    DECLINED = "declined", pgettext_lazy("talk event", "declined")
    RESCHEDULED = "rescheduled", pgettext_lazy("talk event", "proposed a new time")
    CANCELLED = "cancelled", pgettext_lazy("talk event", "cancelled")
    EXPIRED = "expired", pgettext_lazy("talk event", "expired without an answer")
    # A new time proposed for a booked talk got no answer in time: the booked time stands.
    KEPT = "kept", pgettext_lazy("talk event", "kept the booked time")
    STARTED = "started", pgettext_lazy("talk event", "started the talk")
    # Both sides confirmed the record: it waits for their signatures.
    CONFIRMED = "confirmed", pgettext_lazy("talk event", "confirmed the record")
    AGENDA_EDITED = "agenda_edited", pgettext_lazy("talk event", "edited the agenda")
    # Both sides signed the record and it was archived.
    ARCHIVED = "archived", pgettext_lazy("talk event", "signed and archived the record")
    # HR resolved an appeal by sending the record back to be amended.
    AMENDED = "amended", pgettext_lazy("talk event", "reopened the record to amend it")
    REMINDED = "reminded", pgettext_lazy("talk event", "was reminded")


class CycleState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("cycle", "draft")
    LAUNCHED = "launched", pgettext_lazy("cycle", "launched")
    CLOSED = "closed", pgettext_lazy("cycle", "closed")
