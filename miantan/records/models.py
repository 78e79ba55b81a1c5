"""Templates and their versions, the record of a talk and its blocks, with every revision,
comments, notes in three tiers, attachments, @mentions and the after-talk feedback.

All free text is sealed at rest (`miantan.core.fields`); a private note is sealed under a key
of its author (`Note.body_context`)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.core.fields import EncryptedJSONField, EncryptedTextField
from miantan.core.models import TimeStampedModel
from miantan.interviews.models import Talk
from miantan.people.models import Employee, Organisation

from .definitions import localized
from .enums import (
    CommentKind,
    NoteTier,
    RecordState,
    ScriptEmotion,
    ScriptScenario,
    ScriptStage,
    Side,
)


class Template(TimeStampedModel):
    """A kind of record (annual review, monthly check-in …) of one organisation. What it asks
    is in its versions; a talk keeps the version it started with."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    key = models.SlugField(_("key"), max_length=40)
    # {"zh-hans": "年度绩效面谈", "en": "Annual review"}
    name = models.JSONField(_("name"))
    description = models.JSONField(_("description"), default=dict, blank=True)
    # The talk topics (interviews.enums.Topic) this template is chosen for.
    topics = models.JSONField(_("topics"), default=list, blank=True)
    # The built-in template this one was made from ("" for one HR wrote).
    builtin = models.CharField(max_length=40, blank=True)
    is_active = models.BooleanField(_("in use"), default=True)
    current = models.ForeignKey(
        "TemplateVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("record template")
        verbose_name_plural = _("record templates")
        ordering = ["organisation", "key"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="template_key_per_org")
        ]

    def __str__(self) -> str:
        return localized(self.name)


class TemplateVersion(models.Model):
    """What a template asked at one time. Never changed once a record uses it."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    created_by = models.ForeignKey(
        Employee, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class Record(TimeStampedModel):
    """The written record of one talk, from the first draft to both sides' confirmation.

    `version` rises with every change of a block; a confirmation counts only for the version
    it was given at, so a change after it withdraws it."""

    talk = models.OneToOneField(Talk, on_delete=models.PROTECT, related_name="record")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    template_version = models.ForeignKey(
        TemplateVersion, on_delete=models.PROTECT, related_name="records"
    )
    state = models.CharField(
        _("state"), max_length=12, choices=RecordState.choices, default=RecordState.PREPARING
    )
    version = models.PositiveIntegerField(default=0)
    employee_confirmed_at = models.DateTimeField(null=True, blank=True)
    employee_confirmed_version = models.PositiveIntegerField(null=True, blank=True)
    manager_confirmed_at = models.DateTimeField(null=True, blank=True)
    manager_confirmed_version = models.PositiveIntegerField(null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed by both"), null=True, blank=True)
    # What the record showed beside the fields when it opened: last talk's open items, the
    # employee's missed targets ({"previous": [...], "missed": [...]}).
    hints = EncryptedJSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("talk record")
        verbose_name_plural = _("talk records")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "state"], name="record_org_state_idx")]

    def __str__(self) -> str:
        return f"record of talk {self.talk_id}"

    def confirmed_by(self, side: str) -> bool:
        """The side's confirmation holds for the record as it is now."""
        if side == Side.EMPLOYEE:
            return self.employee_confirmed_version == self.version
        if side == Side.MANAGER:
            return self.manager_confirmed_version == self.version
        return False


class Block(models.Model):
    """One section's values in a record. A sealed section filled by both sides has one block
    per side; every other section has one block (`side` "")."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="blocks")
    section = models.CharField(max_length=40)
    side = models.CharField(max_length=10, choices=Side.choices, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    values = EncryptedJSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True)
    # A sealed block is shown to the other side once both have submitted theirs.
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("record section")
        verbose_name_plural = _("record sections")
        ordering = ["record", "position", "side"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "section", "side"], name="block_one_per_section_side"
            )
        ]

    def __str__(self) -> str:
        return f"{self.record_id}/{self.section}{'/' + self.side if self.side else ''}"


class BlockRevision(models.Model):
    """A block as one save left it: every revision is kept (who, what, when)."""

    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    values = EncryptedJSONField(default=dict, blank=True, context="records.block:values")
    author = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        ordering = ["block", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["block", "version"], name="block_revision_version")
        ]

    def __str__(self) -> str:
        return f"{self.block_id} v{self.version}"


class Comment(models.Model):
    """A remark anchored to a section, for the other side to answer or act on; or a request to
    correct one line of it ("please correct", `kind` correction, the line in `quote`)."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="comments")
    section = models.CharField(max_length=40)
    kind = models.CharField(max_length=12, choices=CommentKind.choices, default=CommentKind.COMMENT)
    block = models.ForeignKey(
        Block, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    quote = EncryptedTextField(_("line"), blank=True)
    author = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["record", "created_at", "pk"]
        indexes = [models.Index(fields=["record", "section"], name="comment_record_section_idx")]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.record_id}/{self.section}"


