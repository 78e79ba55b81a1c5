"""The record of a talk over the API: the same capabilities as the record page. Read the record
as the caller may see it, open it, save a section's values on the version last read, hand in a
sealed section, comment, read revisions, confirm.

Reads go through `records.queries.access_record` (404 outside its readers, audited), writes
through `records.services`. A save based on an old block version answers 409 `stale` with the
block as it is now, so a client can show the other side's text and merge.
"""

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status

from miantan.core.errors import InvalidFields
from miantan.interviews.queries import access_talk_to_act_on
from miantan.records import queries, services
from miantan.records.definitions import localized
from miantan.records.models import Block, Comment

from .bodies import body_of, parse
from .schemas import ErrorOut, PersonRef

router = Router(tags=["records"])


# --- what the API returns ---------------------------------------------------------------------


class BlockOut(Schema):
    id: int
    side: str
    version: int
    readable: bool
    writable: bool
    submittable: bool
    values: dict[str, Any] | None
    updated_by: PersonRef | None
    updated_at: datetime | None
    submitted_at: datetime | None
    revisions: int


class CommentOut(Schema):
    id: int
    section: str
    author: PersonRef
    body: str
    created_at: datetime
    resolved_at: datetime | None


class SectionOut(Schema):
    key: str
    title: str
    filled_by: str
    sealed: bool
    repeatable: bool
    mine: bool
    blocks: list[BlockOut]
    comments: list[CommentOut]


class TemplateRef(Schema):
    id: int
    key: str
    name: str
    version: int


class ConfirmationOut(Schema):
    side: str
    confirmed: bool
    at: datetime | None


class RecordOut(Schema):
    talk_id: int
    id: int | None
    state: str | None
    version: int | None
    side: str | None
    template: TemplateRef | None
    sections: list[SectionOut]
    confirmations: list[ConfirmationOut]
    can_open: bool
    can_confirm: bool
    can_comment: bool
    missing: list[str]
    next_step: str


class RevisionOut(Schema):
    version: int
    author: PersonRef
    at: datetime
    values: dict[str, Any]
    changes: list[list[str]]


class StaleOut(Schema):
    detail: str
    code: str
    block: BlockOut


class InvalidOut(Schema):
    detail: str
    code: str
    errors: dict[str, str]


# --- what the API takes -----------------------------------------------------------------------


class BlockIn(Schema):
    version: int
    values: dict[str, Any]


class VersionIn(Schema):
    version: int


class CommentIn(Schema):
    section: str
    body: str


