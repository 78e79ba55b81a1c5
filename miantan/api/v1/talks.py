"""Talks over the API: the same capabilities as the talk pages. Request a talk, see the ranked
slots, negotiate a time, read the inbox.

Reads go through `interviews.queries`, actions through `interviews.services`. Talks out of
reach answer 404 (audited); an action on a talk the viewer may only follow (HR) answers 403
before the body is read.
Bodies are JSON objects; times are ISO 8601 with their UTC offset.
"""

import functools
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AfterValidator, AwareDatetime

from miantan.interviews import services
from miantan.interviews.enums import TalkState, Topic, Urgency
from miantan.interviews.models import Proposal, Talk, TalkActivity
from miantan.interviews.queries import (
    access_person_to_ask,
    access_talk,
    access_talk_to_act_on,
    inbox_of,
    people_to_ask,
    slots_for,
    talks_visible_to,
)
from miantan.people.scopes import scope_for
from miantan.records.services import start_record
from miantan.scheduling.slots import RankedSlot

from .bodies import body_of, parse
from .paging import BoundedPageNumberPagination
from .schemas import DepartmentRef, ErrorOut, PersonRef, PositionRef

router = Router(tags=["talks"])

In = TypeVar("In", bound=Schema)
_LIST_RELATED = ("employee", "counterpart", "requested_by")


# --- what the API returns ---------------------------------------------------------------------


class ReasonOut(Schema):
    code: str
    points: float
    message: str


class SlotOut(Schema):
    start: datetime
    end: datetime
    score: float
    reasons: list[ReasonOut]


class ProposalOut(Schema):
    id: int
    proposed_by_id: int
    start: datetime
    end: datetime
    conflicts: list[dict[str, Any]]


class AgendaItemOut(Schema):
    text: str
    source: str
    data: dict[str, Any] = {}


class ActivityOut(Schema):
    event: str
    event_label: str
    actor: PersonRef | None
    from_state: str
    to_state: str
    note: str
    data: dict[str, Any]
    at: datetime

    @staticmethod
    def resolve_event_label(activity: TalkActivity) -> str:
        return str(activity.get_event_display())


class TalkOut(Schema):
    id: int
    state: str
    state_label: str
    topic: str
    topic_label: str
    urgency: str
    initiation: str
    employee: PersonRef
    counterpart: PersonRef
    requested_by: PersonRef
    awaiting_id: int | None = Field(description="whose answer the talk waits for")
    duration_minutes: int
    location: str
    online_link: str
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    expires_at: datetime | None
    cycle_id: int | None
    state_changed_at: datetime
    created_at: datetime

    @staticmethod
    def resolve_state_label(talk: Talk) -> str:
        return str(talk.get_state_display())

    @staticmethod
    def resolve_topic_label(talk: Talk) -> str:
        return str(talk.get_topic_display())


class TalkDetailOut(TalkOut):
    message: str
    closing_reason: str
    hard_constraints: dict[str, Any]
    soft_preferences: dict[str, Any]
    not_before: date | None
    not_after: date | None
    sequence: int = Field(description="calendar SEQUENCE, raised on every move or cancel")
    open_proposal: ProposalOut | None
    agenda: list[AgendaItemOut]
    activities: list[ActivityOut]

    @staticmethod
    def resolve_open_proposal(talk: Talk) -> Proposal | None:
        return talk.open_proposal()

    @staticmethod
    def resolve_activities(talk: Talk) -> QuerySet[TalkActivity]:
        return talk.activities.select_related("actor").order_by("at", "pk")


class PersonToAskOut(Schema):
    id: int
    employee_number: str
    name: str
    department: DepartmentRef
    position: PositionRef | None


class TalkErrorOut(Schema):
    detail: str
    code: str
    errors: dict[str, str] = Field(description="what is wrong, per field")


class ConflictOut(Schema):
    employee: int | None = None
    name: str = ""
    reason: str
    detail: str = ""
    start: str | None = None
    end: str | None = None


class TalkConflictOut(Schema):
    detail: str
    code: str
    conflicts: list[ConflictOut] = []


# --- what the API accepts ---------------------------------------------------------------------


class HardConstraintsIn(Schema):
    within_working_hours: bool = True
    avoid_duty_days: bool = False
    rest_after_night_hours: int = Field(default=8, description="0 to 24")


class SoftPreferencesIn(Schema):
    after: str | None = Field(default=None, description="prefer starts from HH:MM")
    before: str | None = Field(default=None, description="prefer ends by HH:MM")
    avoid_surgery_days: bool = False


class TalkDraftIn(Schema):
    with_employee_id: int = Field(description="the other person of the talk")
    topic: str = Field(description=" | ".join(Topic.values))
    duration_minutes: int = Field(default=45, description="15 to 240")
    urgency: str = Field(default=Urgency.NORMAL, description=" | ".join(Urgency.values))
    hard_constraints: HardConstraintsIn = HardConstraintsIn()
    soft_preferences: SoftPreferencesIn = SoftPreferencesIn()
    not_before: date | None = None
    not_after: date | None = None


