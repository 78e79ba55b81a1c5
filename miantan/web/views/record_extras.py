"""Beside a talk's record: notes in three tiers, attached files, and the after-talk feedback.

The record page (views/records.py) shows them with `extras_context`; the forms post here.
Every request first reaches the record through `records.queries.access_record` (404 outside
its readers, audited), then calls one function of `records.notes`, `.attachments` or
`.feedback`, which decides who may. A refusal of the input (an empty note, a file type that
is not accepted, a rating outside 1–5) or of the moment (the record is confirmed) comes back
as a message on the record page; nothing is changed. Downloads are never shown inline.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from miantan.core.errors import DomainError
from miantan.records import attachments, feedback, notes
from miantan.records.definitions import localized
from miantan.records.enums import NoteTier
from miantan.records.models import Record
from miantan.records.queries import RecordPage, access_record
from miantan.records.rules import may_attach, may_write_notes


def extras_context(user: Any, page: RecordPage) -> dict[str, Any]:
    """What `_notes.html`, `_attachments.html` and `_feedback.html` show, for the record page:

    - `notes`: list of `records.notes.NoteView` the viewer may read; `can_write_notes`;
      `note_tiers`: (value, label) of the three tiers for the "new note" form;
    - `attachments`: list of `records.attachments.AttachmentView`; `can_attach`;
      `attachment_sections`: (key, title) of the record's sections; `attachment_max_mb`;
    - `feedback`: `records.feedback.FeedbackView`, or None for those who do not read it.

    A colleague mentioned in a section sees that section's files only, and no notes."""
    record = page.record
    if record is None:
        return {}
    record.talk = page.talk
    context: dict[str, Any] = {
        "attachments": attachments.attachments_for(user, record),
        "can_attach": may_attach(page.side, record),
        "attachment_sections": _sections(page),
        "attachment_max_mb": f"{settings.MIANTAN_ATTACHMENT_MAX_BYTES / (1024 * 1024):g}",
    }
    if page.limited_to is None:
        context |= {
            "notes": notes.notes_for(user, record),
            "can_write_notes": may_write_notes(page.side, record),
            "note_tiers": NoteTier.choices,
            "feedback": feedback.feedback_for(user, record),
            "satisfaction_choices": list(feedback.RATING_LABELS.items()),
        }
    return context


# --- notes ------------------------------------------------------------------------------------


@login_required
@require_POST
def note_add(request: HttpRequest, talk_id: int) -> HttpResponse:
    record = _record(request, talk_id)
    tier = request.POST.get("tier") or NoteTier.PRIVATE
    try:
        notes.add_note(record, actor=request.user, body=request.POST.get("body", ""), tier=tier)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Your note was added."))
    return redirect(_anchor(talk_id, "notes"))


@login_required
@require_POST
def note_edit(request: HttpRequest, talk_id: int, note_id: int) -> HttpResponse:
    record = _record(request, talk_id)
    note = notes.access_note(request.user, record, note_id)
    try:
        notes.edit_note(note, actor=request.user, body=request.POST.get("body", ""))
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Your note was saved."))
    return redirect(_anchor(talk_id, "notes"))


@login_required
@require_POST
def note_promote(request: HttpRequest, talk_id: int, note_id: int) -> HttpResponse:
    record = _record(request, talk_id)
    note = notes.access_note(request.user, record, note_id)
    try:
        notes.promote_note(note, actor=request.user, to_tier=request.POST.get("tier", ""))
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("The note is now “%(tier)s”.") % {"tier": NoteTier(note.tier).label},
        )
    return redirect(_anchor(talk_id, "notes"))


@login_required
@require_POST
def note_delete(request: HttpRequest, talk_id: int, note_id: int) -> HttpResponse:
    record = _record(request, talk_id)
    note = notes.access_note(request.user, record, note_id)
    try:
        notes.delete_note(note, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The note was deleted."))
    return redirect(_anchor(talk_id, "notes"))


# --- attachments ------------------------------------------------------------------------------


@login_required
@require_POST
def attachment_add(request: HttpRequest, talk_id: int) -> HttpResponse:
    record = _record(request, talk_id)
    upload = request.FILES.get("file")
    try:
        attachments.add_attachment(
            record,
            actor=request.user,
            name=(upload.name or "") if upload is not None else "",
            data=attachments.read_upload(upload) if upload is not None else b"",
            section=request.POST.get("section", ""),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The file was attached."))
    return redirect(_anchor(talk_id, "attachments"))


@login_required
@require_GET
def attachment_download(request: HttpRequest, talk_id: int, attachment_id: int) -> HttpResponse:
    page = access_record(request.user, talk_id)
    record = _readable_record(page)
    download = attachments.open_attachment(request.user, record, attachment_id)
    return file_response(download)


@login_required
@require_POST
def attachment_remove(request: HttpRequest, talk_id: int, attachment_id: int) -> HttpResponse:
    record = _record(request, talk_id)
    attachment = attachments.access_attachment(request.user, record, attachment_id)
    try:
        attachments.remove_attachment(attachment, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The file was removed."))
    return redirect(_anchor(talk_id, "attachments"))


def file_response(download: attachments.Download) -> HttpResponse:
    """The file as a download that no browser shows inline or runs."""
    response = HttpResponse(download.content, content_type=download.content_type)
    for header, value in attachments.download_headers(download).items():
        response[header] = value
    return response


# --- after the talk ---------------------------------------------------------------------------


@login_required
@require_POST
def feedback_give(request: HttpRequest, talk_id: int) -> HttpResponse:
    """One form for both: the employee sends takeaways and a rating, the manager side the
    improvement requirements (the service refuses the wrong side)."""
    record = _record(request, talk_id)
    try:
        if "requirements" in request.POST:
            feedback.give_requirements(
                record, actor=request.user, requirements=request.POST.get("requirements", "")
            )
        else:
            feedback.give_feedback(
                record,
                actor=request.user,
                takeaways=request.POST.get("takeaways", ""),
                satisfaction=request.POST.get("satisfaction", ""),
            )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Thank you: your feedback was saved."))
    return redirect(_anchor(talk_id, "feedback"))


# --- helpers ----------------------------------------------------------------------------------


def _record(request: HttpRequest, talk_id: int) -> Record:
    """The record, for one who sees all of it; 404 when there is none yet or the viewer only
    reads the sections they were mentioned in (their writes end here)."""
    page = access_record(request.user, talk_id)
    if page.record is None or page.limited_to is not None:
        raise Http404
    page.record.talk = page.talk
    return page.record


def _readable_record(page: RecordPage) -> Record:
    if page.record is None:
        raise Http404
    page.record.talk = page.talk
    return page.record


def _sections(page: RecordPage) -> list[tuple[str, str]]:
    if page.definition is None:
        return []
    shown = page.limited_to
    return [
        (section.key, localized(section.title))
        for section in page.definition.sections
        if shown is None or section.key in shown
    ]


def _anchor(talk_id: Any, name: str) -> str:
    return f"{reverse('web:record', kwargs={'talk_id': talk_id})}#{name}"
