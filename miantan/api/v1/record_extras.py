"""Notes, attachments and after-talk feedback of a talk's record over the API: the same
functions as the record page (`records.notes`, `.attachments`, `.feedback`), the same rules.

Every operation first reaches the record through `records.queries.access_record`: 404 for
those who may not see it (audited), and for a talk without a record yet. A colleague
mentioned in a section reaches that section's files only. Notes answer by tier: another
author's private note does not exist for the reader (404), whoever they are. Bodies are JSON,
except an upload (multipart/form-data with `file` and optional `section`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from miantan.records import attachments, feedback, notes
from miantan.records.enums import NoteTier
from miantan.records.models import Note, Record
from miantan.records.queries import access_record

from .bodies import FieldErrorsOut, answer_refusals, body_of, parse
from .schemas import ErrorOut, PersonRef

router = Router(tags=["record notes, files and feedback"])

In = TypeVar("In", bound=Schema)


# --- what the API returns ---------------------------------------------------------------------


class NoteOut(Schema):
    id: int
    tier: str = Field(description="private | shared | formal")
    text: str
    author: PersonRef
    mine: bool
    editable: bool = Field(description="I wrote it and the record is still written")
    promotable_to: list[str] = Field(description="the tiers I may still show it to")
    created_at: datetime
    updated_at: datetime
    promoted_at: datetime | None


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    section: str = Field(description="the section it belongs to, '' for the whole record")
    uploaded_by: PersonRef
    created_at: datetime
    removable: bool


class FeedbackOut(Schema):
    takeaways: str
    satisfaction: int | None = Field(description="1 (very dissatisfied) to 5 (very satisfied)")
    employee_at: datetime | None
    requirements: str
    manager_at: datetime | None
    can_give_feedback: bool
    can_give_requirements: bool


router.add_decorator(answer_refusals)

REFUSED: dict[int, type[Schema]] = {
    400: FieldErrorsOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
}


# --- what it takes ----------------------------------------------------------------------------


class NoteIn(Schema):
    body: str = Field(description="the note's text, up to 5000 characters")
    tier: str = Field(default=NoteTier.PRIVATE, description="private | shared | formal")


class NoteTextIn(Schema):
    body: str


class PromotionIn(Schema):
    tier: str = Field(description="shared | formal: only upwards")


class FeedbackIn(Schema):
    satisfaction: int = Field(description="1 to 5")
    takeaways: str = ""


class RequirementsIn(Schema):
    requirements: str


UPLOAD_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "section": {"type": "string", "description": "a section key, optional"},
                    },
                    "required": ["file"],
                }
            }
        },
        "required": True,
    }
}
DOWNLOAD = {
    "responses": {
        "200": {
            "description": "The file, as an attachment, with the content type read from it.",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    }
}


# --- notes ------------------------------------------------------------------------------------


@router.get("/talks/{int:talk_id}/record/notes", response={200: list[NoteOut], 404: ErrorOut})
def list_record_notes(request: HttpRequest, talk_id: int) -> object:
    """The notes I may read: my private ones, the shared ones if I am one of the two people,
    the formal ones. Audited as `records.note.viewed`."""
    record = _record(request, talk_id)
    return [_note(view) for view in notes.notes_for(request.user, record)]


@router.post(
    "/talks/{int:talk_id}/record/notes",
    response={201: NoteOut, **REFUSED},
    openapi_extra=body_of(NoteIn),
)
def add_record_note(request: HttpRequest, talk_id: int) -> object:
    """A new note by one of the two people (private unless `tier` says otherwise), while the
    record is written; 409 once it is confirmed."""
    record = _record(request, talk_id)
    data = parse(NoteIn, request)
    note = notes.add_note(record, actor=request.user, body=data.body, tier=data.tier)
    return Status(201, _own_note(request, note))


@router.put(
    "/talks/{int:talk_id}/record/notes/{int:note_id}",
    response={200: NoteOut, **REFUSED},
    openapi_extra=body_of(NoteTextIn),
)
def edit_record_note(request: HttpRequest, talk_id: int, note_id: int) -> object:
    """Change the text of my note (it keeps its tier)."""
    record = _record(request, talk_id)
    note = notes.access_note(request.user, record, note_id)
    data = parse(NoteTextIn, request)
    notes.edit_note(note, actor=request.user, body=data.body)
    return _own_note(request, note)


@router.post(
    "/talks/{int:talk_id}/record/notes/{int:note_id}/promote",
    response={200: NoteOut, **REFUSED},
    openapi_extra=body_of(PromotionIn),
)
def promote_record_note(request: HttpRequest, talk_id: int, note_id: int) -> object:
    """Show my note to more people: private → shared → formal, never back (409)."""
    record = _record(request, talk_id)
    note = notes.access_note(request.user, record, note_id)
    data = parse(PromotionIn, request)
    notes.promote_note(note, actor=request.user, to_tier=data.tier)
    return _own_note(request, note)


@router.post(
    "/talks/{int:talk_id}/record/notes/{int:note_id}/delete",
    response={204: None, **REFUSED},
)
def delete_record_note(request: HttpRequest, talk_id: int, note_id: int) -> object:
    """Delete my note while the record is written."""
    record = _record(request, talk_id)
    note = notes.access_note(request.user, record, note_id)
    notes.delete_note(note, actor=request.user)
    return Status(204, None)


# --- attachments ------------------------------------------------------------------------------


@router.get(
    "/talks/{int:talk_id}/record/attachments",
    response={200: list[AttachmentOut], 404: ErrorOut},
)
def list_record_attachments(request: HttpRequest, talk_id: int) -> object:
    """The files I may open: all of them, or those of the sections I was mentioned in."""
    record = _readable(request, talk_id)
    return [_attachment(view) for view in attachments.attachments_for(request.user, record)]


@router.post(
    "/talks/{int:talk_id}/record/attachments",
    response={201: AttachmentOut, **REFUSED},
    openapi_extra=UPLOAD_BODY,
)
def upload_record_attachment(request: HttpRequest, talk_id: int) -> object:
    """Attach a file (multipart: `file`, optional `section`). Accepted by its content: PDF,
    PNG, JPEG, GIF, WebP, docx, xlsx, pptx, UTF-8 text and CSV, up to
    MIANTAN_ATTACHMENT_MAX_BYTES; anything else answers 400 and nothing is stored."""
    record = _record(request, talk_id)
    upload = request.FILES.get("file")
    attachment = attachments.add_attachment(
        record,
        actor=request.user,
        name=(upload.name or "") if upload is not None else "",
        data=attachments.read_upload(upload) if upload is not None else b"",
        section=str(request.POST.get("section", "")),
    )
    return Status(201, _one_attachment(request, record, attachment.pk))


@router.get(
    "/talks/{int:talk_id}/record/attachments/{int:attachment_id}",
    response={404: ErrorOut},
    openapi_extra=DOWNLOAD,
)
def download_record_attachment(request: HttpRequest, talk_id: int, attachment_id: int) -> Any:
    """The file itself, as a download (`Content-Disposition: attachment`, never rendered).
    Audited as `records.attachment.viewed`."""
    record = _readable(request, talk_id)
    download = attachments.open_attachment(request.user, record, attachment_id)
    response = HttpResponse(download.content, content_type=download.content_type)
    for header, value in attachments.download_headers(download).items():
        response[header] = value
    return response


@router.post(
    "/talks/{int:talk_id}/record/attachments/{int:attachment_id}/remove",
    response={204: None, **REFUSED},
)
def remove_record_attachment(request: HttpRequest, talk_id: int, attachment_id: int) -> object:
    """Take back a file I attached, while the record is written."""
    record = _record(request, talk_id)
    attachment = attachments.access_attachment(request.user, record, attachment_id)
    attachments.remove_attachment(attachment, actor=request.user)
    return Status(204, None)


# --- after the talk ---------------------------------------------------------------------------


@router.get("/talks/{int:talk_id}/record/feedback", response={200: FeedbackOut, 404: ErrorOut})
def get_record_feedback(request: HttpRequest, talk_id: int) -> object:
    """The employee's takeaways and rating and the manager's requirements, and which of them
    I may write."""
    record = _record(request, talk_id)
    return _feedback(request, record)


@router.put(
    "/talks/{int:talk_id}/record/feedback/employee",
    response={200: FeedbackOut, **REFUSED},
    openapi_extra=body_of(FeedbackIn),
)
def give_record_feedback(request: HttpRequest, talk_id: int) -> object:
    """The employee's takeaways and satisfaction (1–5), once the talk has been held (409
    before)."""
    record = _record(request, talk_id)
    data = parse(FeedbackIn, request)
    feedback.give_feedback(
        record, actor=request.user, takeaways=data.takeaways, satisfaction=data.satisfaction
    )
    return _feedback(request, record)


@router.put(
    "/talks/{int:talk_id}/record/feedback/manager",
    response={200: FeedbackOut, **REFUSED},
    openapi_extra=body_of(RequirementsIn),
)
def give_record_requirements(request: HttpRequest, talk_id: int) -> object:
    """The manager side's improvement requirements, once the talk has been held."""
    record = _record(request, talk_id)
    data = parse(RequirementsIn, request)
    feedback.give_requirements(record, actor=request.user, requirements=data.requirements)
    return _feedback(request, record)


