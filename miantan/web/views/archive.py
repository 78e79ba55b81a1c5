"""Signing a talk's record, its exports, appeals and the employee's file (PRODUCT.md D1, D2,
D5, D6).

Reads go through `archive.queries` (audited, 404 outside their readers), writes through
`archive.services`, which decide who may sign and who resolves an appeal. The record page
shows the signing panel with `signing_context`; its form posts to `record_sign`. Exports are
downloads of archived records only, each audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from miantan.archive import exports, pdf, services
from miantan.archive import queries as archive_queries
from miantan.archive.models import Appeal, AppealOutcome, AppealState, Signature, SigningSide
from miantan.core import signing as signing_keys_ring
from miantan.core.errors import DomainError
from miantan.interviews.enums import Topic
from miantan.people.rules import is_hr
from miantan.records.enums import RecordState, Side
from miantan.records.models import Record
from miantan.records.queries import RecordPage
from miantan.records.rules import side_of

APPEALS_PER_PAGE = 50

# What each decision on an appeal does, beside its choice on the appeal page.
OUTCOME_HELP: dict[str, Any] = {
    AppealOutcome.UPHELD: gettext_lazy(
        "The record stands as signed and is archived; the disagreement stays in the file."
    ),
    AppealOutcome.AMENDED: gettext_lazy(
        "The record goes back to both sides: they change it, confirm it and sign the new version."
    ),
    AppealOutcome.WITHDRAWN: gettext_lazy(
        "The employee takes the appeal back; the record stands as signed and is archived."
    ),
}


# --- the signing panel on the record page ------------------------------------------------------


@dataclass
class SignatureSlot:
    """One side's place on the panel: who signs for it, and their signature of the record's
    current version (None while it is missing)."""

    side: str
    label: str
    name: str
    signature: Signature | None


def signing_context(user: Any, page: RecordPage) -> dict[str, Any]:
    """What `records/_signing.html` shows, for a confirmed or archived record read in full:

    - `signing`: `archive.queries.Signing` (signatures, appeals, chain entry, what the viewer
      may do); `signature_slots`: a `SignatureSlot` per side for the current version;
    - `earlier_signatures`: those of versions before an amendment;
    - `signing_step`: what happens next, in one sentence, for the top of the page;
    - `amending`: the record was signed, then sent back to both sides after an appeal: the
      panel shows the earlier signatures and the appeal while they amend it."""
    record = page.record
    if record is None or page.limited_to is not None:
        return {}
    amending = record.state not in archive_queries.SIGNING_STATES
    if amending and not archive_queries.was_signed(record):
        return {}
    record.talk = page.talk
    # The page was reached (and its visit audited) through access_record: read the signing
    # part of that record, rather than `signing_of`, which would check and audit it again.
    signing = archive_queries._signing(user, record, page.side)
    talk = page.talk
    names: dict[str, str] = {
        Side.EMPLOYEE: talk.employee.name,
        Side.MANAGER: talk.counterpart.name,
    }
    current = signing.current
    slots = [
        SignatureSlot(
            side=side,
            label=str(SigningSide(side).label),
            name=names[side],
            signature=current.get(side),
        )
        for side in services.SIGNING_SIDES
    ]
    return {
        "signing": signing,
        "signature_slots": slots,
        "earlier_signatures": [s for s in signing.signatures if s.record_version != record.version],
        "waiting_names": [names[side] for side in signing.waiting_for],
        # While the record is amended, the page's own next step (change, confirm) stands.
        "signing_step": "" if amending else _signing_step(signing, names),
        "amending": amending,
    }


def _signing_step(signing: archive_queries.Signing, names: dict[str, str]) -> str:
    if signing.record.state == RecordState.ARCHIVED:
        return _("Both sides signed: the record is archived and can no longer be changed.")
    if signing.may_dissent:
        return _(
            "Read the record, then sign it with your password. If you disagree with it, say so "
            "when you sign: HR then looks at it."
        )
    if signing.may_sign:
        return _("Read the record, then sign it with your password.")
    waiting = signing.waiting_for
    if len(waiting) == 1:
        return _("The record waits for the signature of %(name)s.") % {"name": names[waiting[0]]}
    if waiting:
        return _("The record waits for the signatures of %(employee)s and %(manager)s.") % {
            "employee": names[Side.EMPLOYEE],
            "manager": names[Side.MANAGER],
        }
    if signing.resolvable:
        return _(
            "Both sides signed, with an appeal: resolve it, and the record is archived or goes "
            "back to both sides to amend."
        )
    return _(
        "Both sides signed, with an appeal: HR resolves it, and the record is archived or goes "
        "back to both sides to amend."
    )


def _signing_anchor(talk_id: Any) -> str:
    return f"{reverse('web:record', args=[talk_id])}#signing"


@login_required
@require_POST
def record_sign(request: HttpRequest, talk_id: int) -> HttpResponse:
    """One of the two people signs the confirmed record after re-entering their password;
    the employee may sign with "I disagree" and a reason, which opens an appeal."""
    signing = archive_queries.signing_of(request.user, talk_id)
    dissent = bool(request.POST.get("dissent"))
    try:
        signature = services.sign_record(
            signing.record,
            actor=request.user,
            password=request.POST.get("password", ""),
            dissent=dissent,
            reason=request.POST.get("reason", "") if dissent else "",
            handwriting=request.POST.get("handwriting", ""),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(_signing_anchor(talk_id))
    if signature.record.state == RecordState.ARCHIVED:
        messages.success(request, _("Both sides signed: the record is archived."))
    elif signature.dissent:
        messages.success(
            request, _("You signed the record and said what you disagree with: HR looks at it.")
        )
    else:
        messages.success(request, _("You signed the record."))
    return redirect(_signing_anchor(talk_id))


@login_required
@require_POST
def record_addendum(request: HttpRequest, talk_id: int) -> HttpResponse:
    """One of the talk's two people adds to the archived record and signs the addendum."""
    signing = archive_queries.signing_of(request.user, talk_id)
    try:
        services.add_addendum(
            signing.record,
            actor=request.user,
            text=request.POST.get("text", ""),
            password=request.POST.get("password", ""),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(_addenda_anchor(talk_id))
    messages.success(
        request, _("You added to the record and signed the addendum; the other side signs it next.")
    )
    return redirect(_addenda_anchor(talk_id))


@login_required
@require_POST
def addendum_sign(request: HttpRequest, talk_id: int, number: int) -> HttpResponse:
    """The other one of the two signs an addendum; it is then archived."""
    _signing, addendum = archive_queries.addendum_of(request.user, talk_id, number)
    try:
        services.sign_addendum(
            addendum,
            actor=request.user,
            password=request.POST.get("password", ""),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(_addenda_anchor(talk_id))
    messages.success(request, _("You signed the addendum: it is archived with the record."))
    return redirect(_addenda_anchor(talk_id))


def _addenda_anchor(talk_id: Any) -> str:
    return f"{reverse('web:record', args=[talk_id])}#addenda"


# --- exports ---------------------------------------------------------------------------------


def _archived(request: HttpRequest, talk_id: Any) -> Record:
    record = archive_queries.signing_of(request.user, talk_id).record
    if record.state != RecordState.ARCHIVED:
        raise Http404
    return record


def _download(record: Record, content: bytes, content_type: str, extension: str) -> HttpResponse:
    talk = record.talk
    name = f"talk-{talk.pk}-{talk.employee.employee_number}-v{record.version}.{extension}"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response


@login_required
@require_GET
@never_cache
def record_pdf(request: HttpRequest, talk_id: int) -> HttpResponse:
    """The archived record as a signed PDF, in the viewer's language."""
    record = _archived(request, talk_id)
    content = pdf.export_pdf(exports.document_of(record, request.LANGUAGE_CODE))
    exports.audit_export(request.user, record, "pdf")
    return _download(record, content, "application/pdf", "pdf")


@login_required
@require_GET
@never_cache
def record_json(request: HttpRequest, talk_id: int) -> HttpResponse:
    """The archived record's snapshot, signatures and chain entry (verify_archive --file)."""
    record = _archived(request, talk_id)
    content = exports.json_bytes(record)
    exports.audit_export(request.user, record, "json")
    return _download(record, content, "application/json; charset=utf-8", "json")


@require_GET
def signing_keys(request: HttpRequest) -> JsonResponse:
    """The deployment's Ed25519 public keys, for anyone checking an export: public."""
    return JsonResponse(
        signing_keys_ring.ring().published(), headers={"Cache-Control": "public, max-age=3600"}
    )


# --- appeals -----------------------------------------------------------------------------------


@login_required
@require_GET
def appeals(request: HttpRequest) -> HttpResponse:
    """The open appeals of the employees in the HR partner's scope, oldest first."""
    if not is_hr.test(request.user):
        raise PermissionDenied
    page = Paginator(archive_queries.open_appeals_for(request.user), APPEALS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "web/archive/appeals.html", {"page": page})


@login_required
@require_GET
def appeal(request: HttpRequest, appeal_id: int) -> HttpResponse:
    found = archive_queries.access_appeal(request.user, appeal_id)
    return _appeal_page(request, found)


@login_required
@require_POST
def appeal_resolve(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """HR in scope of the employee upholds the record, has it amended, or notes the appeal
    withdrawn; anyone else who may read the appeal is refused (403)."""
    found = archive_queries.access_appeal(request.user, appeal_id)
    outcome = request.POST.get("outcome", "")
    resolution = request.POST.get("resolution", "")
    try:
        resolved = services.resolve_appeal(
            found, actor=request.user, outcome=outcome, resolution=resolution
        )
    except DomainError as error:
        return _appeal_page(
            request,
            found,
            error=str(error.message),
            typed={"outcome": outcome, "resolution": resolution},
            status=error.status_code,
        )
    if resolved.outcome == AppealOutcome.AMENDED:
        messages.success(
            request,
            _(
                "The appeal is resolved: the record goes back to both sides to amend, confirm "
                "and sign again."
            ),
        )
    else:
        messages.success(request, _("The appeal is resolved: the record stands as signed."))
    return redirect("web:appeal", appeal_id=found.pk)


def _appeal_page(
    request: HttpRequest,
    found: Appeal,
    *,
    error: str = "",
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    talk = found.record.talk
    can_resolve = found.state == AppealState.OPEN and services.may_resolve_appeal(
        side_of(request.user, talk)
    )
    return render(
        request,
        "web/archive/appeal.html",
        {
            "appeal": found,
            "talk": talk,
            "can_resolve": can_resolve,
            "outcomes": [
                (value, label, OUTCOME_HELP[value]) for value, label in AppealOutcome.choices
            ],
            "error": error,
            "typed": typed or {},
            "show_appeals_link": bool(is_hr.test(request.user)),
        },
        status=status,
    )


# --- the employee's file (档案) ------------------------------------------------------------------


class FileFilterForm(forms.Form):
    """The file's filters as the page sends them (GET): from, to, topic, template."""

    topic = forms.ChoiceField(label=gettext_lazy("Topic"), required=False)
    template = forms.IntegerField(label=gettext_lazy("Template"), required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" and "to" are the names in the address; neither can be a Python attribute.
        self.fields["from"] = forms.DateField(
            label=pgettext_lazy("date range", "From"), required=False, input_formats=["%Y-%m-%d"]
        )
        self.fields["to"] = forms.DateField(
            label=pgettext_lazy("date range", "To"), required=False, input_formats=["%Y-%m-%d"]
        )
        self.fields["topic"].choices = [  # type: ignore[attr-defined]
            ("", pgettext_lazy("topic filter", "All topics")),
            *Topic.choices,
        ]
        self.fields["template"].error_messages["invalid"] = gettext_lazy(
            "Choose a template from the list."
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned

    def to_filter(self) -> archive_queries.FileFilter:
        data = self.cleaned_data
        start: date | None = data.get("from")
        end: date | None = data.get("to")
        return archive_queries.FileFilter(
            start=start, end=end, topic=data.get("topic") or "", template=data.get("template")
        )


@login_required
@require_GET
def employee_file(request: HttpRequest, employee_id: int) -> HttpResponse:
    """The employee's signed talks, filtered and paged; each row links to its record and PDF.
    Filters that cannot be read are named on the page and no talk is listed until they are
    corrected."""
    form = FileFilterForm(request.GET)
    valid = form.is_valid()
    filters = form.to_filter() if valid else archive_queries.FileFilter()
    number = _page_number(request.GET.get("page"))
    file = archive_queries.employee_file(request.user, employee_id, filters, page=number)
    template_ids = {pk for pk, _name in file.templates}
    if valid and filters.template is not None and filters.template not in template_ids:
        form.add_error("template", _("Choose a template from the list."))
        valid = False
    query = request.GET.copy()
    query.pop("page", None)
    errors = [
        _("%(field)s: %(error)s") % {"field": form.fields[name].label, "error": message}
        if name in form.fields
        else message
        for name, field_errors in form.errors.items()
        for message in field_errors
    ]
    return render(
        request,
        "web/archive/file.html",
        {
            "file": file,
            "employee": file.employee,
            "form": form,
            "valid": valid,
            "filter_errors": errors,
            "rows": file.rows if valid else [],
            "topics": Topic.choices,
            "chosen": {
                "from": request.GET.get("from", ""),
                "to": request.GET.get("to", ""),
                "topic": request.GET.get("topic", ""),
                "template": request.GET.get("template", ""),
            },
            "filtered": filters != archive_queries.FileFilter(),
            "query": query.urlencode(),
        },
    )


def _page_number(raw: str | None) -> int:
    try:
        return max(1, int(raw or 1))
    except ValueError:
        return 1
