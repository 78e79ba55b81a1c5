"""The talk pages (PRODUCT.md A1–A3): my talks with the requests waiting for me on top,
and a talk's page with its actions (requesting one is in talk_request.py).

The actions on a talk page are POSTs to their own URLs; each calls one service and maps its
errors: InvalidTalk → 400 with the field errors, TimeConflict → 409 with the conflicts and
"propose anyway", ConflictError → 409 with its message, PermissionDenied → 403.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from miantan.core.errors import ConflictError
from miantan.core.paging import IdPaginator
from miantan.interviews.enums import OPEN_STATES, ProposalState
from miantan.interviews.models import Proposal, Talk
from miantan.interviews.queries import (
    access_talk,
    access_talk_to_act_on,
    conflicts_at,
    inbox_of,
    offer_slots,
    talks_of,
    upcoming_talks_of,
)
from miantan.interviews.rules import (
    START_EARLY,
    can_act_on_talk,
    talk_abilities,
)
from miantan.interviews.services import (
    InvalidTalk,
    TimeConflict,
    accept_time,
    cancel_talk,
    decline_talk,
    describe_conflicts,
    propose_time,
    update_agenda,
)
from miantan.metrics.enums import BriefTopic
from miantan.people.models import Employee
from miantan.people.rules import can_view_employee
from miantan.people.scopes import scope_for
from miantan.records.queries import record_link
from miantan.records.services import start_record

from ..talk_forms import (
    AgendaForm,
    CancelForm,
    DeclineForm,
    TimeForm,
    slot_calendar,
    slot_end,
    slot_value,
)

PAGE_SIZE = 20
INBOX_LIMIT = 50
UPCOMING_LIMIT = 20
SLOT_COUNT = 5


# --- my talks ---------------------------------------------------------------------------------


@login_required
@require_GET
def talks(request: HttpRequest) -> HttpResponse:
    own = own_employee(request)
    # The rows show the two people's names only: no further joins.
    inbox = list(
        _row_joins(inbox_of(request.user)).prefetch_related(_open_proposals())[:INBOX_LIMIT]
    )
    upcoming = list(_row_joins(upcoming_talks_of(request.user))[:UPCOMING_LIMIT])
    shown = [talk.pk for talk in (*inbox, *upcoming)]
    paginator = IdPaginator(talks_of(request.user).exclude(pk__in=shown), PAGE_SIZE, load=_rows)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "web/talks/list.html",
        {"inbox": inbox, "upcoming": upcoming, "page": page, "own": own},
    )


def _rows(ids: Sequence[int]) -> QuerySet[Talk]:
    return _row_joins(Talk.objects.filter(pk__in=ids))


def _row_joins(talks: QuerySet[Talk]) -> QuerySet[Talk]:
    return talks.select_related(None).select_related("employee", "counterpart")


def _open_proposals() -> Prefetch:
    return Prefetch(
        "proposals",
        queryset=Proposal.objects.filter(state=ProposalState.OPEN),
        to_attr="open_proposals",
    )


# --- a talk's page ----------------------------------------------------------------------------


@login_required
@require_GET
def talk_detail(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk(request.user, talk_id)
    if is_htmx(request) and request.GET.get("part") == "slots":
        return _propose_slots(request, talk)
    return _detail(request, talk, propose_open=request.GET.get("propose") == "1")


def _propose_slots(request: HttpRequest, talk: Talk) -> HttpResponse:
    if not can_act_on_talk.test(request.user, talk):
        raise PermissionDenied
    context = {"talk": talk, **slot_calendar(offer_slots(talk, limit=SLOT_COUNT))}
    return render(request, "web/talks/_slot_list.html", context)


def _detail(
    request: HttpRequest,
    talk: Talk,
    *,
    status: int = 200,
    propose_open: bool = False,
    time_form: TimeForm | None = None,
    decline_form: DeclineForm | None = None,
    cancel_form: CancelForm | None = None,
    agenda_form: AgendaForm | None = None,
    conflicts: list[dict[str, Any]] | None = None,
    error: Any = None,
) -> HttpResponse:
    user = request.user
    participant = can_act_on_talk.test(user, talk)
    proposal = talk.open_proposal()
    can = talk_abilities(user, talk, proposal)
    propose_open = can["propose"] and (propose_open or time_form is not None or bool(conflicts))
    offer = offer_slots(talk, limit=SLOT_COUNT) if propose_open else None
    agenda_text = "\n".join(item.get("text", "") for item in talk.agenda or [])
    context = {
        "talk": talk,
        "participant": participant,
        "can": can,
        "is_open": talk.state in OPEN_STATES,
        "proposal": proposal,
        "proposer": _person_of(talk, proposal.proposed_by_id) if proposal else None,
        "proposal_conflicts": describe_conflicts(proposal.conflicts)
        if proposal and proposal.conflicts
        else "",
        "awaiting_person": _person_of(talk, talk.awaiting_id) if talk.awaiting_id else None,
        "start_from": talk.scheduled_start - START_EARLY if talk.scheduled_start else None,
        "propose_open": propose_open,
        "time_form": time_form or TimeForm(),
        "decline_form": decline_form or DeclineForm(),
        "cancel_form": cancel_form or CancelForm(),
        "agenda_form": agenda_form or AgendaForm(initial={"agenda": agenda_text}),
        **slot_calendar(offer),
        "choice": slot_value(request.POST.get("slot", "")) if time_form is not None else "",
        "conflicts": conflict_message(conflicts),
        "error": error,
        "ics_url": _ics_url(talk),
        "brief_url": brief_url(user, talk),
        "activities": list(talk.activities.select_related("actor")),
        "record": record_link(user, talk),
        "open_section": _open_section(decline_form, cancel_form, agenda_form),
    }
    return render(request, "web/talks/detail.html", context, status=status)


def _open_section(*bound: forms.Form | None) -> str:
    names = ("decline", "cancel", "agenda")
    return next((name for name, form in zip(names, bound, strict=True) if form is not None), "")


def _ics_url(talk: Talk) -> str:
    # The invitation URL belongs to the calendar pages; the page works without it.
    if talk.scheduled_start is None:
        return ""
    try:
        return reverse("web:talk_ics", args=[talk.pk])
    except NoReverseMatch:
        return ""


def brief_url(user: Any, talk: Talk) -> str:
    """The brief on the talk's employee for its topic, for those who may see the person."""
    if not can_view_employee.test(user, talk.employee):
        return ""
    url = reverse("web:brief", args=[talk.employee_id])
    if talk.topic in BriefTopic.values:
        url += "?" + urlencode({"topic": talk.topic})
    return url


