"""Writes on talks. Every change of state goes through `transition`, which checks that the
change is allowed, saves the talk in one transaction, writes the talk's activity and the audit
event `interviews.talk.<event>`, queues the notifications and sends `talk_changed` on commit.

The actions (request, propose, accept, decline, cancel, start) check who may do them and
what is asked, then call `transition`. The actor is the signed-in user; `expire_due_requests`
acts for nobody (actor None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import ConflictError, InvalidFields
from miantan.people.models import Employee
from miantan.people.scopes import scope_for

from . import agenda as agendas
from .enums import (
    BOOKED_STATES,
    OPEN_STATES,
    TRANSITIONS,
    ProposalState,
    TalkEvent,
    TalkState,
    Topic,
    Urgency,
)
from .models import Proposal, Talk, TalkActivity
from .queries import conflicts_at, slots_for
from .rules import (
    can_act_on_talk,
    is_asked,
    may_cancel,
    may_decline,
    may_edit_agenda,
    may_propose,
    may_start,
    relation_to,
)
from .signals import talk_changed

MIN_MINUTES, MAX_MINUTES = 15, 240
MAX_MESSAGE = 2000
MAX_AGENDA_ITEMS = 30
MAX_AGENDA_TEXT = 500
# How far ahead a talk may be asked for or proposed: a year, which also bounds the slot search.
MAX_DAYS_AHEAD = 366


class InvalidTalk(InvalidFields):
    """The request or the change was refused."""

    error_code = "invalid_talk"


class TimeConflict(ConflictError):
    """A chosen time clashes with someone's availability. Nothing was changed; proposing it
    again with `accept_conflicts=True` keeps it, with the conflicts on the proposal."""

    def __init__(self, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(
            _("The time does not suit everyone: %(reasons)s.")
            % {"reasons": describe_conflicts(conflicts)},
            code="time_conflict",
        )
        self.conflicts = conflicts


class TimeTaken(ConflictError):
    """The proposed time was free when it was proposed, but one of the two people has had
    another talk booked at it since: it cannot be accepted (no "accept anyway"), only a new
    time proposed. `conflicts` say who is booked, and when."""

    def __init__(self, conflicts: list[dict[str, Any]]) -> None:
        reasons = describe_conflicts(conflicts) or _("one of you has another talk then")
        super().__init__(
            _(
                "This time is no longer free: %(reasons)s, booked since it was proposed. "
                "Propose another time."
            )
            % {"reasons": reasons},
            code="time_taken",
        )
        self.conflicts = conflicts


@dataclass(frozen=True)
class TalkRequest:
    """What the requester asks for; validated by `request_talk`."""

    topic: str
    message: str = ""
    duration_minutes: int = 45
    location: str = ""
    online_link: str = ""
    urgency: str = Urgency.NORMAL
    hard_constraints: dict[str, Any] | None = None
    soft_preferences: dict[str, Any] | None = None
    not_before: date | None = None
    not_after: date | None = None


# --- the one transition function --------------------------------------------------------------


def transition(
    talk: Talk,
    to_state: str,
    *,
    actor: Any,
    event: str,
    note: str = "",
    changes: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Talk:
    """Move the talk to `to_state` (or keep it, for an event that changes fields only),
    saving `changes` with it. Raises ConflictError when the talk has moved on meanwhile or the
    change is not allowed from its state."""
    changes = dict(changes or {})
    with transaction.atomic():
        current = Talk.objects.select_for_update().get(pk=talk.pk)
        if current.state != talk.state or current.version != talk.version:
            raise ConflictError(
                _("The talk changed in the meantime (it is now “%(state)s”); reload the page.")
                % {"state": current.get_state_display()},
                code="stale",
            )
        from_state = current.state
        if to_state != from_state and to_state not in TRANSITIONS[from_state]:
            raise ConflictError(
                _("A talk that is “%(state)s” cannot be %(event)s.")
                % {"state": current.get_state_display(), "event": TalkEvent(event).label},
                code="not_allowed",
            )
        now = timezone.now()
        if to_state != from_state:
            changes.update(state=to_state, state_changed_at=now)
        changes["version"] = current.version + 1
        for name, value in changes.items():
            setattr(talk, name, value)
        talk.updated_at = now
        talk.save(update_fields=[*changes, "updated_at"])
        _log_step(talk, event, actor=actor, from_state=from_state, note=note, data=data, at=now)
    return talk


def _log_step(
    talk: Talk,
    event: str,
    *,
    actor: Any,
    from_state: str,
    at: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """What every step of a talk leaves behind, inside the caller's transaction: the talk's
    activity, the audit event, the notifications, and `talk_changed` after the commit."""
    actor_employee = _employee_of(actor)
    TalkActivity.objects.create(
        talk=talk,
        actor=actor_employee,
        event=event,
        from_state=from_state,
        to_state=talk.state,
        note=note,
        data=data or {},
        at=at,
    )
    record(
        f"interviews.talk.{event}",
        actor=actor,
        obj=talk,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data={"from": from_state, "to": talk.state, **(data or {})},
    )
    from .messages import queue_talk_notifications

    queue_talk_notifications(talk, event, actor=actor_employee)
    transaction.on_commit(
        lambda: talk_changed.send(sender=Talk, talk=talk, event=event, actor=actor_employee)
    )


# --- requesting -------------------------------------------------------------------------------


def request_talk(
    other: Employee,
    *,
    requester: Any,
    details: TalkRequest,
    slot: tuple[datetime, datetime] | None = None,
    accept_conflicts: bool = False,
) -> Talk:
    """A new talk between the requester and `other`, in any direction the role scopes allow
    (rules.relation_to). With `slot` the requester proposes a time at once; an urgent request
    without one takes the earliest feasible slot (A9). Callers fetch `other` through the
    permission layer (`queries.access_person_to_ask`)."""
    talk = draft_talk(other, requester=requester, details=details)
    own = talk.requested_by
    now = timezone.now()
    talk.message = details.message.strip()
    talk.location = details.location.strip()
    talk.online_link = details.online_link.strip()
    talk.awaiting = other
    talk.expires_at = now + _expiry()
    talk.state_changed_at = now
    with transaction.atomic():
        talk.save(force_insert=True)
        if slot is None and details.urgency == Urgency.URGENT:
            earliest = slots_for(talk, limit=1)
            if earliest:
                slot = (earliest[0].start, earliest[0].end)
        proposal = None
        if slot is not None:
            proposal = _new_proposal(talk, own, slot[0], accept_conflicts=accept_conflicts)
            talk.expires_at = min(talk.expires_at, proposal.start)
            talk.save(update_fields=["expires_at"])
        _log_step(
            talk,
            TalkEvent.REQUESTED,
            actor=requester,
            from_state="",
            at=now,
            data={
                "initiation": talk.initiation,
                "topic": talk.topic,
                "urgency": talk.urgency,
                "proposal": proposal.pk if proposal else None,
            },
        )
    return talk


def draft_talk(other: Employee, *, requester: Any, details: TalkRequest) -> Talk:
    """The talk `request_talk` creates, unsaved: for showing the ranked slots before the
    request is sent (`queries.offer_slots(draft)`). Same checks as request_talk, no writes."""
    own, (initiation, requester_is_employee) = _relation(requester, other)
    _validate(details)
    employee, counterpart = (own, other) if requester_is_employee else (other, own)
    return Talk(
        organisation_id=own.organisation_id,
        employee=employee,
        counterpart=counterpart,
        requested_by=own,
        initiation=initiation,
        topic=details.topic,
        duration_minutes=details.duration_minutes,
        urgency=details.urgency,
        hard_constraints=_clean_hard(details.hard_constraints),
        soft_preferences=_clean_soft(details.soft_preferences),
        not_before=details.not_before,
        not_after=details.not_after,
    )


# --- negotiating ------------------------------------------------------------------------------


def propose_time(
    talk: Talk,
    *,
    actor: Any,
    start: datetime,
    accept_conflicts: bool = False,
) -> Proposal:
    """Propose a time (one of the ranked slots or any other): a first proposal, a counter-
    proposal to the other side's, or a new time for a scheduled talk (a reschedule). A time
    that clashes with availability raises TimeConflict unless `accept_conflicts`."""
    own = _ensure_participant(actor, talk, "interviews.talk.proposed")
    if not may_propose(talk):
        raise _not_now(talk)
    rescheduling = talk.state == TalkState.SCHEDULED
    with transaction.atomic():
        proposal = _new_proposal(talk, own, start, accept_conflicts=accept_conflicts)
        event = TalkEvent.RESCHEDULED if rescheduling else TalkEvent.PROPOSED
        transition(
            talk,
            TalkState.NEGOTIATING,
            actor=actor,
            event=event,
            changes={
                "awaiting": talk.counterpart if own.pk == talk.employee_id else talk.employee,
                "expires_at": min(timezone.now() + _expiry(), start),
            },
            data={
                "proposal": proposal.pk,
                "start": start.isoformat(),
                "conflicts": len(proposal.conflicts),
            },
        )
    return proposal


def accept_time(talk: Talk, *, actor: Any) -> Talk:
    """Accept the other side's open proposal: the talk is scheduled at that time (or moved
    to it, raising the calendar sequence), an agenda is written when there is none yet, and
    both get the invitation. Raises TimeTaken, naming who, when either person has had another
    talk booked at that time since it was proposed."""
    own = _ensure_participant(actor, talk, "interviews.talk.accepted")
    proposal = talk.open_proposal()
    if talk.state not in OPEN_STATES or proposal is None:
        raise ConflictError(_("There is no proposed time to accept."), code="no_proposal")
    if proposal.proposed_by_id == own.pk:
        raise ConflictError(
            _("You proposed this time yourself; the other side accepts it."), code="own_proposal"
        )
    if not is_asked(own, talk):
        raise ConflictError(_("The other side is to answer, not you."), code="not_asked")
    if proposal.start <= timezone.now():
        raise ConflictError(_("The proposed time has passed; propose another one."), code="past")
    with transaction.atomic():
        _lock_people(talk)
        if _double_booked(talk, proposal.start, proposal.end):
            clashes = conflicts_at(talk, proposal.start, proposal.end)
            raise TimeTaken([c for c in clashes if c["reason"] == "talk"] or clashes)
        Proposal.objects.filter(pk=proposal.pk).update(state=ProposalState.ACCEPTED)
        moved = talk.scheduled_start is not None
        changes: dict[str, Any] = {
            "scheduled_start": proposal.start,
            "scheduled_end": proposal.end,
            "awaiting": None,
            "expires_at": None,
        }
        if moved:
            changes["sequence"] = talk.sequence + 1
        if not talk.agenda:
            with translation.override(talk.employee.language):
                changes["agenda"] = agendas.build_agenda(talk, viewer=actor)
        transition(
            talk,
            TalkState.SCHEDULED,
            actor=actor,
            event=TalkEvent.ACCEPTED,
            changes=changes,
            data={"proposal": proposal.pk, "start": proposal.start.isoformat(), "moved": moved},
        )
    return talk


def decline_talk(talk: Talk, *, actor: Any, reason: str) -> Talk:
    """Say no to a request, with a reason the other side reads. Only the side that is asked
    declines; the side that waits withdraws (cancel_talk)."""
    own = _ensure_participant(actor, talk, "interviews.talk.declined")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidTalk({"reason": _("Say why you decline, so the other side knows.")})
    if len(reason) > MAX_MESSAGE:
        raise InvalidTalk({"reason": _too_long(reason)})
    if talk.state not in OPEN_STATES:
        raise _not_now(talk)
    if not may_decline(own, talk):
        raise ConflictError(
            _("The other side is to answer, not you: withdraw the request instead."),
            code="withdraw_instead",
        )
    with transaction.atomic():
        _close_proposals(talk, ProposalState.WITHDRAWN)
        return transition(
            talk,
            TalkState.DECLINED,
            actor=actor,
            event=TalkEvent.DECLINED,
            note=reason,
            changes={"awaiting": None, "expires_at": None, "closing_reason": reason},
        )


def cancel_talk(talk: Talk, *, actor: Any, reason: str = "") -> Talk:
    """Call a talk off before it is held: either side once it is scheduled; while it waits for
    an answer, the side that waits withdraws it, and the side that is asked declines instead,
    with a reason (decline_talk). A talk that had a time in the calendars gets a raised
    sequence, and both sides a cancellation."""
    own = _ensure_participant(actor, talk, "interviews.talk.cancelled")
    reason = (reason or "").strip()
    if len(reason) > MAX_MESSAGE:
        raise InvalidTalk({"reason": _too_long(reason)})
    if talk.state not in OPEN_STATES and talk.state != TalkState.SCHEDULED:
        raise _not_now(talk)
    if not may_cancel(own, talk):
        raise ConflictError(
            _("You were asked for this talk: decline it, and say why."), code="decline_instead"
        )
    changes: dict[str, Any] = {"awaiting": None, "expires_at": None, "closing_reason": reason}
    if talk.scheduled_start is not None:
        changes["sequence"] = talk.sequence + 1
    with transaction.atomic():
        _close_proposals(talk, ProposalState.WITHDRAWN)
        return transition(
            talk,
            TalkState.CANCELLED,
            actor=actor,
            event=TalkEvent.CANCELLED,
            note=reason,
            changes=changes,
        )


def start_talk(talk: Talk, *, actor: Any) -> Talk:
    """Open the talk's record: from 30 minutes before its time."""
    _ensure_participant(actor, talk, "interviews.talk.started")
    if talk.state != TalkState.SCHEDULED or talk.scheduled_start is None:
        raise _not_now(talk)
    if not may_start(talk):
        raise ConflictError(
            _("The talk can be started from 30 minutes before its time."), code="too_early"
        )
    return transition(talk, TalkState.IN_PROGRESS, actor=actor, event=TalkEvent.STARTED)


