"""After the talk (PRODUCT.md C10): the employee's takeaways and satisfaction rating (1–5), the
manager side's improvement requirements.

Both are written once the talk has been held (the record is in progress, confirmed or later)
and stay editable by whoever wrote them. They belong to the employee's file: whoever may see
the talk reads them (`feedback_for`, `feedback_in_file`), and the ratings feed the metrics
(`satisfaction_ratings`: per employee, department or month, over a period). Writes and reads
are audited (`records.feedback.*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Avg, Count, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import ConflictError, InvalidFields
from miantan.interviews.queries import talks_visible_to
from miantan.people.models import Employee

from .enums import RecordState, Side
from .models import Feedback, Record
from .rules import (
    follows,
    may_give_feedback,
    may_give_requirements,
    side_of,
)

MAX_TEXT = 5000
RATINGS = range(1, 6)
RATING_LABELS = {
    1: pgettext_lazy("satisfaction", "very dissatisfied"),
    2: pgettext_lazy("satisfaction", "dissatisfied"),
    3: pgettext_lazy("satisfaction", "neither"),
    4: pgettext_lazy("satisfaction", "satisfied"),
    5: pgettext_lazy("satisfaction", "very satisfied"),
}


class InvalidFeedback(InvalidFields):
    error_code = "invalid_feedback"


@dataclass(frozen=True)
class FeedbackView:
    """The after-talk feedback of one record as a reader sees it, and what they may write."""

    feedback: Feedback | None
    can_give_feedback: bool
    can_give_requirements: bool

    @property
    def takeaways(self) -> str:
        return self.feedback.takeaways if self.feedback is not None else ""

    @property
    def satisfaction(self) -> int | None:
        return self.feedback.satisfaction if self.feedback is not None else None

    @property
    def requirements(self) -> str:
        return self.feedback.requirements if self.feedback is not None else ""

    @property
    def satisfaction_label(self) -> str:
        rating = self.satisfaction
        return str(RATING_LABELS[rating]) if rating in RATING_LABELS else ""

    @property
    def given(self) -> bool:
        return self.feedback is not None and (
            self.feedback.employee_at is not None or self.feedback.manager_at is not None
        )


# --- writing ----------------------------------------------------------------------------------


def give_feedback(record: Record, *, actor: Any, takeaways: str, satisfaction: Any) -> Feedback:
    """The employee's takeaways and how satisfied they were with the talk (1–5); a second
    call changes them."""
    side = side_of(actor, record.talk)
    if not may_give_feedback(side, record):
        _refuse_or_wait("records.feedback.given", actor, record, side == Side.EMPLOYEE)
    rating = _rating(satisfaction)
    text = _text(takeaways, "takeaways", required=False)
    with transaction.atomic():
        feedback = _locked_feedback(record)
        feedback.takeaways, feedback.satisfaction = text, rating
        feedback.employee_at = timezone.now()
        feedback.save(update_fields=["takeaways", "satisfaction", "employee_at"])
        _audit("records.feedback.given", actor, record, feedback, {"satisfaction": rating})
    return feedback


def give_requirements(record: Record, *, actor: Any, requirements: str) -> Feedback:
    """The manager side's improvement requirements for the employee; a second call changes
    them."""
    side = side_of(actor, record.talk)
    if not may_give_requirements(side, record):
        _refuse_or_wait("records.feedback.requirements_given", actor, record, side == Side.MANAGER)
    text = _text(requirements, "requirements", required=True)
    with transaction.atomic():
        feedback = _locked_feedback(record)
        feedback.requirements = text
        feedback.manager_at = timezone.now()
        feedback.save(update_fields=["requirements", "manager_at"])
        _audit("records.feedback.requirements_given", actor, record, feedback, {})
    return feedback


def _locked_feedback(record: Record) -> Feedback:
    """The record's feedback row, locked for the change (made on the first write)."""
    Feedback.objects.get_or_create(record=record)
    return Feedback.objects.select_for_update().get(record=record)


def _rating(value: Any) -> int:
    try:
        rating = int(str(value).strip())
    except (TypeError, ValueError):
        rating = 0
    if rating not in RATINGS:
        raise InvalidFeedback({"satisfaction": _("Choose a rating from 1 to 5.")})
    return rating


