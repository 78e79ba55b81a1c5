"""The kinds of nudge rule (PRODUCT.md F1, F2). Surveys (G3) have none yet: they do not exist."""

from __future__ import annotations

from django.db import models
from django.utils.translation import pgettext_lazy


class NudgeKind(models.TextChoices):
    PERIOD_END_LOW_KPI = (
        "period_end_low_kpi",
        pgettext_lazy("nudge rule", "KPIs behind before the period ends"),
    )
    REQUEST_WAITING = "request_waiting", pgettext_lazy("nudge rule", "Request waiting too long")
    TALK_TOMORROW = "talk_tomorrow", pgettext_lazy("nudge rule", "Talk tomorrow")
    ACTION_DUE = "action_due", pgettext_lazy("nudge rule", "Action item due")
    PLAN_MILESTONE = "plan_milestone", pgettext_lazy("nudge rule", "Improvement plan milestone")
    NO_TALK_FOR = "no_talk_for", pgettext_lazy("nudge rule", "No talk for a long time")
    TRAINING_FINISHED = "training_finished", pgettext_lazy("nudge rule", "Training finished")
