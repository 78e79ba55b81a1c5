"""/api/v1/talks: requesting, ranked slots, negotiating and the inbox, with the same rules,
queries and services as the talk pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from miantan.audit.enums import Outcome
from miantan.audit.models import AuditEvent
from miantan.interviews.enums import ProposalState, TalkState
from miantan.interviews.models import Proposal, Talk, TalkActivity
from miantan.notifications.models import Notification
from miantan.people.models import Employee
from miantan.people.services import mark_left
from tests.factories import EmployeeFactory, api_token_for
from tests.personas import Hospital
from tests.scheduling.builders import SHANGHAI, at, hospital_hours

# A Monday morning; the hospital works Monday to Friday 08:00–12:00 and 14:00–17:30.
MONDAY = date(2026, 11, 30)
NOW = at(MONDAY, 7, 30)
TUESDAY, WEDNESDAY, THURSDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 3))


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ward(hospital: Hospital) -> Hospital:
    """The hospital with its working hours, so that slots and conflicts are exact."""
    hospital_hours(hospital.organisation)
    return hospital


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def request_body(other: Employee, **extra: Any) -> dict[str, Any]:
    return {"with_employee_id": other.pk, "topic": "career", "duration_minutes": 45, **extra}


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data or {}, content_type="application/json")


def talk_between(employee: Employee, counterpart: Employee, **fields: Any) -> Talk:
    """A talk row as the services leave it after a request from the employee."""
    return Talk.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        counterpart=counterpart,
        requested_by=employee,
        topic=fields.pop("topic", "career"),
        awaiting=fields.pop("awaiting", counterpart),
        **fields,
    )


def rows() -> dict[str, int]:
    """What a write leaves behind (reads and refusals are audited: those rows may grow)."""
    changes = AuditEvent.objects.filter(action__startswith="interviews.talk.", outcome=Outcome.OK)
    return {
        "talks": Talk.objects.count(),
        "proposals": Proposal.objects.count(),
        "activities": TalkActivity.objects.count(),
        "notifications": Notification.objects.count(),
        "audited changes": changes.exclude(action="interviews.talk.viewed").count(),
    }


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-pk").first()


# --- the whole negotiation --------------------------------------------------------------------


def test_api_talk_negotiation_from_request_to_cancellation(ward):
    nurse, manager = bearer(ward.nurse_wang), bearer(ward.head_nurse)

    created = post(nurse, "/api/v1/talks", request_body(ward.head_nurse, message="想聊聊职业发展"))
    assert created.status_code == 201, created.json()
    talk = created.json()
    assert (talk["state"], talk["initiation"]) == ("requested", "employee")
    assert talk["employee"]["name"] == "王芳"
    assert talk["counterpart"]["name"] == "周敏"
    assert talk["awaiting_id"] == ward.head_nurse.pk
    url = f"/api/v1/talks/{talk['id']}"

    proposed = post(nurse, f"{url}/proposals", {"start": at(TUESDAY, 9).isoformat()})
    assert proposed.status_code == 201, proposed.json()
    assert proposed.json()["state"] == "negotiating"
    assert proposed.json()["awaiting_id"] == ward.head_nurse.pk

    countered = post(manager, f"{url}/proposals", {"start": at(WEDNESDAY, 10).isoformat()})
    assert countered.status_code == 201, countered.json()
    assert countered.json()["open_proposal"]["proposed_by_id"] == ward.head_nurse.pk
    assert countered.json()["awaiting_id"] == ward.nurse_wang.pk

    accepted = post(nurse, f"{url}/accept")
    assert accepted.status_code == 200, accepted.json()
    booked = accepted.json()
    assert booked["state"] == "scheduled"
    assert _instant(booked["scheduled_start"]) == at(WEDNESDAY, 10)
    assert _instant(booked["scheduled_end"]) == at(WEDNESDAY, 10, 45)
    assert booked["open_proposal"] is None
    assert booked["agenda"], "accepting writes the agenda"

    moved = post(manager, f"{url}/proposals", {"start": at(THURSDAY, 14).isoformat()})
    assert moved.status_code == 201, moved.json()
    assert moved.json()["state"] == "negotiating"
    assert _instant(moved.json()["scheduled_start"]) == at(WEDNESDAY, 10), "kept until accepted"

    rebooked = post(nurse, f"{url}/accept")
    assert rebooked.status_code == 200, rebooked.json()
    assert _instant(rebooked.json()["scheduled_start"]) == at(THURSDAY, 14)
    assert rebooked.json()["sequence"] == 1

    cancelled = post(manager, f"{url}/cancel", {"reason": "临时手术"})
    assert cancelled.status_code == 200, cancelled.json()
    final = cancelled.json()
    assert final["state"] == "cancelled"
    assert final["closing_reason"] == "临时手术"
    assert final["sequence"] == 2
    assert [a["event"] for a in final["activities"]] == [
        "requested",
        "proposed",
        "proposed",
        "accepted",
        "rescheduled",
        "accepted",
        "cancelled",
    ]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(SHANGHAI)


def test_api_talk_request_with_a_slot_proposes_it_at_once(ward):
    response = post(
        bearer(ward.nurse_wang),
        "/api/v1/talks",
        request_body(ward.head_nurse, slot={"start": at(TUESDAY, 9).isoformat()}),
    )

    proposal = response.json()["open_proposal"]
    assert response.status_code == 201
    assert proposal["proposed_by_id"] == ward.nurse_wang.pk
    assert _instant(proposal["end"]) == at(TUESDAY, 9, 45)


def test_api_manager_requests_a_talk_with_her_report(ward):
    response = post(bearer(ward.head_nurse), "/api/v1/talks", request_body(ward.nurse_wang))

    talk = response.json()
    assert response.status_code == 201
    assert (talk["initiation"], talk["employee"]["name"], talk["awaiting_id"]) == (
        "manager",
        "王芳",
        ward.nurse_wang.pk,
    )


def test_api_employee_may_ask_a_manager_whose_record_they_cannot_see(ward):
    client = bearer(ward.nurse_wang)
    assert client.get(f"/api/v1/people/{ward.head.pk}").status_code == 404

    response = post(client, "/api/v1/talks", request_body(ward.head))

    assert response.status_code == 201
    assert response.json()["initiation"] == "employee"


# --- slots ------------------------------------------------------------------------------------


def test_api_preview_slots_ranks_times_within_both_working_hours(ward):
    response = post(bearer(ward.nurse_wang), "/api/v1/talks/slots", request_body(ward.head_nurse))

    slots = response.json()
    assert response.status_code == 200
    assert len(slots) == 5
    assert [s["score"] for s in slots] == sorted((s["score"] for s in slots), reverse=True)
    first = _instant(slots[0]["start"])
    assert first == at(MONDAY, 8)
    assert _instant(slots[0]["end"]) == at(MONDAY, 8, 45)
    for slot in slots:
        start, end = _instant(slot["start"]), _instant(slot["end"])
        assert start.weekday() < 5
        assert (8 <= start.hour < 12 and end <= at(start.date(), 12)) or (
            start.hour >= 14 and end <= at(start.date(), 17, 30)
        )
    assert {"code", "points", "message"} <= set(slots[0]["reasons"][0])
    assert Talk.objects.count() == 0


def test_api_preview_slots_keeps_the_preferred_time_of_day(ward):
    body = request_body(ward.head_nurse, soft_preferences={"after": "14:00"})

    slots = post(bearer(ward.nurse_wang), "/api/v1/talks/slots", body).json()

    assert _instant(slots[0]["start"]) == at(MONDAY, 14)
    assert "after" in {reason["code"] for reason in slots[0]["reasons"]}


def test_api_preview_slots_for_a_foreign_employee_is_not_found_and_audited(ward, other_org):
    foreign = other_org.employee

    response = post(bearer(ward.nurse_wang), "/api/v1/talks/slots", request_body(foreign))

    assert response.status_code == 404
    event = last_event("interviews.talk.slots_viewed")
    assert (event.outcome, event.object_id) == (Outcome.DENIED, str(foreign.pk))


def test_api_preview_slots_with_an_unrelated_colleague_is_forbidden(ward):
    response = post(bearer(ward.nurse_wang), "/api/v1/talks/slots", request_body(ward.zhao))

    assert response.status_code == 403
    assert last_event("interviews.talk.slots_viewed").outcome == Outcome.DENIED


def test_api_talk_slots_are_for_the_two_people_of_the_talk(ward):
    talk = talk_between(ward.nurse_wang, ward.head_nurse)

    for_manager = bearer(ward.head_nurse).get(f"/api/v1/talks/{talk.pk}/slots")
    for_hr = bearer(ward.hr_partner).get(f"/api/v1/talks/{talk.pk}/slots")
    for_zhao = bearer(ward.zhao).get(f"/api/v1/talks/{talk.pk}/slots")

    assert for_manager.status_code == 200
    assert _instant(for_manager.json()[0]["start"]) == at(MONDAY, 8)
    assert for_hr.status_code == 403
    assert for_zhao.status_code == 404


def test_api_talk_slots_leave_out_a_time_booked_for_another_talk(ward):
    talk_between(
        ward.doctor_li,
        ward.head_nurse,
        state=TalkState.SCHEDULED,
        awaiting=None,
        scheduled_start=at(MONDAY, 8),
        scheduled_end=at(MONDAY, 9),
    )
    talk = talk_between(ward.nurse_wang, ward.head_nurse)

    slots = bearer(ward.nurse_wang).get(f"/api/v1/talks/{talk.pk}/slots").json()

    assert all(_instant(s["start"]) >= at(MONDAY, 9) for s in slots)


# --- reads ------------------------------------------------------------------------------------


def test_api_talk_detail_shows_the_open_proposal_and_history(ward):
    client = bearer(ward.nurse_wang)
    talk_id = post(client, "/api/v1/talks", request_body(ward.head_nurse)).json()["id"]
    post(client, f"/api/v1/talks/{talk_id}/proposals", {"start": at(TUESDAY, 9).isoformat()})

    response = bearer(ward.head_nurse).get(f"/api/v1/talks/{talk_id}")

    body = response.json()
    assert response.status_code == 200
    assert body["message"] == ""
    assert _instant(body["open_proposal"]["start"]) == at(TUESDAY, 9)
    assert [a["actor"]["name"] for a in body["activities"]] == ["王芳", "王芳"]
    assert body["activities"][1]["event_label"]


def test_api_talk_view_is_audited(ward):
    talk = talk_between(ward.nurse_wang, ward.head_nurse)

    bearer(ward.head_nurse).get(f"/api/v1/talks/{talk.pk}")

    event = last_event("interviews.talk.viewed")
    assert (event.outcome, event.subject_id) == (Outcome.OK, ward.nurse_wang.pk)


def test_api_talk_of_another_organisation_is_not_found_and_audited(ward, other_org):
    colleague = EmployeeFactory(department=other_org.department, manager=other_org.employee)
    foreign = talk_between(colleague, other_org.employee)

    response = bearer(ward.admin).get(f"/api/v1/talks/{foreign.pk}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    event = last_event("interviews.talk.viewed")
    assert (event.outcome, event.object_id) == (Outcome.DENIED, str(foreign.pk))


def test_api_talk_of_other_colleagues_is_not_found(ward):
    talk = talk_between(ward.nurse_wang, ward.head_nurse)

    assert bearer(ward.doctor_li).get(f"/api/v1/talks/{talk.pk}").status_code == 404
    assert bearer(ward.doctor_li).get("/api/v1/talks/987654").status_code == 404


def test_api_talk_list_shows_the_talks_visible_to_the_viewer(ward):
    own = talk_between(ward.nurse_wang, ward.head_nurse)
    other = talk_between(ward.doctor_li, ward.head)

    def listed(employee: Employee) -> set[int]:
        return {t["id"] for t in bearer(employee).get("/api/v1/talks").json()["items"]}

    assert listed(ward.nurse_wang) == {own.pk}
    assert listed(ward.head) == {other.pk}
    assert listed(ward.hr_partner) == {own.pk, other.pk}
    assert listed(ward.zhao) == set()


def test_api_talk_list_filters_by_state_and_role(ward):
    led = talk_between(ward.nurse_wang, ward.head_nurse)
    about_her = talk_between(ward.head_nurse, ward.head, state=TalkState.NEGOTIATING)
    client = bearer(ward.head_nurse)

    def ids(**params: Any) -> list[int]:
        return [t["id"] for t in client.get("/api/v1/talks", params).json()["items"]]

    assert ids(role="as_counterpart") == [led.pk]
    assert ids(role="as_employee") == [about_her.pk]
    assert ids(state="negotiating") == [about_her.pk]
    assert sorted(ids(state=["negotiating", "requested"])) == sorted([led.pk, about_her.pk])
    assert ids(state="scheduled") == []


@pytest.mark.parametrize("count", [2, 20])
def test_api_talk_list_runs_a_fixed_number_of_queries(ward, client_as, count):
    people = [ward.nurse_wang, ward.doctor_li, ward.head_nurse, ward.zhao]
    for index in range(count):
        talk_between(people[index % len(people)], ward.head)
    client = client_as(ward.hr_partner)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/talks")

    assert response.json()["count"] == count
    # Session, user, scope (employee, roles, reports), the HR departments, count, page:
    # whatever the talks.
    assert len(queries) == 8, "\n".join(q["sql"][:150] for q in queries)


def test_api_inbox_lists_what_waits_for_my_answer(ward):
    waiting = talk_between(ward.nurse_wang, ward.head_nurse, state=TalkState.NEGOTIATING)
    talk_between(ward.head_nurse, ward.head)  # waits for 张伟
    talk_between(ward.doctor_li, ward.head_nurse, state=TalkState.DECLINED, awaiting=None)

    response = bearer(ward.head_nurse).get("/api/v1/talks/inbox")

    assert [t["id"] for t in response.json()["items"]] == [waiting.pk]


def test_api_people_to_ask_starts_with_the_direct_manager(ward):
    response = bearer(ward.nurse_wang).get("/api/v1/talks/people-to-ask")

    # Up the reporting line first, then the HR partners for her department by name.
    assert [p["name"] for p in response.json()] == ["周敏", "张伟", "孙丽", "陈静"]
    assert response.json()[0]["department"]["name"] == "心内科护理组"


# --- refusals ---------------------------------------------------------------------------------


def test_api_talk_request_with_a_foreign_employee_is_not_found_and_audited(ward, other_org):
    before = Talk.objects.count()

    response = post(bearer(ward.hr_partner), "/api/v1/talks", request_body(other_org.employee))

    assert response.status_code == 404
    assert Talk.objects.count() == before
    event = last_event("interviews.talk.requested")
    assert (event.outcome, event.object_id) == (Outcome.DENIED, str(other_org.employee.pk))
    assert event.organisation_id == ward.organisation.pk


def test_api_talk_request_with_someone_who_left_or_nobody_is_not_found(ward):
    mark_left(ward.head_nurse, actor=None)
    client = bearer(ward.nurse_wang)

    assert post(client, "/api/v1/talks", request_body(ward.head_nurse)).status_code == 404
    body = {"with_employee_id": 987654, "topic": "career"}
    assert post(client, "/api/v1/talks", body).status_code == 404


def test_api_talk_request_with_an_unrelated_colleague_is_forbidden(ward):
    response = post(bearer(ward.nurse_wang), "/api/v1/talks", request_body(ward.zhao))

    assert response.status_code == 403
    assert Talk.objects.count() == 0
    assert last_event("interviews.talk.requested").outcome == Outcome.DENIED


def test_api_hr_may_follow_a_talk_but_not_act_on_it(ward):
    talk = talk_between(ward.nurse_wang, ward.head_nurse)
    hr = bearer(ward.hr_partner)
    before = rows()

    assert hr.get(f"/api/v1/talks/{talk.pk}").status_code == 200
    proposed = post(hr, f"/api/v1/talks/{talk.pk}/proposals", {"start": "not even a time"})
    assert proposed.status_code == 403, "refused before the body is read"
    assert post(hr, f"/api/v1/talks/{talk.pk}/decline", {"reason": "不需要"}).status_code == 403
    assert post(hr, f"/api/v1/talks/{talk.pk}/cancel").status_code == 403

    talk.refresh_from_db()
    assert talk.state == TalkState.REQUESTED
    assert Proposal.objects.count() == before["proposals"]
    event = last_event("interviews.talk.cancelled")
    assert (event.outcome, event.subject_id) == (Outcome.DENIED, ward.nurse_wang.pk)


def test_api_invalid_request_answers_per_field_and_changes_nothing(ward):
    before = rows()

    response = post(
        bearer(ward.nurse_wang),
        "/api/v1/talks",
        request_body(ward.head_nurse, topic="gossip", duration_minutes=5),
    )

    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "invalid_talk"
    assert set(body["errors"]) == {"topic", "duration_minutes"}
    assert body["detail"] == body["errors"]["topic"]
    assert rows() == before


def test_api_naive_time_is_refused_and_changes_nothing(ward):
    client = bearer(ward.nurse_wang)
    talk_id = post(client, "/api/v1/talks", request_body(ward.head_nurse)).json()["id"]
    before = rows()

    naive = post(client, f"/api/v1/talks/{talk_id}/proposals", {"start": "2026-12-01T09:00:00"})
    in_request = post(
        client,
        "/api/v1/talks",
        request_body(ward.head_nurse, slot={"start": "2026-12-01T09:00:00"}),
    )

    assert naive.status_code == 400
    assert set(naive.json()["errors"]) == {"start"}
    assert in_request.status_code == 400
    assert set(in_request.json()["errors"]) == {"slot.start"}
    assert rows() == before


def test_api_empty_body_answers_400_not_422(ward):
    client = bearer(ward.nurse_wang)

    response = client.post("/api/v1/talks", content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"with_employee_id", "topic"}
    broken = client.post("/api/v1/talks", "[1", content_type="application/json")
    assert (broken.status_code, set(broken.json()["errors"])) == (400, {"body"})


def test_api_conflicting_time_answers_409_with_the_conflicts_and_changes_nothing(ward):
    client = bearer(ward.nurse_wang)
    talk_id = post(client, "/api/v1/talks", request_body(ward.head_nurse)).json()["id"]
    before = rows()
    evening = at(TUESDAY, 19).isoformat()

    response = post(client, f"/api/v1/talks/{talk_id}/proposals", {"start": evening})

    body = response.json()
    assert response.status_code == 409
    assert body["code"] == "time_conflict"
    assert {(c["employee"], c["reason"]) for c in body["conflicts"]} == {
        (ward.nurse_wang.pk, "outside_hours"),
        (ward.head_nurse.pk, "outside_hours"),
    }
    assert rows() == before
    assert Talk.objects.get(pk=talk_id).state == TalkState.REQUESTED


def test_api_conflicting_time_is_kept_when_the_conflicts_are_accepted(ward):
    client = bearer(ward.nurse_wang)
    talk_id = post(client, "/api/v1/talks", request_body(ward.head_nurse)).json()["id"]
    evening = {"start": at(TUESDAY, 19).isoformat(), "accept_conflicts": True}

    response = post(client, f"/api/v1/talks/{talk_id}/proposals", evening)

    assert response.status_code == 201
    assert len(response.json()["open_proposal"]["conflicts"]) == 2


def test_api_request_with_a_conflicting_slot_creates_no_talk(ward):
    before = rows()

    response = post(
        bearer(ward.nurse_wang),
        "/api/v1/talks",
        request_body(
            ward.head_nurse, slot={"start": at(MONDAY + timedelta(days=5), 9).isoformat()}
        ),
    )

    assert response.status_code == 409
    assert response.json()["conflicts"]
    assert rows() == before


def test_api_accepting_an_own_proposal_is_a_conflict(ward):
    client = bearer(ward.nurse_wang)
    talk_id = post(
        client,
        "/api/v1/talks",
        request_body(ward.head_nurse, slot={"start": at(TUESDAY, 9).isoformat()}),
    ).json()["id"]

    response = post(client, f"/api/v1/talks/{talk_id}/accept")

    assert response.status_code == 409
    assert response.json()["code"] == "own_proposal"
    assert Talk.objects.get(pk=talk_id).state == TalkState.REQUESTED


def test_api_decline_needs_a_reason(ward):
    talk_id = post(bearer(ward.nurse_wang), "/api/v1/talks", request_body(ward.head_nurse)).json()[
        "id"
    ]
    manager = bearer(ward.head_nurse)

    without = post(manager, f"/api/v1/talks/{talk_id}/decline")
    declined = post(manager, f"/api/v1/talks/{talk_id}/decline", {"reason": "下周再约"})

    assert without.status_code == 400
    assert set(without.json()["errors"]) == {"reason"}
    assert declined.status_code == 200
    assert (declined.json()["state"], declined.json()["closing_reason"]) == ("declined", "下周再约")
    assert not Proposal.objects.filter(talk_id=talk_id, state=ProposalState.OPEN).exists()


def test_api_talk_starts_from_half_an_hour_before_its_time(ward, frozen):
    nurse, manager = bearer(ward.nurse_wang), bearer(ward.head_nurse)
    body = request_body(ward.head_nurse, slot={"start": at(TUESDAY, 9).isoformat()})
    talk_id = post(nurse, "/api/v1/talks", body).json()["id"]
    post(manager, f"/api/v1/talks/{talk_id}/accept")

    too_early = post(manager, f"/api/v1/talks/{talk_id}/start")
    frozen.move_to(at(TUESDAY, 8, 30))
    started = post(manager, f"/api/v1/talks/{talk_id}/start")

    assert too_early.status_code == 409
    assert too_early.json()["code"] == "too_early"
    assert started.status_code == 200
    assert started.json()["state"] == "in_progress"


def test_api_agenda_is_replaced_by_the_items_given(ward):
    talk = talk_between(ward.nurse_wang, ward.head_nurse)
    client = bearer(ward.head_nurse)

    response = client.put(
        f"/api/v1/talks/{talk.pk}/agenda",
        {"items": ["回顾本季度", "  ", "培训计划"]},
        content_type="application/json",
    )
    too_many = client.put(
        f"/api/v1/talks/{talk.pk}/agenda",
        {"items": [f"第{n}项" for n in range(31)]},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert [item["text"] for item in response.json()["agenda"]] == ["回顾本季度", "培训计划"]
    assert response.json()["agenda"][0]["source"] == "own"
    assert too_many.status_code == 400
    talk.refresh_from_db()
    assert [item["text"] for item in talk.agenda] == ["回顾本季度", "培训计划"]


def test_api_talks_need_credentials(db):
    assert Client().get("/api/v1/talks").status_code == 401
    assert Client().post("/api/v1/talks", {}, content_type="application/json").status_code == 401


def test_api_openapi_document_lists_the_talk_operations(hospital, client_as):
    response = client_as(hospital.zhao).get("/api/v1/openapi.json")

    paths = response.json()["paths"]
    assert response.status_code == 200
    assert set(paths["/api/v1/talks"]) == {"get", "post"}
    assert "requestBody" in paths["/api/v1/talks/{talk_id}/proposals"]["post"]
    assert "put" in paths["/api/v1/talks/{talk_id}/agenda"]