# --- helpers ----------------------------------------------------------------------------------


def _record(request: HttpRequest, talk_id: int) -> Record:
    """The record for one who reads all of it; 404 otherwise (also before it is opened)."""
    page = access_record(request.user, talk_id)
    if page.record is None or page.limited_to is not None:
        raise Http404
    page.record.talk = page.talk
    return page.record


def _readable(request: HttpRequest, talk_id: int) -> Record:
    """The record for anyone who reads some of it (mentioned colleagues included)."""
    page = access_record(request.user, talk_id)
    if page.record is None:
        raise Http404
    page.record.talk = page.talk
    return page.record


def _note(view: notes.NoteView) -> dict[str, Any]:
    note = view.note
    return {
        "id": note.pk,
        "tier": note.tier,
        "text": view.text,
        "author": note.author,
        "mine": view.mine,
        "editable": view.editable,
        "promotable_to": list(view.promotable_to),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "promoted_at": note.promoted_at,
    }


def _own_note(request: HttpRequest, note: Note) -> dict[str, Any]:
    return _note(notes.view_of(request.user, note))


def _attachment(view: attachments.AttachmentView) -> dict[str, Any]:
    attachment = view.attachment
    return {
        "id": attachment.pk,
        "name": view.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "section": attachment.section,
        "uploaded_by": attachment.uploaded_by,
        "created_at": attachment.created_at,
        "removable": view.removable,
    }


def _one_attachment(request: HttpRequest, record: Record, pk: int) -> dict[str, Any]:
    view = next(v for v in attachments.attachments_for(request.user, record) if v.pk == pk)
    return _attachment(view)


def _feedback(request: HttpRequest, record: Record) -> dict[str, Any]:
    view = feedback.feedback_for(request.user, record)
    if view is None:
        raise Http404
    row = view.feedback
    return {
        "takeaways": view.takeaways,
        "satisfaction": view.satisfaction,
        "employee_at": row.employee_at if row is not None else None,
        "requirements": view.requirements,
        "manager_at": row.manager_at if row is not None else None,
        "can_give_feedback": view.can_give_feedback,
        "can_give_requirements": view.can_give_requirements,
    }