def _plausible(start: datetime) -> datetime:
    """Refuse times no talk can have (year 1, year 9999) before any arithmetic on them."""
    if not PLAUSIBLE_YEARS[0] <= start.year <= PLAUSIBLE_YEARS[1]:
        raise ValueError(f"a time between the years {PLAUSIBLE_YEARS[0]} and {PLAUSIBLE_YEARS[1]}")
    return start


PLAUSIBLE_YEARS = (2000, 2999)
PlausibleTime = Annotated[AwareDatetime, AfterValidator(_plausible)]


class SlotChoiceIn(Schema):
    start: PlausibleTime


class TalkRequestIn(TalkDraftIn):
    message: str = ""
    location: str = ""
    online_link: str = ""
    slot: SlotChoiceIn | None = Field(
        default=None, description="propose this time with the request"
    )
    accept_conflicts: bool = False


class ProposalIn(Schema):
    start: PlausibleTime
    accept_conflicts: bool = False


class ReasonIn(Schema):
    reason: str = ""


class AgendaIn(Schema):
    items: list[str]


# --- refusals ---------------------------------------------------------------------------------


def _answer_refusals(operation: Callable[..., Any]) -> Callable[..., Any]:
    """A refused request says what is wrong: 400 with the errors per field, 409 with the
    conflicts of the chosen time (or of a proposed time booked since). Other domain errors go
    to the API's own handlers."""

    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except services.InvalidTalk as error:
            errors = {field: str(message) for field, message in error.errors.items()}
            return Status(400, {"detail": str(error.message), "code": error.code, "errors": errors})
        except (services.TimeConflict, services.TimeTaken) as error:
            return Status(
                409,
                {"detail": str(error.message), "code": error.code, "conflicts": error.conflicts},
            )

    return run


router.add_decorator(_answer_refusals)

REFUSED: dict[int, type[Schema]] = {
    400: TalkErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: TalkConflictOut,
}


# --- reads ------------------------------------------------------------------------------------


class TalksQuery(Schema):
    state: list[TalkState] = Field(default_factory=list)
    role: Literal["as_employee", "as_counterpart"] | None = Field(
        default=None, description="only the talks about me, or only those I lead"
    )


@router.get("/talks", response=list[TalkOut])
@paginate(BoundedPageNumberPagination, page_size=50)
def list_talks(request: HttpRequest, filters: Query[TalksQuery]) -> object:
    """Talks I take part in; for HR partners also those of the people in their scope, for
    administrators every talk of the organisation."""
    talks = talks_visible_to(request.user)
    if filters.state:
        talks = talks.filter(state__in=[str(state) for state in filters.state])
    own = scope_for(request.user).employee
    # No own employee: talks_visible_to is already empty.
    if own is not None and filters.role == "as_employee":
        talks = talks.filter(employee_id=own.pk)
    elif own is not None and filters.role == "as_counterpart":
        talks = talks.filter(counterpart_id=own.pk)
    return talks.select_related(*_LIST_RELATED).order_by("-state_changed_at", "-pk")


@router.get("/talks/inbox", response=list[TalkOut])
@paginate(BoundedPageNumberPagination, page_size=50)
def talk_inbox(request: HttpRequest) -> object:
    """Open talks waiting for my answer, urgent ones first, then the oldest."""
    return inbox_of(request.user)


@router.get("/talks/people-to-ask", response=list[PersonToAskOut])
def list_people_to_ask(request: HttpRequest) -> object:
    """Whom I can ask for a talk about myself: my managers up the line first, then the
    department heads and HR partners for my department."""
    return people_to_ask(request.user)


@router.get("/talks/{int:talk_id}", response={200: TalkDetailOut, 404: ErrorOut})
def get_talk(request: HttpRequest, talk_id: int) -> object:
    """One talk with its open proposal, agenda and history. Audited as
    `interviews.talk.viewed`."""
    return access_talk(request.user, talk_id)


