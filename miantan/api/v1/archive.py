"""Signing, appeals, verification and exports of a talk's record, and the employee's file, over
the API (PRODUCT.md D1–D6): the same queries and services as the pages.

Every read goes through `archive.queries` first: the signing part of a record through
`signing_of` (the readers of the whole record; 404 for everyone else, audited), an appeal
through `access_appeal`, the file through `employee_file`. Signing needs the signer's password
in the request itself (re-authentication at that moment): a missing or wrong one answers 403
`reauth` (`locked_out` after too many), and nothing is stored. Exports and verification are
for archived records only (404 before); each export is audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AfterValidator

from miantan.archive import exports, queries
from miantan.archive import services as archive
from miantan.archive.models import Appeal, AppealState, ArchiveEntry, Signature
from miantan.archive.pdf import export_pdf
from miantan.archive.verification import verify_record
from miantan.interviews.enums import Topic
from miantan.people.scopes import scope_for
from miantan.records.definitions import localized
from miantan.records.enums import RecordState
from miantan.records.models import Record
from miantan.records.rules import side_of

from .bodies import FieldErrorsOut, answer_refusals, body_of, parse
from .paging import MAX_PAGE, BoundedPageNumberPagination
from .schemas import ErrorOut, PersonRef

router = Router(tags=["signing and the archive"])


# --- what the API returns ---------------------------------------------------------------------


class CodedErrorOut(Schema):
    detail: str
    code: str = Field(description="e.g. reauth, locked_out, signed, not_ready, archived")


class SignatureOut(Schema):
    id: int
    side: str = Field(description="employee | manager")
    signer: PersonRef
    signed_at: datetime = Field(description="by the server's clock")
    record_version: int
    snapshot_sha256: str = Field(description="SHA-256 of the record's canonical snapshot")
    server_signature: str = Field(description="the deployment's Ed25519 signature, hex")
    key_id: str
    provider: str
    method: str = Field(description="how the signer re-authenticated")
    dissent: bool = Field(description="signed with a disagreement (an appeal was opened)")
    reason: str = Field(description="what the employee disagrees with ('' without dissent)")
    handwriting_sha256: str = Field(description="SHA-256 of the drawn signature, '' for none")


class ChainOut(Schema):
    seq: int
    hash: str
    prev_hash: str
    key_id: str
    archived_at: datetime


class AppealOut(Schema):
    id: int
    talk_id: int
    record_version: int
    state: str = Field(description="open | resolved")
    outcome: str = Field(description="upheld | amended | withdrawn, '' while open")
    opened_at: datetime
    opened_by: PersonRef
    reason: str
    resolution: str
    resolved_by: PersonRef | None
    resolved_at: datetime | None


class AppealDetailOut(AppealOut):
    record_id: int
    record_state: str
    record_current_version: int
    employee: PersonRef
    manager: PersonRef
    may_resolve: bool = Field(description="I may resolve it now (HR for the employee, open)")


class AddendumOut(Schema):
    number: int
    side: str = Field(description="the side of the one who wrote it: employee | manager")
    written_by: PersonRef
    written_at: datetime
    text: str
    state: str = Field(description="awaiting (the other side's signature) | archived")
    sha256: str = Field(description="SHA-256 of the addendum's canonical JSON, as both sign it")
    amends_sha256: str = Field(description="the archived record's snapshot it adds to")
    signatures: list[SignatureOut]
    may_sign: bool = Field(description="I sign it now (the other side, while it awaits)")


class SigningOut(Schema):
    talk_id: int
    record_id: int
    state: str = Field(description="the record's state: in_progress | confirmed | archived …")
    version: int
    side: str | None = Field(description="my side: employee | manager | hr, or none")
    may_sign: bool
    may_dissent: bool
    waiting_for: list[str] = Field(description="the sides still to sign the current version")
    signatures: list[SignatureOut] = Field(description="of every version, oldest first")
    appeals: list[AppealOut]
    resolvable: list[int] = Field(description="the open appeals I may resolve")
    chain: ChainOut | None = Field(description="the archive entry, once archived")
    addenda: list[AddendumOut] = Field(description="later additions to the archived record")
    may_add_addendum: bool = Field(description="I may add to the archived record now")


class SignedOut(Schema):
    signature: SignatureOut
    record_state: str
    record_version: int
    appeal: AppealOut | None = Field(description="the appeal the disagreement opened")
    chain: ChainOut | None = Field(description="the archive entry, when this signature archived")


class FindingOut(Schema):
    kind: str = Field(description="altered | replaced | rolled back | removed | inserted | …")
    detail: str
    organisation: int | None
    seq: int | None
    record: int | None
    talk: int | None


class VerificationOut(Schema):
    ok: bool
    findings: list[FindingOut]


class ExportSignatureOut(Schema):
    evidence: dict[str, Any]
    server_signature: str
    key_id: str
    provider: str


class ExportAddendumOut(Schema):
    content: str = Field(description="the addendum's canonical JSON both sides signed")
    sha256: str
    signatures: list[ExportSignatureOut]
    chain: dict[str, Any] | None


class ExportOut(Schema):
    format: str
    snapshot: str = Field(description="the canonical JSON both sides signed")
    snapshot_sha256: str
    signatures: list[ExportSignatureOut]
    chain: dict[str, Any] | None
    addenda: list[ExportAddendumOut] = Field(description="the archived addenda")
    public_keys: dict[str, str]


class TemplateRef(Schema):
    id: int
    key: str
    name: str
    version: int


# The rows' field `date` would hide the type inside their class.
CalendarDay = date


class TemplateChoiceOut(Schema):
    id: int
    name: str


class FileRowOut(Schema):
    talk_id: int
    record_id: int
    date: CalendarDay | None = Field(description="the day of the talk, in my time zone")
    held_at: datetime | None
    topic: str
    topic_label: str
    manager: PersonRef
    template: TemplateRef
    record_version: int
    appeals: int
    addenda: int = Field(description="later additions to the record, signed or awaiting")
    dissent: bool
    chain_seq: int | None


class EmployeeFileOut(Schema):
    employee: PersonRef
    whole: bool = Field(description="every signed talk, or only those I held")
    total: int
    page: int
    pages: int
    templates: list[TemplateChoiceOut]
    rows: list[FileRowOut]


# --- what it takes ----------------------------------------------------------------------------


class SignatureIn(Schema):
    password: str = Field(description="my password, checked at this moment")
    dissent: bool = Field(default=False, description="the employee signs with a disagreement")
    reason: str = Field(default="", description="what I disagree with (required with dissent)")
    handwriting: str = Field(
        default="", description="a drawn signature: PNG as base64 or a data:image/png URL"
    )


class AddendumIn(Schema):
    text: str = Field(description="what I add to or correct in the archived record")
    password: str = Field(description="my password, checked at this moment: I sign it as I add it")


class AddendumSignatureIn(Schema):
    password: str = Field(description="my password, checked at this moment")


class ResolutionIn(Schema):
    outcome: str = Field(description="upheld | amended | withdrawn")
    resolution: str = Field(description="the reason for the decision")


def _plausible_day(day: date) -> date:
    """Refuse days no talk can have (year 1, year 9999) before they meet a time zone."""
    if not PLAUSIBLE_YEARS[0] <= day.year <= PLAUSIBLE_YEARS[1]:
        raise ValueError(f"a day between the years {PLAUSIBLE_YEARS[0]} and {PLAUSIBLE_YEARS[1]}")
    return day


PLAUSIBLE_YEARS = (1900, 2999)
PlausibleDay = Annotated[date, AfterValidator(_plausible_day)]


class FileQuery(Schema):
    start: PlausibleDay | None = Field(default=None, description="talks from this day")
    end: PlausibleDay | None = Field(default=None, description="talks up to this day")
    topic: Topic | None = None
    template: int | None = Field(default=None, ge=1, le=2_147_483_647)
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


# --- refusals ---------------------------------------------------------------------------------


router.add_decorator(answer_refusals)

REFUSED: dict[int, type[Schema]] = {
    400: FieldErrorsOut,
    403: CodedErrorOut,
    404: ErrorOut,
    409: CodedErrorOut,
}
NO_STORE = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
PDF_ANSWER = {
    "responses": {
        "200": {
            "description": "The record as a PDF signed by the deployment (PAdES), as a download.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


# --- signing ----------------------------------------------------------------------------------


@router.get("/talks/{int:talk_id}/record/signatures", response={200: SigningOut, 404: ErrorOut})
def record_signatures(request: HttpRequest, talk_id: int) -> object:
    """The signing part of the record: its state, the signatures of every version, the
    appeals, whether I may sign, and the archive entry once archived. For those who read the
    whole record; 404 for everyone else and for a talk without a record."""
    view = queries.signing_of(request.user, talk_id)
    record = view.record
    return {
        "talk_id": record.talk_id,
        "record_id": record.pk,
        "state": record.state,
        "version": record.version,
        "side": view.side,
        "may_sign": view.may_sign,
        "may_dissent": view.may_dissent,
        "waiting_for": [str(side) for side in view.waiting_for],
        "signatures": [_signature(s) for s in view.signatures],
        "appeals": [_appeal(a, talk_id=record.talk_id) for a in view.appeals],
        "resolvable": [a.pk for a in view.resolvable],
        "chain": _chain(view.entry),
        "addenda": [_addendum(item) for item in view.addenda],
        "may_add_addendum": view.may_add_addendum,
    }


@router.post(
    "/talks/{int:talk_id}/record/signatures",
    response={201: SignedOut, **REFUSED},
    openapi_extra=body_of(SignatureIn),
)
def sign_talk_record(request: HttpRequest, talk_id: int) -> object:
    """Sign the record for my side once both sides confirmed it, re-entering my password
    (403 `reauth` when missing or wrong, `locked_out` after too many tries; nothing is
    stored). The employee may sign with `dissent` and a `reason`, which opens an appeal. Once
    both sides signed and no appeal is open, the record is archived. 409 `signed` the second
    time, `not_ready` before both confirmed, `archived` after."""
    record = queries.signing_of(request.user, talk_id).record
    data = parse(SignatureIn, request)
    signature = archive.sign_record(
        record,
        actor=request.user,
        password=data.password,
        dissent=data.dissent,
        reason=data.reason,
        handwriting=data.handwriting,
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    record.refresh_from_db(fields=["state", "version"])
    appeal = (
        Appeal.objects.filter(signature=signature)
        .select_related("opened_by", "resolved_by")
        .first()
    )
    entry = (
        ArchiveEntry.objects.filter(
            record=record, record_version=record.version, addendum__isnull=True
        ).first()
        if record.state == RecordState.ARCHIVED
        else None
    )
    return Status(
        201,
        {
            "signature": _signature(signature),
            "record_state": record.state,
            "record_version": record.version,
            "appeal": _appeal(appeal, talk_id=record.talk_id) if appeal is not None else None,
            "chain": _chain(entry),
        },
    )


# --- addenda ----------------------------------------------------------------------------------


@router.post(
    "/talks/{int:talk_id}/record/addenda",
    response={201: AddendumOut, **REFUSED},
    openapi_extra=body_of(AddendumIn),
)
def add_record_addendum(request: HttpRequest, talk_id: int) -> object:
    """Add to the archived record (it never changes itself) and sign the addendum with my
    password; the other side then signs it and it is archived. For the talk's two people:
    403 for other readers of the record, 404 for everyone else; 409 `not_archived` before the
    record is archived, `addendum_waiting` while another one awaits its second signature."""
    record = queries.signing_of(request.user, talk_id).record
    data = parse(AddendumIn, request)
    addendum = archive.add_addendum(
        record,
        actor=request.user,
        text=data.text,
        password=data.password,
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return Status(201, _addendum_of(request, talk_id, addendum.number))


@router.post(
    "/talks/{int:talk_id}/record/addenda/{int:number}/signatures",
    response={201: AddendumOut, **REFUSED},
    openapi_extra=body_of(AddendumSignatureIn),
)
def sign_record_addendum(request: HttpRequest, talk_id: int, number: int) -> object:
    """Sign an addendum the other side wrote, with my password; it is then archived in the
    chain. 409 `signed` for its author or the second time, `archived` once archived."""
    _view, addendum = queries.addendum_of(request.user, talk_id, number)
    data = parse(AddendumSignatureIn, request)
    archive.sign_addendum(
        addendum,
        actor=request.user,
        password=data.password,
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return Status(201, _addendum_of(request, talk_id, number))


def _addendum_of(request: HttpRequest, talk_id: int, number: int) -> dict[str, Any]:
    view = queries.signing_of(request.user, talk_id)
    item = next(a for a in view.addenda if a.addendum.number == number)
    return _addendum(item)


def _addendum(item: queries.AddendumView) -> dict[str, Any]:
    addendum = item.addendum
    return {
        "number": addendum.number,
        "side": addendum.side,
        "written_by": addendum.written_by,
        "written_at": addendum.written_at,
        "text": addendum.text,
        "state": addendum.state,
        "sha256": addendum.sha256,
        "amends_sha256": addendum.amends_sha256,
        "signatures": [_signature(s) for s in item.signatures.values()],
        "may_sign": item.may_sign,
    }


# --- appeals ----------------------------------------------------------------------------------


@router.get("/appeals", response={200: list[AppealOut], 403: CodedErrorOut})
@paginate(BoundedPageNumberPagination, page_size=50)
def list_appeals(request: HttpRequest) -> object:
    """The open appeals I resolve, oldest first: those of the employees in my HR scope. For
    HR partners; 403 for everyone else."""
    if not scope_for(request.user).is_hr:
        raise PermissionDenied
    return queries.open_appeals_for(request.user).annotate(talk_id=F("record__talk_id"))


@router.get("/appeals/{int:appeal_id}", response={200: AppealDetailOut, 404: ErrorOut})
def get_appeal(request: HttpRequest, appeal_id: int) -> object:
    """One appeal, for the talk's two people and HR and administrators following the
    employee. Audited as `archive.appeal.viewed`."""
    return _appeal_detail(request, queries.access_appeal(request.user, appeal_id))


@router.post(
    "/appeals/{int:appeal_id}/resolution",
    response={200: AppealDetailOut, **REFUSED},
    openapi_extra=body_of(ResolutionIn),
)
def resolve_record_appeal(request: HttpRequest, appeal_id: int) -> object:
    """Resolve an open appeal (HR for the employee): `upheld` or `withdrawn` (the record
    stands as signed, and is archived once both signed) or `amended` (the record goes back to
    both sides, who confirm and sign a new version). 409 `resolved` the second time."""
    appeal = queries.access_appeal(request.user, appeal_id)
    data = parse(ResolutionIn, request)
    archive.resolve_appeal(
        appeal, actor=request.user, outcome=data.outcome, resolution=data.resolution
    )
    resolved = (
        Appeal.objects.filter(pk=appeal.pk)
        .select_related(
            "record__talk__employee", "record__talk__counterpart", "opened_by", "resolved_by"
        )
        .get()
    )
    return _appeal_detail(request, resolved)


# --- the archived record ----------------------------------------------------------------------


@router.get(
    "/talks/{int:talk_id}/record/verification", response={200: VerificationOut, 404: ErrorOut}
)
def verify_talk_record(request: HttpRequest, talk_id: int) -> object:
    """Check the archived record against what was signed and chained: its snapshot's hash,
    both signatures, its chain entry's seal, and its text. `ok` when nothing was found; each
    finding names what is wrong. 404 before the record is archived."""
    record = _archived(request, talk_id)
    findings = verify_record(record)
    return {"ok": not findings, "findings": [finding.as_json() for finding in findings]}


@router.get("/talks/{int:talk_id}/record/export.json", response={200: ExportOut, 404: ErrorOut})
def export_record_json(request: HttpRequest, talk_id: int) -> Any:
    """The archived record's snapshot, signatures and chain entry with the public keys they
    verify with, as a download that `manage.py verify_archive --file` checks without the
    database. Audited as `archive.record.exported`."""
    record = _archived(request, talk_id)
    content = exports.json_bytes(record)
    exports.audit_export(request.user, record, "json")
    return _download(content, "application/json", f"talk-{record.talk_id}-record.json")


@router.get(
    "/talks/{int:talk_id}/record/export.pdf", response={404: ErrorOut}, openapi_extra=PDF_ANSWER
)
def export_record_pdf(request: HttpRequest, talk_id: int) -> Any:
    """The archived record as a PDF in my language, signed by the deployment so that any PDF
    reader can check it. Audited as `archive.record.exported`."""
    record = _archived(request, talk_id)
    content = export_pdf(exports.document_of(record, _language(request)))
    exports.audit_export(request.user, record, "pdf")
    return _download(content, "application/pdf", f"talk-{record.talk_id}-record.pdf")


# --- the employee's file ----------------------------------------------------------------------


@router.get("/people/{int:employee_id}/file", response={200: EmployeeFileOut, 404: ErrorOut})
def employee_file(request: HttpRequest, employee_id: int, filters: Query[FileQuery]) -> object:
    """The employee's signed talks (档案), newest first, 25 a page: all of them for the
    employee, HR and administrators following them, the talks they held for the others who
    may see the employee's personal records (404 for everyone else). Audited as
    `archive.file.viewed`."""
    found = queries.employee_file(
        request.user,
        employee_id,
        queries.FileFilter(
            start=filters.start,
            end=filters.end,
            topic=str(filters.topic) if filters.topic else "",
            template=filters.template,
        ),
        page=filters.page,
    )
    return {
        "employee": found.employee,
        "whole": found.whole,
        "total": found.total,
        "page": found.page,
        "pages": found.pages,
        "templates": [{"id": pk, "name": name} for pk, name in found.templates],
        "rows": [_file_row(row) for row in found.rows],
    }


# --- helpers ----------------------------------------------------------------------------------


def _archived(request: HttpRequest, talk_id: int) -> Record:
    """The archived record, for those who read the whole record; 404 otherwise."""
    record = queries.signing_of(request.user, talk_id).record
    if record.state != RecordState.ARCHIVED:
        raise Http404
    return record


def _language(request: HttpRequest) -> str:
    """The document language: the one on my profile, else this answer's ("zh-hans" or "en")."""
    own = scope_for(request.user).employee
    language = (own.language if own is not None else "") or translation.get_language() or ""
    return "en" if language.startswith("en") else "zh-hans"