def update_agenda(talk: Talk, *, actor: Any, items: list[str]) -> Talk:
    """Both sides edit the agenda until the talk starts. Items kept from the generated agenda
    keep their source and data; new ones are the editor's own."""
    _ensure_participant(actor, talk, "interviews.talk.agenda_edited")
    if not may_edit_agenda(talk):
        raise _not_now(talk)
    cleaned = [item.strip() for item in items if item and item.strip()]
    if len(cleaned) > MAX_AGENDA_ITEMS:
        raise InvalidTalk(
            {"agenda": _("At most %(limit)s agenda items.") % {"limit": MAX_AGENDA_ITEMS}}
        )
    for item in cleaned:
        if len(item) > MAX_AGENDA_TEXT:
            raise InvalidTalk({"agenda": _too_long(item, MAX_AGENDA_TEXT)})
    known = {entry.get("text"): entry for entry in talk.agenda or []}
    agenda = [known.get(text) or {"text": text, "source": "own", "data": {}} for text in cleaned]
    return transition(
        talk,
        talk.state,
        actor=actor,
        event=TalkEvent.AGENDA_EDITED,
        changes={"agenda": agenda},
        data={"items": len(agenda)},
    )


def expire_due_requests(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire open talks whose answer is overdue (their expiry, or a proposed time that has
    passed); a booked talk whose new time was not answered goes back to its booked time.
    Safe to run from several workers: each talk moves once (transition refuses a talk that
    changed meanwhile)."""
    now = now or timezone.now()
    due = list(
        Talk.objects.filter(state__in=sorted(OPEN_STATES), expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for talk in Talk.objects.filter(pk__in=due).select_related("employee", "counterpart"):
        # An unanswered new time for a booked talk lapses; the booked time stands.
        rescheduling = talk.scheduled_start is not None
        try:
            with transaction.atomic():
                _close_proposals(talk, ProposalState.WITHDRAWN)
                transition(
                    talk,
                    TalkState.SCHEDULED if rescheduling else TalkState.EXPIRED,
                    actor=None,
                    event=TalkEvent.KEPT if rescheduling else TalkEvent.EXPIRED,
                    changes={"awaiting": None, "expires_at": None},
                )
            expired += 1
        except ConflictError:
            continue
    return expired


# --- helpers ----------------------------------------------------------------------------------


def _new_proposal(
    talk: Talk, own: Employee, start: datetime, *, accept_conflicts: bool
) -> Proposal:
    """A proposal from `start` for the talk's duration (any end a caller computed is ignored)."""
    now = timezone.now()
    try:
        start = start.astimezone(UTC)
    except OverflowError as error:  # year 1 at +14:00 has no UTC time
        raise InvalidTalk({"start": _("Choose a time in the future.")}) from error
    if start <= now:
        raise InvalidTalk({"start": _("Choose a time in the future.")})
    if start > now + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidTalk({"start": _("Choose a time within the next year.")})
    end = start + timedelta(minutes=talk.duration_minutes)
    conflicts = conflicts_at(talk, start, end)
    if conflicts and not accept_conflicts:
        raise TimeConflict(conflicts)
    _close_proposals(talk, ProposalState.SUPERSEDED)
    return Proposal.objects.create(
        talk=talk, proposed_by=own, start=start, end=end, conflicts=conflicts
    )


def _close_proposals(talk: Talk, state: str) -> None:
    talk.proposals.filter(state=ProposalState.OPEN).update(state=state)


def _lock_people(talk: Talk) -> None:
    """Serialise bookings of the same people (PostgreSQL; SQLite writes one at a time)."""
    list(
        Employee.objects.select_for_update()
        .filter(pk__in=sorted(talk.participant_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _double_booked(talk: Talk, start: datetime, end: datetime) -> bool:
    people = list(talk.participant_ids)
    return (
        Talk.objects.filter(
            Q(employee_id__in=people) | Q(counterpart_id__in=people),
            state__in=sorted(BOOKED_STATES),
            scheduled_start__lt=end,
            scheduled_end__gt=start,
        )
        .exclude(pk=talk.pk)
        .exists()
    )


def _validate(details: TalkRequest) -> None:
    errors: dict[str, Any] = {}
    if details.topic not in Topic.values:
        errors["topic"] = _("Choose a topic.")
    if details.urgency not in Urgency.values:
        errors["urgency"] = _("Choose how urgent the talk is.")
    if not isinstance(details.duration_minutes, int) or not (
        MIN_MINUTES <= details.duration_minutes <= MAX_MINUTES
    ):
        errors["duration_minutes"] = _("A talk lasts between %(low)s and %(high)s minutes.") % {
            "low": MIN_MINUTES,
            "high": MAX_MINUTES,
        }
    if len(details.message) > MAX_MESSAGE:
        errors["message"] = _too_long(details.message)
    if len(details.location) > 200:
        errors["location"] = _too_long(details.location, 200)
    if details.online_link.strip():
        try:
            URLValidator(schemes=["http", "https"])(details.online_link.strip())
        except ValidationError:
            errors["online_link"] = _("Enter a link that starts with https:// or http://.")
    today = timezone.localdate()
    reach = (today - timedelta(days=MAX_DAYS_AHEAD), today + timedelta(days=MAX_DAYS_AHEAD))
    for field in ("not_before", "not_after"):
        day = getattr(details, field)
        if day is not None and not reach[0] <= day <= reach[1]:
            errors[field] = _("Choose a day within a year from today.")
    if details.not_after is not None and "not_after" not in errors and details.not_after < today:
        errors["not_after"] = _("The last day has passed.")
    if (
        details.not_before
        and details.not_after
        and not errors
        and details.not_after < details.not_before
    ):
        errors["not_after"] = _("The last day is before the first day.")
    if errors:
        raise InvalidTalk(errors)


def _clean_hard(chosen: dict[str, Any] | None) -> dict[str, Any]:
    chosen = chosen or {}
    rest = chosen.get("rest_after_night_hours", 8)
    if not isinstance(rest, int) or not 0 <= rest <= 24:
        raise InvalidTalk({"rest_after_night_hours": _("Rest after a night shift: 0 to 24 hours.")})
    return {
        "avoid_duty_days": bool(chosen.get("avoid_duty_days", False)),
        "rest_after_night_hours": rest,
        "within_working_hours": bool(chosen.get("within_working_hours", True)),
    }


def _clean_soft(chosen: dict[str, Any] | None) -> dict[str, Any]:
    chosen = chosen or {}
    cleaned: dict[str, Any] = {"avoid_surgery_days": bool(chosen.get("avoid_surgery_days"))}
    for key in ("before", "after"):
        value = chosen.get(key)
        if value in (None, ""):
            cleaned[key] = None
            continue
        try:
            cleaned[key] = time.fromisoformat(str(value)).strftime("%H:%M")
        except ValueError as error:
            raise InvalidTalk({key: _("Enter a time as HH:MM.")}) from error
    return cleaned


def _expiry() -> timedelta:
    return timedelta(hours=getattr(settings, "MIANTAN_REQUEST_EXPIRY_HOURS", 168))


def _relation(requester: Any, other: Employee) -> tuple[Employee, tuple[str, bool]]:
    own = _employee_of(requester)
    relation = relation_to(own, other, user=requester) if own is not None else None
    if own is None or relation is None:
        _deny("interviews.talk.requested", requester, other)
    return own, relation


def _employee_of(actor: Any) -> Employee | None:
    if actor is None:
        return None
    own = scope_for(actor).employee
    return own if own is not None and own.is_active else None


def _ensure_participant(actor: Any, talk: Talk, action: str) -> Employee:
    own = _employee_of(actor)
    if own is None or not can_act_on_talk.test(actor, talk):
        _deny(action, actor, talk.employee, obj=talk)
    assert own is not None
    return own


def _deny(action: str, actor: Any, employee: Employee, *, obj: Any = None) -> NoReturn:
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj if obj is not None else employee,
        subject_id=employee.pk,
        organisation_id=employee.organisation_id,
    )
    raise PermissionDenied


def _not_now(talk: Talk) -> ConflictError:
    return ConflictError(
        _("This cannot be done while the talk is “%(state)s”.")
        % {"state": talk.get_state_display()},
        code="not_allowed",
    )


def _too_long(text: str, limit: int = MAX_MESSAGE) -> Any:
    return _("Keep it to %(limit)s characters (it has %(length)s).") % {
        "limit": limit,
        "length": len(text),
    }


_REASONS: dict[str, Any] = {
    "shift": _("%(name)s is on shift (%(detail)s)"),
    "leave": _("%(name)s is on leave"),
    "busy": _("%(name)s is busy in their calendar"),
    "talk": _("%(name)s has another talk"),
    "holiday": _("it is a public holiday for %(name)s"),
    "outside_hours": _("it is outside %(name)s's working hours"),
    "duty_day": _("%(name)s is on duty that day"),
    "rest_after_night": _("%(name)s rests after a night shift"),
    "calendar_unknown": _("the public holidays of that year are not loaded yet"),
}


def describe_conflicts(conflicts: list[dict[str, Any]]) -> str:
    """The conflicts in one translated sentence, each person and reason once."""
    seen: list[str] = []
    for conflict in conflicts:
        template = _REASONS.get(conflict.get("reason", ""), _REASONS["busy"])
        text = str(
            template % {"name": conflict.get("name", ""), "detail": conflict.get("detail", "")}
        )
        if text not in seen:
            seen.append(text)
    return pgettext("list of reasons", "; ").join(seen)
