"""What a record is made of: field types, who fills a section, the record's states, note tiers."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class FieldType(models.TextChoices):
    SHORT_TEXT = "short_text", _("Short text")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    RATING = "rating", _("Rating scale")
    CHOICE = "choice", _("Choice")
    KPI_TABLE = "kpi_table", _("KPI table")
    GOALS = "goals", _("SMART goals")
    DATE = "date", pgettext_lazy("field type", "Date")


class Filler(models.TextChoices):
    """Who writes a section (PRODUCT.md C2). The talk's counterpart fills "manager" sections."""

    EMPLOYEE = "employee", pgettext_lazy("filled by", "the employee")
    MANAGER = "manager", pgettext_lazy("filled by", "the manager")
    HR = "hr", pgettext_lazy("filled by", "HR")
    BOTH = "both", pgettext_lazy("filled by", "both sides")


class Side(models.TextChoices):
    """A person's part in a record."""

    EMPLOYEE = "employee", pgettext_lazy("side", "employee")
    MANAGER = "manager", pgettext_lazy("side", "manager")
    HR = "hr", pgettext_lazy("side", "HR")


class RecordState(models.TextChoices):
    PREPARING = "preparing", pgettext_lazy("record state", "preparing")
    IN_PROGRESS = "in_progress", pgettext_lazy("record state", "in progress")
    CONFIRMED = "confirmed", pgettext_lazy("record state", "ready to sign")
    # Signed by both sides and locked (miantan.archive).
    ARCHIVED = "archived", pgettext_lazy("record state", "signed and archived")


# While these hold, the sections can still be written.
WRITABLE_STATES = frozenset({RecordState.PREPARING, RecordState.IN_PROGRESS})


class NoteTier(models.TextChoices):
    """PRODUCT.md C6: a note moves only upwards, private → shared → formal."""

    PRIVATE = "private", pgettext_lazy("note tier", "private")
    SHARED = "shared", pgettext_lazy("note tier", "shared")
    FORMAL = "formal", pgettext_lazy("note tier", "formal")


TIER_ORDER = (NoteTier.PRIVATE, NoteTier.SHARED, NoteTier.FORMAL)


class CommentKind(models.TextChoices):
    COMMENT = "comment", pgettext_lazy("comment kind", "comment")
    # The employee asks for one line of the other side's text to be corrected (C5).
    CORRECTION = "correction", pgettext_lazy("comment kind", "please correct")


class RecordEvent(models.TextChoices):
    """Audit codes `records.<event>` and what the other side is told."""

    OPENED = "opened", pgettext_lazy("record event", "opened the record")
    SAVED = "saved", pgettext_lazy("record event", "saved a section")
    SUBMITTED = "submitted", pgettext_lazy("record event", "submitted a sealed section")
    COMMENTED = "commented", pgettext_lazy("record event", "commented")
    CONFIRMED = "confirmed", pgettext_lazy("record event", "confirmed the record")
    WITHDRAWN = "withdrawn", pgettext_lazy("record event", "confirmation withdrawn by a change")


# --- the script library (PRODUCT.md C7; records.scripts) ---------------------------------------


class ScriptStage(models.TextChoices):
    """Where in a talk a script is said, in the order a talk goes through them."""

    OPENING = "opening", pgettext_lazy("script stage", "Opening")
    OPEN_QUESTION = "open_question", pgettext_lazy("script stage", "Open question")
    EMPATHY = "empathy", pgettext_lazy("script stage", "Empathy response")
    CLOSING = "closing", pgettext_lazy("script stage", "Closing")


class ScriptScenario(models.TextChoices):
    """The kind of talk a script is written for. The values are the keys of the built-in record
    templates, so a record's template names its scenario; "general" fits every talk."""

    IMPROVEMENT = "improvement_talk", pgettext_lazy("script scenario", "Improvement talk")
    CAREER = "career_development", pgettext_lazy("script scenario", "Career development")
    ANNUAL = "annual_review", pgettext_lazy("script scenario", "Annual review")
    NEW_HIRE = "new_hire_coaching", pgettext_lazy("script scenario", "New hire")
    QUARTERLY = "quarterly_review", pgettext_lazy("script scenario", "Quarterly review")
    MONTHLY = "monthly_check_in", pgettext_lazy("script scenario", "Monthly check-in")
    GENERAL = "general", pgettext_lazy("script scenario", "Any talk")


class ScriptEmotion(models.TextChoices):
    """What an empathy response answers: the emotions the talk's cues name (PRODUCT.md C8)."""

    FRUSTRATION = "frustration", pgettext_lazy("emotion", "frustration")
    DISTRESS = "distress", pgettext_lazy("emotion", "distress")
    DISENGAGEMENT = "disengagement", pgettext_lazy("emotion", "disengagement")
    DEFENSIVENESS = "defensiveness", pgettext_lazy("emotion", "defensiveness")