@router.get(
    "/talks/{int:talk_id}/slots", response={200: list[SlotOut], 403: ErrorOut, 404: ErrorOut}
)
def talk_slots(request: HttpRequest, talk_id: int) -> object:
    """The best times for the talk, for its two people (HR following the talk gets 403)."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.slots_viewed")
    return [_slot(slot) for slot in slots_for(talk)]


# --- requesting -------------------------------------------------------------------------------


@router.post(
    "/talks/slots", response={200: list[SlotOut], **REFUSED}, openapi_extra=body_of(TalkDraftIn)
)
def preview_slots(request: HttpRequest) -> object:
    """The ranked slots a request with these details would get, before it is sent. 404 when
    the other person is not an active employee of my organisation, 403 when I may not ask
    them for a talk."""
    data = parse(TalkDraftIn, request, error=services.InvalidTalk)
    other = access_person_to_ask(
        request.user, data.with_employee_id, action="interviews.talk.slots_viewed"
    )
    draft = services.draft_talk(other, requester=request.user, details=_details(data))
    return [_slot(slot) for slot in slots_for(draft)]


@router.post(
    "/talks", response={201: TalkDetailOut, **REFUSED}, openapi_extra=body_of(TalkRequestIn)
)
def request_talk(request: HttpRequest) -> object:
    """Ask for a talk, optionally proposing a time (`slot`). A time that does not suit
    everyone answers 409 with the conflicts, unless `accept_conflicts`."""
    data = parse(TalkRequestIn, request, error=services.InvalidTalk)
    other = access_person_to_ask(
        request.user, data.with_employee_id, action="interviews.talk.requested"
    )
    slot = None
    if data.slot is not None:
        # The service ends the slot after the talk's (checked) duration.
        slot = (data.slot.start, data.slot.start)
    talk = services.request_talk(
        other,
        requester=request.user,
        details=_details(data),
        slot=slot,
        accept_conflicts=data.accept_conflicts,
    )
    return Status(201, talk)


# --- negotiating ------------------------------------------------------------------------------


@router.post(
    "/talks/{int:talk_id}/proposals",
    response={201: TalkDetailOut, **REFUSED},
    openapi_extra=body_of(ProposalIn),
)
def propose_time(request: HttpRequest, talk_id: int) -> object:
    """Propose a time: the first, a counter-proposal, or a new time for a scheduled talk."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.proposed")
    data = parse(ProposalIn, request, error=services.InvalidTalk)
    services.propose_time(
        talk, actor=request.user, start=data.start, accept_conflicts=data.accept_conflicts
    )
    return Status(201, talk)


@router.post("/talks/{int:talk_id}/accept", response={200: TalkDetailOut, **REFUSED})
def accept_time(request: HttpRequest, talk_id: int) -> object:
    """Accept the other side's open proposal: the talk is scheduled (or moved) to it. 409
    `time_taken` with the conflicts when either person has had another talk booked at that
    time since it was proposed."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.accepted")
    return services.accept_time(talk, actor=request.user)


@router.post(
    "/talks/{int:talk_id}/decline",
    response={200: TalkDetailOut, **REFUSED},
    openapi_extra=body_of(ReasonIn),
)
def decline_talk(request: HttpRequest, talk_id: int) -> object:
    """Say no to an open request, with a reason (required)."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.declined")
    data = parse(ReasonIn, request, error=services.InvalidTalk)
    return services.decline_talk(talk, actor=request.user, reason=data.reason)


@router.post(
    "/talks/{int:talk_id}/cancel",
    response={200: TalkDetailOut, **REFUSED},
    openapi_extra=body_of(ReasonIn),
)
def cancel_talk(request: HttpRequest, talk_id: int) -> object:
    """Call the talk off before it is held; a booked time gets a calendar cancellation."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.cancelled")
    data = parse(ReasonIn, request, error=services.InvalidTalk)
    return services.cancel_talk(talk, actor=request.user, reason=data.reason)


@router.post("/talks/{int:talk_id}/start", response={200: TalkDetailOut, **REFUSED})
def start_talk(request: HttpRequest, talk_id: int) -> object:
    """Start the talk and open its record (GET /talks/{id}/record), from 30 minutes before
    its time."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.started")
    start_record(talk, actor=request.user)
    return talk


@router.put(
    "/talks/{int:talk_id}/agenda",
    response={200: TalkDetailOut, **REFUSED},
    openapi_extra=body_of(AgendaIn),
)
def update_agenda(request: HttpRequest, talk_id: int) -> object:
    """Replace the agenda with these items, in this order, until the talk starts."""
    talk = access_talk_to_act_on(request.user, talk_id, action="interviews.talk.agenda_edited")
    data = parse(AgendaIn, request, error=services.InvalidTalk)
    return services.update_agenda(talk, actor=request.user, items=data.items)


# --- helpers ----------------------------------------------------------------------------------


def _details(data: TalkDraftIn) -> services.TalkRequest:
    """The request's details; a preview has no message, place or link."""
    wording: dict[str, str] = {}
    if isinstance(data, TalkRequestIn):
        wording = {
            "message": data.message,
            "location": data.location,
            "online_link": data.online_link,
        }
    return services.TalkRequest(
        **wording,
        topic=data.topic,
        duration_minutes=data.duration_minutes,
        urgency=data.urgency,
        hard_constraints=data.hard_constraints.model_dump(),
        soft_preferences=data.soft_preferences.model_dump(),
        not_before=data.not_before,
        not_after=data.not_after,
    )


def _slot(slot: RankedSlot) -> dict[str, Any]:
    return {
        "start": slot.start,
        "end": slot.end,
        "score": slot.score,
        "reasons": [
            {"code": reason.code, "points": reason.points, "message": reason.message}
            for reason in slot.reasons
        ],
    }
