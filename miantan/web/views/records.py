"""The record of a talk: its sections filled by both sides, comments, revisions, confirmation.

Every read goes through `records.queries.access_record` (audited, 404 outside its readers);
every write through `records.services`. Section forms save with the block version they were
rendered with; autosave (static/web/record.js) posts the same form and reads a JSON answer.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from miantan.core.errors import DomainError, InvalidFields
from miantan.core.ids import as_id
from miantan.interviews.models import Talk
from miantan.interviews.queries import access_talk_to_act_on
from miantan.records import live, queries, services
from miantan.records.definitions import FieldType, localized
from miantan.records.enums import CommentKind
from miantan.records.live import database_sync_to_async
from miantan.records.models import Block, Record

from ..record_forms import values_from_post, with_blank_rows
from . import archive, record_extras, record_scripts
from .talks import brief_url


@login_required
@require_GET
def record_page(request: HttpRequest, talk_id: int) -> HttpResponse:
    page = queries.access_record(request.user, talk_id)
    return _render(request, page)


@login_required
@require_POST
def record_open(request: HttpRequest, talk_id: int) -> HttpResponse:
    """One of the two people opens the record to prepare their part."""
    talk = access_talk_to_act_on(request.user, talk_id, action="records.record.opened")
    try:
        services.open_record(talk, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect("web:talk_detail", talk_id=talk.pk)
    return redirect("web:record", talk_id=talk.pk)


@login_required
@require_POST
def block_save(request: HttpRequest, talk_id: int, block_id: int) -> HttpResponse:
    page = queries.access_record(request.user, talk_id)
    record, section, block_found = _block(page, block_id)
    values = values_from_post(section.section, request.POST, block_found.values)
    autosave = request.headers.get("X-Autosave") == "1"
    try:
        base = int(request.POST.get("version", ""))
    except ValueError:
        base = -1
    try:
        block = services.save_block(
            record, block_found.pk, actor=request.user, values=values, base_version=base
        )
    except services.StaleBlock as stale:
        theirs = queries.as_lines(section.section, stale.block.values)
        if autosave:
            return JsonResponse(
                {
                    "conflict": True,
                    "message": str(stale.message),
                    "theirs": theirs,
                    "version": stale.block.version,
                },
                status=409,
            )
        page = queries.access_record(request.user, talk_id)
        return _render(
            request,
            page,
            status=409,
            draft={stale.block.pk: values},
            conflict={stale.block.pk: (stale.message, theirs)},
        )
    except InvalidFields as invalid:
        if autosave:
            return JsonResponse(
                {"errors": {key: str(text) for key, text in invalid.errors.items()}}, status=400
            )
        page = queries.access_record(request.user, talk_id)
        return _render(
            request,
            page,
            status=400,
            draft={block_found.pk: values},
            errors={block_found.pk: [str(text) for text in invalid.errors.values()]},
        )
    except DomainError as error:
        if autosave:
            return JsonResponse({"message": str(error.message)}, status=error.status_code)
        messages.error(request, str(error.message))
        return redirect(_anchor(talk_id, section.section.key))
    if autosave:
        return JsonResponse(
            {
                "version": block.version,
                "record_version": record.version,
                "saved": time_format(timezone.localtime(block.updated_at), "H:i"),
            }
        )
    if request.POST.get("add") or request.POST.get("remove"):
        return redirect(_anchor(talk_id, section.section.key))
    messages.success(request, _("“%(section)s” was saved.") % {"section": section.title})
    return redirect(_anchor(talk_id, section.section.key))


@login_required
@require_POST
def block_submit(request: HttpRequest, talk_id: int, block_id: int) -> HttpResponse:
    page = queries.access_record(request.user, talk_id)
    record, section, block_found = _block(page, block_id)
    try:
        services.submit_block(
            record,
            block_found.pk,
            actor=request.user,
            base_version=_int(request.POST.get("version")),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("You handed in “%(section)s”; it is shown to the other side once both have.")
            % {"section": section.title},
        )
    return redirect(_anchor(talk_id, section.section.key))


@login_required
@require_GET
def block_revisions(request: HttpRequest, talk_id: int, block_id: int) -> HttpResponse:
    page, section, revisions = queries.revisions_of(request.user, talk_id, block_id)
    return render(
        request,
        "web/records/revisions.html",
        {"page": page, "talk": page.talk, "section": section, "revisions": revisions},
    )


@login_required
@require_POST
def comment_add(request: HttpRequest, talk_id: int) -> HttpResponse:
    page = queries.access_record(request.user, talk_id)
    record = _record(page)
    section = request.POST.get("section", "")
    try:
        services.add_comment(
            record, actor=request.user, section=section, body=request.POST.get("body", "")
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Your comment was added."))
    return redirect(_anchor(talk_id, section))


@login_required
@require_POST
def comment_resolve(request: HttpRequest, talk_id: int, comment_id: int) -> HttpResponse:
    page = queries.access_record(request.user, talk_id)
    record = _record(page)
    try:
        comment = services.resolve_comment(record, _int(comment_id), actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect("web:record", talk_id=talk_id)
    return redirect(_anchor(talk_id, comment.section))


@login_required
@require_POST
def record_flag(request: HttpRequest, talk_id: int, block_id: int) -> HttpResponse:
    """The employee asks for a line of the other side's text to be corrected."""
    page = queries.access_record(request.user, talk_id)
    record, section, block_found = _block(page, block_id)
    try:
        services.flag_line(
            record,
            block_found.pk,
            actor=request.user,
            line=request.POST.get("line", ""),
            note=request.POST.get("note", ""),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Your request to correct the line was sent."))
    return redirect(_anchor(talk_id, section.section.key))


#: The longest a polling request waits for a change before answering "nothing new": well under
#: the minute after which proxies commonly give up on a quiet request.
LONGEST_WAIT_SECONDS = 25


@login_required
@require_GET
async def record_live(request: HttpRequest, talk_id: int) -> HttpResponse:
    """The polling fallback of the live room (long polling). `?stamp=` is what the page last
    received; the answer is the new stamp and the sections that changed since, as the viewer
    sees them now (all of them without a stamp). With `?wait=N` and nothing new yet, the request
    waits up to N seconds (at most LONGEST_WAIT_SECONDS) for the room to hear of a change and
    answers as soon as it does, so an edit shows on the other side as fast as over the
    WebSocket. While it waits it holds no database connection. `waited` in the answer says
    whether it could wait: a server without an event loop (WSGI) answers at once, and the page
    then asks again after `poll_seconds`. Who may see the record is read afresh every time."""
    user = await request.auser()
    known = queries.decode_stamps(request.GET.get("stamp", ""))
    wait = min(max(_int(request.GET.get("wait")), 0), LONGEST_WAIT_SECONDS)
    if not isinstance(request, ASGIRequest) or not known:
        wait = 0
    read = database_sync_to_async(_live_answer, request=True)
    async with live.listening(talk_id if wait else None) as heard:
        if heard is None:
            wait = 0
        answer = await read(user, talk_id, known)
        unchanged = answer is not None and answer["stamp"] == queries.encode_stamps(known)
        if heard is not None and wait and unchanged:
            # Nothing new: free this request's database connection, then wait for the room.
            await sync_to_async(connections.close_all)()
            if await heard(wait):
                answer = await read(user, talk_id, known)
    if answer is None:
        # Answered here rather than by raising Http404: Django renders an async view's error
        # page in a worker thread, and the connection its context processors open there stays
        # out of the pool until that thread happens to close it.
        return JsonResponse({}, status=404, headers={"Cache-Control": "no-store"})
    answer["waited"] = bool(wait)
    return JsonResponse(answer, headers={"Cache-Control": "no-store"})


def _live_answer(user: Any, talk_id: Any, known: dict[str, str]) -> dict[str, Any] | None:
    member = live.member(user.pk, talk_id)
    record = (
        Record.objects.filter(talk_id=as_id(talk_id) or 0).only("pk", "state", "version").first()
    )
    if member is None or record is None:
        return None
    stamps = queries.live_stamps(record)
    changed = [
        key
        for key, value in stamps.items()
        if not key.startswith("_") and known.get(key) != value and member.sees(key)
    ]
    sections = [
        payload for key in changed if (payload := section_payload(user, talk_id, key)) is not None
    ]
    return {"stamp": queries.encode_stamps(stamps), "state": record.state, "sections": sections}


@login_required
@require_POST
def record_confirm(request: HttpRequest, talk_id: int) -> HttpResponse:
    page = queries.access_record(request.user, talk_id)
    record = _record(page)
    try:
        confirmed = services.confirm_record(
            record, actor=request.user, version=_int(request.POST.get("version"))
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        if confirmed.confirmed_at is not None:
            messages.success(request, _("Both sides confirmed: the record is ready to sign."))
        else:
            messages.success(request, _("You confirmed the record."))
    return redirect("web:record", talk_id=talk_id)


# --- helpers ----------------------------------------------------------------------------------


def _record(page: queries.RecordPage) -> Record:
    if page.record is None or page.limited_to is not None:
        raise Http404
    return page.record


def _block(page: queries.RecordPage, block_id: Any) -> tuple[Record, queries.SectionView, Block]:
    record = _record(page)
    found = queries.readable_block(page, block_id)
    if found is None:
        raise Http404
    section, view = found
    return record, section, view.block


def _anchor(talk_id: Any, section: str) -> str:
    from django.urls import reverse

    return f"{reverse('web:record', args=[as_id(talk_id) or 0])}#section-{section}"


def _int(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


def _render(
    request: HttpRequest,
    page: queries.RecordPage,
    *,
    status: int = 200,
    draft: dict[int, dict[str, Any]] | None = None,
    conflict: dict[int, tuple[Any, list[str]]] | None = None,
    errors: dict[int, list[str]] | None = None,
) -> HttpResponse:
    """The record page. `draft` holds what somebody typed into a block whose save was
    refused: it is shown in the form again, beside the newer text (`conflict`) or the errors."""
    draft, conflict, errors = draft or {}, conflict or {}, errors or {}
    sections = [_section_item(view, draft, conflict, errors) for view in page.sections]
    talk: Talk = page.talk
    context = {
        "page": page,
        "talk": talk,
        "record": page.record,
        "side": page.side,
        "sections": sections,
        "hints": page.record.hints if page.record is not None and page.limited_to is None else {},
        "poll_seconds": settings.MIANTAN_LIVE_POLL_SECONDS,
        "template_name": localized(page.record.template_version.template.name)
        if page.record is not None
        else "",
    }
    if page.limited_to is None:
        context["brief_url"] = brief_url(request.user, talk)
    context.update(_extras(request, page))
    context.update(archive.signing_context(request.user, page))
    return render(request, "web/records/page.html", context, status=status)


def _section_item(
    view: queries.SectionView,
    draft: dict[int, dict[str, Any]],
    conflict: dict[int, tuple[Any, list[str]]],
    errors: dict[int, list[str]],
) -> dict[str, Any]:
    """What `_section.html` shows of one section: each block as a form or as lines (with the
    open "please correct" flags beside their lines), the comments."""
    blocks = []
    for block_view in view.blocks:
        pk = block_view.block.pk
        values = draft.get(pk, block_view.values)
        flags = [
            c
            for c in view.comments
            if c.kind == CommentKind.CORRECTION and c.block_id == pk and c.resolved_at is None
        ]
        flagged = {c.quote: c for c in flags}
        lines = queries.as_lines(view.section, block_view.values) if block_view.readable else []
        blocks.append(
            {
                "view": block_view,
                "entries": _inputs(view, with_blank_rows(view.section, values))
                if block_view.writable
                else [],
                "conflict": conflict.get(pk),
                "errors": errors.get(pk, []),
                "lines": [(line, flagged.get(line)) for line in lines],
                "flags": flags,
            }
        )
    remarks = [c for c in view.comments if c.kind != CommentKind.CORRECTION or c.resolved_at]
    return {"view": view, "blocks": blocks, "remarks": remarks}


def section_payload(user: Any, talk_id: Any, section_key: str) -> dict[str, Any] | None:
    """One section of the record as `user` sees it now, rendered, with its blocks' versions
    and text lines: what the live room sends when the section changed. None when the user may
    not see the record or the section (any more). Not audited: the visit is, on opening."""
    try:
        page = queries.access_record(user, talk_id, audit=False)
    except Http404:
        return None
    view = next((v for v in page.sections if v.section.key == section_key), None)
    if page.record is None or view is None:
        return None
    item = _section_item(view, {}, {}, {})
    html = render_to_string(
        "web/records/_section.html",
        {
            "page": page,
            "talk": page.talk,
            "record": page.record,
            "side": page.side,
            "item": item,
            "section": view,
            "user": user,
        },
    )
    return {
        "section": section_key,
        "html": html,
        "record_version": page.record.version,
        "blocks": {
            str(block["view"].block.pk): {
                "version": block["view"].block.version,
                "by": block["view"].block.updated_by_id,
                "lines": [line for line, _flag in block["lines"]],
            }
            for block in item["blocks"]
        },
    }


def _inputs(view: queries.SectionView, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs of each entry of a section form (one entry for a plain section): name,
    label, help, type and value of every field, with the rows of goal lists and KPI tables."""
    section = view.section
    entries = list(values.get("items") or []) if section.repeatable else [values]
    shown = []
    for number, entry in enumerate(entries):
        prefix = f"f-{number}-" if section.repeatable else "f-"
        fields = []
        for spec in section.fields:
            name = prefix + spec.key
            value = entry.get(spec.key)
            field: dict[str, Any] = {
                "spec": spec,
                "name": name,
                "id": f"{name}-{view.section.key}",
                "label": localized(spec.label),
                "help": localized(spec.help),
                "type": str(spec.type),
                "value": "" if value is None else value,
                "required": spec.required,
            }
            if spec.type == FieldType.RATING:
                field["steps"] = spec.rating_steps()
                field["value"] = str(value) if value is not None else ""
            elif spec.type == FieldType.CHOICE:
                field["choices"] = [(c.value, localized(c.label)) for c in spec.choices]
            elif spec.type in (FieldType.GOALS, FieldType.KPI_TABLE):
                field["rows"] = list(value or [])
            fields.append(field)
        shown.append({"number": number, "fields": fields})
    return shown


def _extras(request: HttpRequest, page: queries.RecordPage) -> dict[str, Any]:
    """Notes, attachments and feedback of the record, as the viewer may see them."""
    if page.record is None:
        return {}
    return {
        **record_extras.extras_context(request.user, page),
        **record_scripts.scripts_for_record(request.user, page),
    }
