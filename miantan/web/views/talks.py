"""The talk pages (PRODUCT.md A1–A3): my talks with the requests waiting for me on top,
requesting a talk in three steps, and a talk's page with its actions.

A request keeps its state in the form itself: each step posts every earlier answer again in
hidden inputs and is checked again on the server, so nothing is written before "Send".
The actions on a talk page are POSTs to their own URLs; each calls one service and maps its
errors: InvalidTalk → 400 with the field errors, TimeConflict → 409 with the conflicts and
"propose anyway", ConflictError → 409 with its message, PermissionDenied → 403.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import ConflictError
from miantan.core.paging import IdPaginator
from miantan.interviews.enums import OPEN_STATES, ProposalState, TalkState
from miantan.interviews.models import Proposal, Talk
from miantan.interviews.queries import (
    access_talk,
    conflicts_at,
    inbox_of,
    people_to_ask,
    slots_for,
    talks_of,
    upcoming_talks_of,
)
from miantan.interviews.rules import can_act_on_talk, can_request_talk_with
from miantan.interviews.services import (
    InvalidTalk,
    TimeConflict,
    accept_time,
    cancel_talk,
    decline_talk,
    describe_conflicts,
    draft_talk,
    propose_time,
    request_talk,
    start_talk,
    update_agenda,
)
from miantan.metrics.enums import BriefTopic
from miantan.people.models import Employee
from miantan.people.queries import PeopleFilter, search_people
from miantan.people.rules import can_view_employee
from miantan.people.scopes import scope_for

from ..talk_forms import (
    CUSTOM,
    NO_TIME,
    WHEN_FIELDS,
    WHOM_FIELDS,
    AgendaForm,
    CancelForm,
    DeclineForm,
    TimeForm,
    WhenForm,
    WhomForm,
    slot_calendar,
    slot_end,
    slot_value,
    talk_request,
)

PAGE_SIZE = 20
INBOX_LIMIT = 50
UPCOMING_LIMIT = 20
SEARCH_LIMIT = 12
SLOT_COUNT = 5
START_EARLY = timedelta(minutes=30)
# Errors of the service that belong to the first step of a request; the rest to the second.
_WHOM_ERRORS = frozenset({"topic", "urgency", "duration_minutes", "message"})


# --- my talks ---------------------------------------------------------------------------------


@login_required
@require_GET
def talks(request: HttpRequest) -> HttpResponse:
    own = _own(request)
    inbox = list(inbox_of(request.user).prefetch_related(_open_proposals())[:INBOX_LIMIT])
    upcoming = list(upcoming_talks_of(request.user)[:UPCOMING_LIMIT])
    shown = [talk.pk for talk in (*inbox, *upcoming)]
    paginator = IdPaginator(talks_of(request.user).exclude(pk__in=shown), PAGE_SIZE, load=_rows)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "web/talks/list.html",
        {"inbox": inbox, "upcoming": upcoming, "page": page, "own": own},
    )


def _rows(ids: Sequence[int]) -> QuerySet[Talk]:
    return Talk.objects.filter(pk__in=ids).select_related("employee", "counterpart")


def _open_proposals() -> Prefetch:
    return Prefetch(
        "proposals",
        queryset=Proposal.objects.filter(state=ProposalState.OPEN),
        to_attr="open_proposals",
    )


# --- requesting a talk in three steps ---------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def talk_new(request: HttpRequest) -> HttpResponse:
    own = _own(request)
    find = _person_finder(request, own)
    if request.method == "GET":
        chosen = find(request.GET.get("with") or request.GET.get("other"))
        whom = WhomForm(initial={"other": chosen.pk if chosen else None}, find_person=find)
        return _step_whom(request, own, whom, chosen=chosen)
    step, go = request.POST.get("step", "1"), request.POST.get("go", "")
    whom = WhomForm(request.POST, find_person=find)
    chosen = find(request.POST.get("other"))
    if step == "1" and go == "search":
        return _step_whom(request, own, whom, chosen=chosen, unbound_errors=True)
    if not whom.is_valid():
        return _step_whom(request, own, whom, chosen=chosen, status=400)
    if step == "2" and go == "back":
        return _step_whom(request, own, whom, chosen=chosen)
    when = WhenForm(request.POST if step in {"2", "3"} else None)
    return _request_steps(request, own, whom, when, step=step, go=go)


def _request_steps(
    request: HttpRequest, own: Employee, whom: WhomForm, when: WhenForm, *, step: str, go: str
) -> HttpResponse:
    """Steps 2 and 3 once the first step is valid."""
    other = whom.cleaned_data["other"]
    preferences = _preferences(when)
    try:
        draft = draft_talk(
            other, requester=request.user, details=talk_request(whom.cleaned_data, preferences)
        )
    except InvalidTalk as invalid:
        return _invalid_request(request, own, whom, when, invalid)
    if step == "1" or (step == "3" and go == "back"):
        return _step_when(request, whom, when, draft)
    if step == "2" and (go == "rerank" or _htmx(request)):
        # Changed preferences rank the slots again; htmx swaps in only the list.
        return _step_when(request, whom, when, draft, partial=_htmx(request))
    if not when.is_valid():
        return _step_when(request, whom, when, draft, status=400)
    start = when.cleaned_data["start"]
    accept = when.cleaned_data["accept_conflicts"]
    if step == "2":
        conflicts = [] if start is None or accept else _conflicts(draft, start)
        if conflicts:
            return _step_when(request, whom, when, draft, conflicts=conflicts, status=409)
        return _step_confirm(request, whom, when, draft)
    return _send_request(request, own, whom, when, draft)


def _send_request(
    request: HttpRequest, own: Employee, whom: WhomForm, when: WhenForm, draft: Talk
) -> HttpResponse:
    start = when.cleaned_data["start"]
    slot = (start, slot_end(start, draft.duration_minutes)) if start is not None else None
    try:
        talk = request_talk(
            whom.cleaned_data["other"],
            requester=request.user,
            details=talk_request(whom.cleaned_data, when.cleaned_data),
            slot=slot,
            accept_conflicts=when.cleaned_data["accept_conflicts"],
        )
    except InvalidTalk as invalid:
        return _invalid_request(request, own, whom, when, invalid)
    except TimeConflict as conflict:
        return _step_when(request, whom, when, draft, conflicts=conflict.conflicts, status=409)
    except ConflictError as error:
        return _step_when(request, whom, when, draft, error=error.message, status=409)
    messages.success(
        request,
        _("Your request was sent to %(name)s.") % {"name": whom.cleaned_data["other"].name},
    )
    return redirect("web:talk_detail", talk_id=talk.pk)


def _invalid_request(
    request: HttpRequest, own: Employee, whom: WhomForm, when: WhenForm, invalid: InvalidTalk
) -> HttpResponse:
    """The service refused what the steps let through: back to the step of the field."""
    if _WHOM_ERRORS & set(invalid.errors):
        _add_errors(whom, invalid)
        return _step_whom(request, own, whom, chosen=whom.cleaned_data.get("other"), status=400)
    when.is_valid()
    _add_errors(when, invalid)
    other = whom.cleaned_data["other"]
    draft = draft_talk(other, requester=request.user, details=talk_request(whom.cleaned_data, {}))
    return _step_when(request, whom, when, draft, status=400)


def _step_whom(
    request: HttpRequest,
    own: Employee,
    whom: WhomForm,
    *,
    chosen: Employee | None = None,
    status: int = 200,
    unbound_errors: bool = False,
) -> HttpResponse:
    scope = scope_for(request.user)
    can_search = scope.has_reports or bool(scope.department_paths) or scope.is_admin
    query = (request.POST.get("q") or request.GET.get("q") or "").strip()[:100]
    found = _search(request, own, query) if can_search and query else []
    people = _unique([*([chosen] if chosen else []), *people_to_ask(request.user), *found])
    if unbound_errors:
        # A search keeps what was typed but is no attempt to go on: no errors yet.
        whom = WhomForm(
            initial={name: request.POST.get(name) for name in WHOM_FIELDS},
            find_person=whom.find_person,
        )
    chosen_id = str(whom["other"].value() or "")
    partial = _htmx(request) and request.GET.get("part") == "people"
    template = "web/talks/_people_choices.html" if partial else "web/talks/new.html"
    context = {
        "step": 1,
        "whom": whom,
        "people": people,
        "chosen_id": chosen_id,
        "can_search": can_search,
        "q": query,
        "own": own,
        "searched": bool(query),
    }
    return render(request, template, context, status=status)


def _step_when(
    request: HttpRequest,
    whom: WhomForm,
    when: WhenForm,
    draft: Talk,
    *,
    partial: bool = False,
    conflicts: list[dict[str, Any]] | None = None,
    error: Any = None,
    status: int = 200,
) -> HttpResponse:
    ranked = slots_for(draft, limit=SLOT_COUNT)
    calendar = slot_calendar(ranked)
    choice = slot_value(request.POST.get("slot", "")) if when.is_bound else ""
    if choice not in {CUSTOM, NO_TIME} and choice not in {s.value for s in calendar["slots"]}:
        first = calendar["slots"][0].value if calendar["slots"] else None
        choice = first or (CUSTOM if when.is_bound else NO_TIME)
    context = {
        **calendar,
        "step": 2,
        "whom": whom,
        "when": when,
        "other": whom.cleaned_data["other"],
        "draft": draft,
        "choice": choice,
        "carried": _carried(request, WHOM_FIELDS),
        "conflicts": _conflict_message(conflicts),
        "error": error,
    }
    template = "web/talks/_slot_list.html" if partial else "web/talks/new.html"
    return render(request, template, context, status=status)


def _step_confirm(
    request: HttpRequest, whom: WhomForm, when: WhenForm, draft: Talk
) -> HttpResponse:
    start = when.cleaned_data["start"]
    context = {
        "step": 3,
        "whom": whom,
        "when": when,
        "other": whom.cleaned_data["other"],
        "draft": draft,
        "start": start,
        "end": slot_end(start, draft.duration_minutes) if start else None,
        "carried": _carried(request, (*WHOM_FIELDS, *WHEN_FIELDS)),
        "conflicts": _conflict_message(_conflicts(draft, start)) if start else "",
    }
    return render(request, "web/talks/new.html", context)


def _person_finder(request: HttpRequest, own: Employee) -> Callable[[Any], Employee | None]:
    """Someone of the organisation the user may ask for a talk, by id; None otherwise (an
    unknown id and somebody out of reach look the same)."""

    def find(value: Any) -> Employee | None:
        try:
            pk = int(value)
        except (TypeError, ValueError):
            return None
        person = (
            Employee.objects.filter(pk=pk, organisation_id=own.organisation_id)
            .select_related("department", "position")
            .first()
        )
        if person is None or not can_request_talk_with.test(request.user, person):
            return None
        return person

    return find


def _search(request: HttpRequest, own: Employee, query: str) -> list[Employee]:
    people = search_people(request.user, PeopleFilter(q=query)).exclude(pk=own.pk)
    found = people.select_related("department", "position")[: SEARCH_LIMIT * 2]
    return [p for p in found if can_request_talk_with.test(request.user, p)][:SEARCH_LIMIT]


def _preferences(when: WhenForm) -> dict[str, Any]:
    """The preferences of step 2 (none before it is shown); a bad time does not hide them."""
    if not when.is_bound:
        return {}
    when.is_valid()
    return when.cleaned_data


def _conflicts(talk: Talk, start: datetime) -> list[dict[str, Any]]:
    return conflicts_at(talk, start, slot_end(start, talk.duration_minutes))


def _conflict_message(conflicts: list[dict[str, Any]] | None) -> Any:
    return TimeConflict(conflicts).message if conflicts else ""


def _carried(request: HttpRequest, names: Sequence[str]) -> list[tuple[str, str]]:
    return [(name, value) for name in names for value in request.POST.getlist(name)]


def _unique(people: Sequence[Employee]) -> list[Employee]:
    seen: dict[int, Employee] = {}
    for person in people:
        seen.setdefault(person.pk, person)
    return list(seen.values())


# --- a talk's page ----------------------------------------------------------------------------


@login_required
@require_GET
def talk_detail(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = access_talk(request.user, talk_id)
    if _htmx(request) and request.GET.get("part") == "slots":
        return _propose_slots(request, talk)
    return _detail(request, talk, propose_open=request.GET.get("propose") == "1")


def _propose_slots(request: HttpRequest, talk: Talk) -> HttpResponse:
    if not can_act_on_talk.test(request.user, talk):
        raise PermissionDenied
    context = {"talk": talk, **slot_calendar(slots_for(talk, limit=SLOT_COUNT))}
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
    can = _abilities(talk, proposal, user, participant)
    propose_open = can["propose"] and (propose_open or time_form is not None or bool(conflicts))
    ranked = slots_for(talk, limit=SLOT_COUNT) if propose_open else []
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
        **slot_calendar(ranked),
        "choice": slot_value(request.POST.get("slot", "")) if time_form is not None else "",
        "conflicts": _conflict_message(conflicts),
        "error": error,
        "ics_url": _ics_url(talk),
        "brief_url": _brief_url(user, talk),
        "activities": list(talk.activities.select_related("actor")),
        "open_section": _open_section(decline_form, cancel_form, agenda_form),
    }
    return render(request, "web/talks/detail.html", context, status=status)


def _abilities(
    talk: Talk, proposal: Proposal | None, user: Any, participant: bool
) -> dict[str, bool]:
    """What the page offers the viewer. Only the two people act; the services check again."""
    own = scope_for(user).employee
    awaited = participant and own is not None and talk.awaiting_id == own.pk
    waiting = talk.state in OPEN_STATES
    changeable = waiting or talk.state == TalkState.SCHEDULED
    starts = talk.scheduled_start
    return {
        "accept": awaited
        and waiting
        and proposal is not None
        and proposal.proposed_by_id != talk.awaiting_id,
        "answer": awaited and waiting,
        "propose": participant and changeable,
        "reschedule": participant and talk.state == TalkState.SCHEDULED,
        "decline": awaited and waiting,
        # The side that waits for an answer withdraws; the side asked declines instead.
        "cancel": participant and (talk.state == TalkState.SCHEDULED or (waiting and not awaited)),
        "start": participant
        and talk.state == TalkState.SCHEDULED
        and starts is not None
        and timezone.now() >= starts - START_EARLY,
        "edit_agenda": participant and changeable,
    }


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


def _brief_url(user: Any, talk: Talk) -> str:
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
    talk = _talk_to_act_on(request, talk_id, "proposed")
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
    talk = _talk_to_act_on(request, talk_id, "accepted")
    return _act(
        request,
        talk,
        lambda: accept_time(talk, actor=request.user),
        _("You accepted the time: the talk is scheduled."),
    )


@login_required
@require_POST
def talk_decline(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = _talk_to_act_on(request, talk_id, "declined")
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
    talk = _talk_to_act_on(request, talk_id, "cancelled")
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
    talk = _talk_to_act_on(request, talk_id, "started")
    return _act(
        request, talk, lambda: start_talk(talk, actor=request.user), _("The talk has started.")
    )


@login_required
@require_POST
def talk_agenda(request: HttpRequest, talk_id: int) -> HttpResponse:
    talk = _talk_to_act_on(request, talk_id, "agenda_edited")
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


def _talk_to_act_on(request: HttpRequest, talk_id: int, event: str) -> Talk:
    """The talk if the user may see it (else 404) and act on it (else 403, audited), before
    anything that was sent is read."""
    talk = access_talk(request.user, talk_id)
    if not can_act_on_talk.test(request.user, talk):
        record(
            f"interviews.talk.{event}",
            actor=request.user,
            outcome=Outcome.DENIED,
            obj=talk,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
        raise PermissionDenied
    return talk


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
            _add_errors(form, invalid)
            return _detail(request, talk, status=400, **bound)
        return _detail(request, talk, error=invalid.message, status=400)
    except ConflictError as error:
        talk.refresh_from_db()
        return _detail(request, talk, error=error.message, status=409, **bound)
    messages.success(request, success)
    return redirect("web:talk_detail", talk_id=talk.pk)


def _add_errors(form: forms.Form, invalid: InvalidTalk) -> None:
    for field, message in invalid.errors.items():
        form.add_error(field if field in form.fields else None, str(message))


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _own(request: HttpRequest) -> Employee:
    own = scope_for(request.user).employee
    if own is None or not own.is_active:
        raise Http404
    return own
