"""States and kinds of follow-up plans (PRODUCT.md E1–E5)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import pgettext_lazy


class ActionStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("action status", "open")
    IN_PROGRESS = "in_progress", pgettext_lazy("action status", "in progress")
    DONE = "done", pgettext_lazy("action status", "done")
    DROPPED = "dropped", pgettext_lazy("action status", "dropped")


# Unfinished: listed as open, reminded when due, carried over into the next talk's agenda.
OPEN_STATES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)


class PlanState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("plan state", "draft")
    PUBLISHED = "published", pgettext_lazy("plan state", "published, waiting for acknowledgement")
    ACKNOWLEDGED = "acknowledged", pgettext_lazy("plan state", "acknowledged")
    CLOSED = "closed", pgettext_lazy("plan state", "closed")


# A plan in force: published (perhaps in a version not yet acknowledged) or acknowledged.
ACTIVE_PLAN_STATES = (PlanState.PUBLISHED, PlanState.ACKNOWLEDGED)


class Effect(models.TextChoices):
    EFFECTIVE = "effective", pgettext_lazy("plan effect", "effective")
    PARTLY = "partly", pgettext_lazy("plan effect", "partly effective")
    NOT_EFFECTIVE = "not_effective", pgettext_lazy("plan effect", "not effective")
    NO_DATA = "no_data", pgettext_lazy("plan effect", "not enough data")


class RecommendationKind(models.TextChoices):
    COURSE = "course", pgettext_lazy("recommendation", "training course")
    SALARY_REVIEW = "salary_review", pgettext_lazy("recommendation", "salary review")
    PROMOTION_REVIEW = "promotion_review", pgettext_lazy("recommendation", "promotion review")


class RecommendationState(models.TextChoices):
    OPEN = "open", pgettext_lazy("recommendation state", "open")
    ACCEPTED = "accepted", pgettext_lazy("recommendation state", "accepted")
    DISMISSED = "dismissed", pgettext_lazy("recommendation state", "dismissed")