def _text(value: Any, field: str, *, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidFeedback({field: _("Write something first.")})
    if len(text) > MAX_TEXT:
        raise InvalidFeedback(
            {
                field: _("Keep it to %(limit)s characters (it has %(length)s).")
                % {"limit": MAX_TEXT, "length": len(text)}
            }
        )
    return text


# --- reading ----------------------------------------------------------------------------------


def feedback_for(user: Any, record: Record) -> FeedbackView | None:
    """The record's after-talk feedback for someone who may see the whole record (None for
    the others, such as a colleague mentioned in one section). Audited when there is some."""
    talk = record.talk
    side = side_of(user, talk)
    if side is None and not follows(user, talk):
        return None
    feedback = Feedback.objects.filter(record=record).first()
    if feedback is not None:
        _audit("records.feedback.viewed", user, record, feedback, {})
    return FeedbackView(
        feedback=feedback,
        can_give_feedback=may_give_feedback(side, record),
        can_give_requirements=may_give_requirements(side, record),
    )


@dataclass(frozen=True)
class FileEntry:
    """One talk's feedback in the employee's file."""

    feedback: Feedback
    talk_id: int
    topic: str
    held_on: datetime | None
    counterpart: str


def feedback_in_file(employee: Employee, *, viewer: Any, limit: int = 10) -> list[FileEntry]:
    """The after-talk feedback of the employee's talks that the viewer may see, newest first
    (for the profile). One query; audited as one reading when there is any."""
    talks = talks_visible_to(viewer).filter(employee_id=employee.pk)
    rows = list(
        Feedback.objects.filter(record__talk__in=talks)
        .select_related("record__talk__counterpart")
        .order_by("-record__created_at", "-pk")[:limit]
    )
    if rows:
        audit(
            "records.feedback.viewed",
            actor=viewer,
            object_type="people.employee",
            object_id=employee.pk,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"records": [row.record_id for row in rows]},
        )
    return [
        FileEntry(
            feedback=row,
            talk_id=row.record.talk_id,
            topic=str(row.record.talk.get_topic_display()),
            held_on=row.record.talk.scheduled_start,
            counterpart=row.record.talk.counterpart.name,
        )
        for row in rows
    ]


# --- metrics ----------------------------------------------------------------------------------

Grouping = Literal["employee", "department", "month"]


@dataclass(frozen=True)
class SatisfactionGroup:
    """The ratings of one employee, department or month: how many, and their average."""

    key: Any
    count: int
    average: float


def satisfaction_ratings(
    organisation_id: int,
    *,
    by: Grouping,
    since: datetime | None = None,
    until: datetime | None = None,
    department_ids: list[int] | None = None,
) -> list[SatisfactionGroup]:
    """Satisfaction ratings of the organisation's talks, rated in [since, until), grouped by
    the talk's employee (key: employee id), the employee's department (department id) or the
    month the rating was given (the first moment of that month, in the current time zone).
    For the metrics (G1): callers decide who may see which groups and hide groups that are
    too small."""
    ratings = _ratings(organisation_id, since=since, until=until, department_ids=department_ids)
    column = {
        "employee": "record__talk__employee_id",
        "department": "record__talk__employee__department_id",
        "month": "month",
    }[by]
    if by == "month":
        ratings = ratings.annotate(month=TruncMonth("employee_at"))
    rows = ratings.values(column).annotate(count=Count("pk"), average=Avg("satisfaction"))
    return [
        SatisfactionGroup(key=row[column], count=row["count"], average=float(row["average"]))
        for row in rows.order_by(column)
    ]


def _ratings(
    organisation_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    department_ids: list[int] | None,
) -> QuerySet[Feedback]:
    ratings = Feedback.objects.filter(
        record__organisation_id=organisation_id,
        satisfaction__isnull=False,
        employee_at__isnull=False,
    ).exclude(record__state=RecordState.PREPARING)
    if since is not None:
        ratings = ratings.filter(employee_at__gte=since)
    if until is not None:
        ratings = ratings.filter(employee_at__lt=until)
    if department_ids is not None:
        ratings = ratings.filter(record__talk__employee__department_id__in=department_ids)
    return ratings


# --- audit ------------------------------------------------------------------------------------


def _audit(
    action: str, actor: Any, record: Record, feedback: Feedback, data: dict[str, Any]
) -> None:
    talk = record.talk
    audit(
        action,
        actor=actor,
        obj=feedback,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data=data or None,
    )


def _refuse_or_wait(action: str, actor: Any, record: Record, writer: bool) -> NoReturn:
    """The writer comes too early (409: the talk has not been held yet); anyone else is
    refused (403, audited)."""
    if writer:
        raise ConflictError(
            _("After-talk feedback is given once the talk has been held."), code="not_yet"
        )
    talk = record.talk
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    raise PermissionDenied
