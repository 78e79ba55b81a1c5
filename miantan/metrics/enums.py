from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Direction(models.TextChoices):
    """Which way is good. A "lower is better" KPI (defect rate) is weak when it rises."""

    HIGHER = "higher", _("higher is better")
    LOWER = "lower", _("lower is better")


class Aggregation(models.TextChoices):
    """How values of shorter periods combine into a longer one (months into a quarter)."""

    SUM = "sum", pgettext_lazy("aggregation", "sum")
    AVERAGE = "avg", pgettext_lazy("aggregation", "average")
    LAST = "last", pgettext_lazy("aggregation", "last value")


class PeriodKind(models.TextChoices):
    MONTH = "month", pgettext_lazy("period", "month")
    QUARTER = "quarter", pgettext_lazy("period", "quarter")
    YEAR = "year", pgettext_lazy("period", "year")


class ImportStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("import status", "waiting")
    RUNNING = "running", pgettext_lazy("import status", "checking")
    REJECTED = "rejected", pgettext_lazy("import status", "rejected")
    DONE = "done", pgettext_lazy("import status", "imported")
    FAILED = "failed", pgettext_lazy("import status", "failed")


class EvidenceKind(models.TextChoices):
    POSITIVE = "positive", _("positive")
    NEGATIVE = "negative", _("needs improvement")


class BriefTopic(models.TextChoices):
    """What a talk is about; the data brief for it picks its facts by topic."""

    QUARTERLY_REVIEW = "quarterly_review", _("Quarterly review")
    CAREER = "career", _("Career development")
    PROJECT_RECOGNITION = "project_recognition", _("Project recognition")
    IMPROVEMENT = "improvement", _("Improvement talk")
    PROMOTION = "promotion", _("Promotion or professional title")