def _person_of(talk: Talk, employee_id: int) -> Employee:
    """One of the talk's two people, without a query."""
    return talk.employee if employee_id == talk.employee_id else talk.counterpart


# --- the actions on a talk --------------------------------------------------------------------


@login_required
@require_POST
def talk_propose(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.proposed")
    form = TimeForm(request.POST)
    if not form.is_valid():
        return _detail(request, talk, time_form=form, status=400)
    start = form.cleaned_data["start"]
    return _act(
        request,
        talk,
        lambda: propose_time(
            talk,
            actor=request.user,
            start=start,
            accept_conflicts=form.cleaned_data["accept_conflicts"],
        ),
        _("You proposed another time; the other side is asked to answer."),
        time_form=form,
    )


@login_required
@require_POST
def talk_accept(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.accepted")
    return _act(
        request,
        talk,
        lambda: accept_time(talk, actor=request.user),
        _("You accepted the time: the talk is scheduled."),
    )


@login_required
@require_POST
def talk_decline(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.declined")
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _detail(request, talk, decline_form=form, status=400)
    return _act(
        request,
        talk,
        lambda: decline_talk(talk, actor=request.user, reason=form.cleaned_data["reason"]),
        _("You declined the talk."),
        decline_form=form,
    )


@login_required
@require_POST
def talk_cancel(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.cancelled")
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _detail(request, talk, cancel_form=form, status=400)
    return _act(
        request,
        talk,
        lambda: cancel_talk(talk, actor=request.user, reason=form.cleaned_data["reason"]),
        _("The talk was cancelled."),
        cancel_form=form,
    )


@login_required
@require_POST
def talk_start(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.started")
    response = _act(
        request, talk, lambda: start_record(talk, actor=request.user), _("The talk has started.")
    )
    if response.status_code == 302:
        return redirect("web:record", talk_id=talk.pk)
    return response


@login_required
@require_POST
def talk_agenda(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.agenda_edited")
    form = AgendaForm(request.POST)
    if not form.is_valid():
        return _detail(request, talk, agenda_form=form, status=400)
    return _act(
        request,
        talk,
        lambda: update_agenda(talk, actor=request.user, items=form.items()),
        _("The agenda was saved."),
        agenda_form=form,
    )


def _act(
    request: HttpRequest,
    talk: Talk,
    action: Callable[[], Any],
    success: str,
    **bound: Any,
) -> HttpResponse:
    try:
        action()
    except TimeConflict as conflict:
        talk.refresh_from_db()
        bound.setdefault("time_form", TimeForm(request.POST))
        bound["time_form"].is_valid()
        return _detail(request, talk, conflicts=conflict.conflicts, status=409, **bound)
    except InvalidTalk as invalid:
        talk.refresh_from_db()
        form = next((f for f in bound.values() if f is not None), None)
        if form is not None:
            add_errors(form, invalid)
            return _detail(request, talk, status=400, **bound)
        return _detail(request, talk, error=invalid.message, status=400)
    except ConflictError as error:
        talk.refresh_from_db()
        return _detail(request, talk, error=error.message, status=409, **bound)
    messages.success(request, success)
    return redirect("web:talk_detail", talk_id=talk.pk)


def add_errors(form: forms.Form, invalid: InvalidTalk) -> None:
    for field, message in invalid.errors.items():
        form.add_error(field if field in form.fields else None, str(message))


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def own_employee(request: HttpRequest) -> Employee:
    own = scope_for(request.user).employee
    if own is None or not own.is_active:
        raise Http404
    return own


def conflicts_of(talk: Talk, start: datetime) -> list[dict[str, Any]]:
    return conflicts_at(talk, start, slot_end(start, talk.duration_minutes))


def conflict_message(conflicts: list[dict[str, Any]] | None) -> Any:
    return TimeConflict(conflicts).message if conflicts else ""
