"""Requesting a talk in three steps (PRODUCT.md A1, A2): whom and what, when (the ranked
slots with their reasons, or another time), check and send.

A request keeps its state in the form itself: each step posts every earlier answer again in
hidden inputs and is checked again on the server, so nothing is written before "Send".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from miantan.core.errors import ConflictError
from miantan.interviews.models import Talk
from miantan.interviews.queries import (
    access_person_to_ask,
    offer_slots,
    people_to_ask,
    search_window,
)
from miantan.interviews.rules import (
    can_request_talk_with,
)
from miantan.interviews.services import (
    InvalidTalk,
    TimeConflict,
    draft_talk,
    request_talk,
)
from miantan.people.models import Employee
from miantan.people.queries import PeopleFilter, reports_of, search_people
from miantan.people.scopes import scope_for
from miantan.scheduling.availability import shift_kinds_of
from miantan.scheduling.rules import can_view_holidays

from ..talk_forms import (
    CUSTOM,
    NO_TIME,
    WHEN_FIELDS,
    WHOM_FIELDS,
    WhenForm,
    WhomForm,
    slot_calendar,
    slot_end,
    slot_value,
    talk_request,
)
from .talks import (
    SLOT_COUNT,
    add_errors,
    conflict_message,
    conflicts_of,
    is_htmx,
    own_employee,
)

SEARCH_LIMIT = 12
# A manager's direct reports listed before anyone else; more are found by searching.
REPORTS_LIMIT = 50
# Errors of the service that belong to the first step of a request; the rest to the second.
_WHOM_ERRORS = frozenset({"topic", "urgency", "duration_minutes", "message"})


# --- requesting a talk in three steps ---------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def talk_new(request: HttpRequest) -> HttpResponse:
    own = own_employee(request)
    find = _person_finder(request)
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
    when = WhenForm(
        request.POST if step in {"2", "3"} else None,
        shift_kinds=shift_kinds_of(own.organisation_id),
    )
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
    if step == "2" and (go == "rerank" or is_htmx(request)):
        # Changed preferences rank the slots again; htmx swaps in only the list.
        return _step_when(request, whom, when, draft, partial=is_htmx(request))
    if not when.is_valid():
        return _step_when(request, whom, when, draft, status=400)
    start = when.cleaned_data["start"]
    accept = when.cleaned_data["accept_conflicts"]
    if step == "2":
        conflicts = [] if start is None or accept else conflicts_of(draft, start)
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
        add_errors(whom, invalid)
        return _step_whom(request, own, whom, chosen=whom.cleaned_data.get("other"), status=400)
    when.is_valid()
    add_errors(when, invalid)
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
    people = _unique([*([chosen] if chosen else []), *_choices(request, own, query, can_search)])
    if unbound_errors:
        # A search keeps what was typed but is no attempt to go on: no errors yet.
        whom = WhomForm(
            initial={name: request.POST.get(name) for name in WHOM_FIELDS},
            find_person=whom.find_person,
        )
    chosen_id = str(whom["other"].value() or "")
    partial = is_htmx(request) and request.GET.get("part") == "people"
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
    calendar = slot_calendar(offer_slots(draft, limit=SLOT_COUNT))
    searched = search_window(draft)
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
        "conflicts": conflict_message(conflicts),
        "error": error,
        "search_first": timezone.localtime(searched[0]).date(),
        "search_last": timezone.localtime(searched[1] - timedelta(seconds=1)).date(),
        # Missing holiday data is for HR to fix; employees are not told about it.
        "show_holiday_notice": can_view_holidays.test(request.user),
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
        "conflicts": conflict_message(conflicts_of(draft, start)) if start else "",
    }
    return render(request, "web/talks/new.html", context)


def _person_finder(request: HttpRequest) -> Callable[[Any], Employee | None]:
    """Someone of the organisation the user may ask for a talk, by id; None otherwise (an
    unknown id and somebody out of reach look the same; the refusal is audited)."""

    def find(value: Any) -> Employee | None:
        try:
            return access_person_to_ask(request.user, value)
        except (Http404, PermissionDenied):
            return None

    return find


def _choices(request: HttpRequest, own: Employee, query: str, can_search: bool) -> list[Employee]:
    """Whom the picker lists: a manager's own direct reports first, then the people the user
    can ask up their line; with a search, the matches (direct reports first) and those of the
    people up the line whose name matches."""
    above = people_to_ask(request.user)
    if query:
        found = _search(request, own, query) if can_search else []
        return [*found, *(p for p in above if query.casefold() in p.name.casefold())]
    reports = list(
        reports_of(request.user, direct_only=True).order_by("name", "pk")[:REPORTS_LIMIT]
    )
    return [*reports, *above]


def _search(request: HttpRequest, own: Employee, query: str) -> list[Employee]:
    people = search_people(request.user, PeopleFilter(q=query)).exclude(pk=own.pk)
    found = people.select_related("department", "position")[: SEARCH_LIMIT * 2]
    allowed = [p for p in found if can_request_talk_with.test(request.user, p)][:SEARCH_LIMIT]
    # A stable sort: the search's order (by name) within each group.
    return sorted(allowed, key=lambda person: person.manager_id != own.pk)


def _preferences(when: WhenForm) -> dict[str, Any]:
    """The preferences of step 2 (none before it is shown); a bad time does not hide them."""
    if not when.is_bound:
        return {}
    when.is_valid()
    return when.cleaned_data


def _carried(request: HttpRequest, names: Sequence[str]) -> list[tuple[str, str]]:
    return [(name, value) for name in names for value in request.POST.getlist(name)]


def _unique(people: Sequence[Employee]) -> list[Employee]:
    seen: dict[int, Employee] = {}
    for person in people:
        seen.setdefault(person.pk, person)
    return list(seen.values())