REFUSED: dict[int, Any] = {400: InvalidOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


# --- endpoints --------------------------------------------------------------------------------


@router.get("/talks/{int:talk_id}/record", response={200: RecordOut, 404: ErrorOut})
def read_record(request: HttpRequest, talk_id: int) -> object:
    """The record as the caller may see it: the other side's copy of a sealed section only
    once both are handed in; a mentioned colleague sees only the sections that mention them."""
    return _record_out(queries.access_record(request.user, talk_id))


@router.post("/talks/{int:talk_id}/record", response={201: RecordOut, **REFUSED})
def open_record(request: HttpRequest, talk_id: int) -> object:
    """One of the two people opens the record of a scheduled or started talk."""
    talk = access_talk_to_act_on(request.user, talk_id, action="records.record.opened")
    services.open_record(talk, actor=request.user)
    return Status(201, _record_out(queries.access_record(request.user, talk_id)))


@router.put(
    "/talks/{int:talk_id}/record/blocks/{int:block_id}",
    response={200: BlockOut, 400: InvalidOut, 403: ErrorOut, 404: ErrorOut, 409: StaleOut},
    openapi_extra=body_of(BlockIn),
)
def save_block(request: HttpRequest, talk_id: int, block_id: int) -> object:
    """Save one section's values (the whole section), based on the block `version` last read.
    409 `stale` with the block as it is now when somebody saved it since."""
    page = queries.access_record(request.user, talk_id)
    record, found = _block(page, block_id)
    data = parse(BlockIn, request)
    try:
        block = services.save_block(
            record,
            found.pk,
            actor=request.user,
            values=data.values,
            base_version=data.version,
        )
    except services.StaleBlock as stale:
        current = _view_of(queries.access_record(request.user, talk_id), stale.block.pk)
        return Status(
            409, {"detail": str(stale.message), "code": "stale", "block": _block_out(current)}
        )
    except InvalidFields as invalid:
        return Status(400, _invalid(invalid))
    return _block_out(_view_of(queries.access_record(request.user, talk_id), block.pk))


@router.post(
    "/talks/{int:talk_id}/record/blocks/{int:block_id}/submit",
    response={200: BlockOut, **REFUSED},
    openapi_extra=body_of(VersionIn),
)
def submit_block(request: HttpRequest, talk_id: int, block_id: int) -> object:
    """Hand in one's copy of a sealed section; it is shown to the other side once both have."""
    page = queries.access_record(request.user, talk_id)
    record, found = _block(page, block_id)
    data = parse(VersionIn, request)
    services.submit_block(record, found.pk, actor=request.user, base_version=data.version)
    return _block_out(_view_of(queries.access_record(request.user, talk_id), found.pk))


@router.get(
    "/talks/{int:talk_id}/record/blocks/{int:block_id}/revisions",
    response={200: list[RevisionOut], 404: ErrorOut},
)
def block_revisions(request: HttpRequest, talk_id: int, block_id: int) -> object:
    """Every revision of a block, newest first, with the lines it added ("+") and removed
    ("-") against the one before."""
    _page, _section, revisions = queries.revisions_of(request.user, talk_id, block_id)
    return [
        {
            "version": item.revision.version,
            "author": item.revision.author,
            "at": item.revision.at,
            "values": item.revision.values,
            "changes": [[mark, line] for mark, line in item.changes],
        }
        for item in revisions
    ]


@router.post(
    "/talks/{int:talk_id}/record/comments",
    response={201: CommentOut, **REFUSED},
    openapi_extra=body_of(CommentIn),
)
def add_comment(request: HttpRequest, talk_id: int) -> object:
    """Comment on a section; "@name" or "@employee number" lets that colleague read it."""
    record = _record(queries.access_record(request.user, talk_id))
    data = parse(CommentIn, request)
    try:
        comment = services.add_comment(
            record, actor=request.user, section=data.section, body=data.body
        )
    except InvalidFields as invalid:
        return Status(400, _invalid(invalid))
    return Status(201, _comment_out(comment))


@router.post(
    "/talks/{int:talk_id}/record/comments/{int:comment_id}/resolve",
    response={200: CommentOut, **REFUSED},
)
def resolve_comment(request: HttpRequest, talk_id: int, comment_id: int) -> object:
    """Mark a comment as dealt with (either of the two people)."""
    record = _record(queries.access_record(request.user, talk_id))
    return _comment_out(services.resolve_comment(record, comment_id, actor=request.user))


@router.post(
    "/talks/{int:talk_id}/record/confirm",
    response={200: RecordOut, **REFUSED},
    openapi_extra=body_of(VersionIn),
)
def confirm_record(request: HttpRequest, talk_id: int) -> object:
    """Confirm the record as read at `version`; once both sides have, it is ready to sign."""
    record = _record(queries.access_record(request.user, talk_id))
    data = parse(VersionIn, request)
    services.confirm_record(record, actor=request.user, version=data.version)
    return _record_out(queries.access_record(request.user, talk_id))


# --- helpers ----------------------------------------------------------------------------------


def _record(page: queries.RecordPage) -> Any:
    if page.record is None or page.limited_to is not None:
        raise Http404
    return page.record


def _block(page: queries.RecordPage, block_id: Any) -> tuple[Any, Block]:
    record = _record(page)
    return record, _view_of(page, block_id).block


def _view_of(page: queries.RecordPage, block_id: Any) -> queries.BlockView:
    found = queries.readable_block(page, block_id)
    if found is None:
        raise Http404
    return found[1]


def _block_out(view: queries.BlockView) -> dict[str, Any]:
    block = view.block
    return {
        "id": block.pk,
        "side": block.side,
        "version": block.version,
        "readable": view.readable,
        "writable": view.writable,
        "submittable": view.submittable,
        "values": view.values if view.readable else None,
        "updated_by": block.updated_by,
        "updated_at": block.updated_at,
        "submitted_at": block.submitted_at,
        "revisions": view.revisions,
    }


def _comment_out(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "section": comment.section,
        "author": comment.author,
        "body": comment.body,
        "created_at": comment.created_at,
        "resolved_at": comment.resolved_at,
    }


def _record_out(page: queries.RecordPage) -> dict[str, Any]:
    record = page.record
    template = None
    if record is not None:
        version = record.template_version
        template = {
            "id": version.template_id,
            "key": version.template.key,
            "name": localized(version.template.name),
            "version": version.number,
        }
    sections = [
        {
            "key": view.section.key,
            "title": view.title,
            "filled_by": view.section.filled_by,
            "sealed": view.section.sealed,
            "repeatable": view.section.repeatable,
            "mine": view.mine,
            "blocks": [_block_out(block) for block in view.blocks],
            "comments": [_comment_out(comment) for comment in view.comments],
        }
        for view in page.sections
    ]
    confirmations = []
    if record is not None:
        for side in ("employee", "manager"):
            at = record.employee_confirmed_at if side == "employee" else record.manager_confirmed_at
            confirmations.append({"side": side, "confirmed": record.confirmed_by(side), "at": at})
    return {
        "talk_id": page.talk.pk,
        "id": record.pk if record is not None else None,
        "state": record.state if record is not None else None,
        "version": record.version if record is not None else None,
        "side": page.side,
        "template": template,
        "sections": sections,
        "confirmations": confirmations,
        "can_open": page.can_open,
        "can_confirm": page.can_confirm,
        "can_comment": page.can_comment,
        "missing": page.missing,
        "next_step": str(page.next_step),
    }


def _invalid(invalid: InvalidFields) -> dict[str, Any]:
    return {
        "detail": str(invalid.message),
        "code": invalid.code,
        "errors": {key: str(text) for key, text in invalid.errors.items()},
    }