def _download(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    for header, value in NO_STORE.items():
        response[header] = value
    return response


def _signature(signature: Signature) -> dict[str, Any]:
    return {
        "id": signature.pk,
        "side": signature.side,
        "signer": signature.signer,
        "signed_at": signature.signed_at,
        "record_version": signature.record_version,
        "snapshot_sha256": signature.snapshot_sha256,
        "server_signature": signature.server_signature,
        "key_id": signature.key_id,
        "provider": signature.provider,
        "method": signature.method,
        "dissent": signature.dissent,
        "reason": signature.dissent_reason,
        "handwriting_sha256": signature.handwriting_sha256,
    }


def _chain(entry: ArchiveEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "seq": entry.seq,
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
        "key_id": entry.key_id,
        "archived_at": entry.archived_at,
    }


def _appeal(appeal: Appeal, *, talk_id: int) -> dict[str, Any]:
    return {
        "id": appeal.pk,
        "talk_id": talk_id,
        "record_version": appeal.record_version,
        "state": appeal.state,
        "outcome": appeal.outcome,
        "opened_at": appeal.opened_at,
        "opened_by": appeal.opened_by,
        "reason": appeal.reason,
        "resolution": appeal.resolution,
        "resolved_by": appeal.resolved_by,
        "resolved_at": appeal.resolved_at,
    }


def _appeal_detail(request: HttpRequest, appeal: Appeal) -> dict[str, Any]:
    record = appeal.record
    talk = record.talk
    return {
        **_appeal(appeal, talk_id=talk.pk),
        "record_id": record.pk,
        "record_state": record.state,
        "record_current_version": record.version,
        "employee": talk.employee,
        "manager": talk.counterpart,
        "may_resolve": appeal.state == AppealState.OPEN
        and archive.may_resolve_appeal(side_of(request.user, talk)),
    }


def _file_row(row: queries.FileRow) -> dict[str, Any]:
    record = row.record
    talk = record.talk
    version = record.template_version
    start = talk.scheduled_start
    return {
        "talk_id": talk.pk,
        "record_id": record.pk,
        "date": timezone.localdate(start) if start is not None else None,
        "held_at": start,
        "topic": talk.topic,
        "topic_label": str(Topic(talk.topic).label) if talk.topic in Topic.values else talk.topic,
        "manager": talk.counterpart,
        "template": {
            "id": version.template_id,
            "key": version.template.key,
            "name": localized(version.template.name),
            "version": version.number,
        },
        "record_version": record.version,
        "appeals": row.appeals,
        "addenda": row.addenda,
        "dissent": row.dissent,
        "chain_seq": row.entry.seq if row.entry is not None else None,
    }