class Note(models.Model):
    """A note about the talk (PRODUCT.md C6). `body` holds sealed text only: a private note is
    sealed under a key of its author, which no reader but the author is ever given; promoting
    it re-seals it for the record (`records.notes`)."""

    SEALED_BY_ROW = {"body": "body_context"}

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    tier = models.CharField(
        _("visibility"), max_length=10, choices=NoteTier.choices, default=NoteTier.PRIVATE
    )
    body = models.TextField(_("note (sealed)"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["record", "created_at", "pk"]
        indexes = [models.Index(fields=["record", "tier"], name="note_record_tier_idx")]

    def __str__(self) -> str:
        return f"note {self.pk} ({self.tier})"

    def body_context(self) -> str:
        if self.tier == NoteTier.PRIVATE:
            return f"records.note.private:{self.author_id}"
        return f"records.note:{self.record_id}"


def new_token() -> str:
    return uuid.uuid4().hex


class Attachment(models.Model):
    """A file added to a record (evidence, a form). Its content is sealed in a file outside
    the web root (`path`, relative to MIANTAN_ATTACHMENT_ROOT) and served only through the
    permission layer."""

    SEALED_FILES = {"path": "file_context"}

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="attachments")
    section = models.CharField(max_length=40, blank=True)
    uploaded_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    token = models.CharField(max_length=32, unique=True, default=new_token, editable=False)
    name = EncryptedTextField(_("file name"))
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["record", "created_at", "pk"]

    def __str__(self) -> str:
        return f"attachment {self.pk}"

    def file_context(self) -> str:
        return f"records.attachment:{self.token}"


class Mention(models.Model):
    """A colleague @mentioned in a section: they may read that one section of the record."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="mentions")
    section = models.CharField(max_length=40)
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="mentions")
    mentioned_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(
                fields=["record", "section", "employee"], name="mention_once_per_section"
            )
        ]
        indexes = [models.Index(fields=["employee", "record"], name="mention_employee_idx")]

    def __str__(self) -> str:
        return f"{self.employee_id} in {self.record_id}/{self.section}"


class Feedback(models.Model):
    """After the talk (PRODUCT.md C10): the employee's takeaways and rating, the manager's
    improvement requirements. Both go to the employee's file."""

    record = models.OneToOneField(Record, on_delete=models.CASCADE, related_name="feedback")
    takeaways = EncryptedTextField(_("takeaways"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    employee_at = models.DateTimeField(null=True, blank=True)
    requirements = EncryptedTextField(_("improvement requirements"), blank=True)
    manager_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("after-talk feedback")
        verbose_name_plural = _("after-talk feedback")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True)
                | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="feedback_satisfaction_range",
            )
        ]

    def __str__(self) -> str:
        return f"feedback on {self.record_id}"


# --- the script library (PRODUCT.md C7; records.scripts) ---------------------------------------


class Script(TimeStampedModel):
    """A line an interviewer may say, for one stage of one kind of talk, in Chinese and English.
    Each organisation has its own copy of the built-in scripts, which HR may change."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    scenario = models.CharField(_("kind of talk"), max_length=40, choices=ScriptScenario.choices)
    stage = models.CharField(_("stage"), max_length=20, choices=ScriptStage.choices)
    # For an empathy response: the emotion it answers ("" for any).
    emotion = models.CharField(
        _("answers"), max_length=20, choices=ScriptEmotion.choices, blank=True
    )
    # {"zh-hans": "…", "en": "…"}
    text = models.JSONField(_("text"))
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("in use"), default=True)
    # The built-in script this one was made from ("" for one HR wrote).
    builtin = models.CharField(max_length=60, blank=True)

    class Meta:
        verbose_name = _("talk script")
        verbose_name_plural = _("talk scripts")
        ordering = ["organisation", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "builtin"],
                condition=~models.Q(builtin=""),
                name="script_builtin_once_per_org",
            ),
            models.CheckConstraint(
                condition=models.Q(emotion="") | models.Q(stage="empathy"),
                name="script_emotion_only_for_empathy",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organisation", "scenario", "stage"], name="script_org_scenario_idx"
            )
        ]

    def __str__(self) -> str:
        return localized(self.text)[:60]

    def text_in(self, language: str | None = None) -> str:
        """The text in the language (else Chinese, else English)."""
        return localized(self.text, language)
