"""The talk pages: my talks with the inbox on top, a request in three steps, a talk's page and
its actions. Nurse 王芳 asks her manager, head nurse 周敏; the clock stands on Monday 07:00."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from miantan.audit.models import AuditEvent
from miantan.interviews.enums import ProposalState, TalkState
from miantan.interviews.models import Proposal, Talk
from miantan.interviews.services import TalkRequest, accept_time, request_talk
from miantan.people.models import Employee
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours

MONDAY = date(2026, 12, 7)
NOW = at(MONDAY, 7)
TUESDAY_NINE = at(MONDAY + timedelta(days=1), 9)
Signer = Callable[[Employee], Client]


@pytest.fixture
def ward(hospital: Hospital) -> Iterator[Hospital]:
    """The hospital in English, with its default working hours, on Monday morning."""
    Employee.objects.filter(organisation=hospital.organisation).update(language="en")
    hospital_hours(hospital.organisation)
    with time_machine.travel(NOW, tick=False):
        yield hospital


def asked(ward: Hospital, start: datetime | None = TUESDAY_NINE) -> Talk:
    """王芳 asked 周敏 for a quarterly review and proposed a time."""
    slot = (start, start + timedelta(minutes=45)) if start else None
    return request_talk(
        ward.head_nurse,
        requester=ward.nurse_wang.user,
        details=TalkRequest(topic="quarterly_review", message="想聊聊本季度"),
        slot=slot,
    )


def scheduled(ward: Hospital, start: datetime = TUESDAY_NINE) -> Talk:
    talk = asked(ward, start)
    return accept_time(talk, actor=ward.head_nurse.user)


def step_one(ward: Hospital, **changes: Any) -> dict[str, Any]:
    return {
        "step": "1",
        "go": "next",
        "other": ward.head_nurse.pk,
        "topic": "career",
        "duration_minutes": "45",
        "urgency": "normal",
        "message": "想聊聊职业发展",
        **changes,
    }


def step_two(ward: Hospital, slot: str, **changes: Any) -> dict[str, Any]:
    return {**step_one(ward), "step": "2", "slot": slot, **changes}


def step_three(ward: Hospital, slot: str, **changes: Any) -> dict[str, Any]:
    return {**step_two(ward, slot), "step": "3", "go": "send", **changes}


def iso(moment: datetime) -> str:
    """A slot's value in the page: its start in UTC."""
    return moment.astimezone(UTC).isoformat()


def page(response: Any) -> str:
    return response.content.decode()


# --- my talks ---------------------------------------------------------------------------------


def test_talk_list_shows_the_requests_waiting_for_me_first(ward: Hospital, client_as: Signer):
    talk = asked(ward)
    scheduled(ward, at(MONDAY, 14))

    response = client_as(ward.head_nurse).get("/talks/")

    html = page(response)
    assert response.status_code == 200
    inbox = html.split('data-testid="inbox"')[1].split('data-testid="upcoming"')[0]
    assert f'data-talk-id="{talk.pk}"' in inbox and "waiting for" in inbox
    assert "王芳" in inbox and "proposed: 2026-12-08" in inbox
    upcoming = html.split('data-testid="upcoming"')[1].split('data-testid="other-talks"')[0]
    assert 'data-state="scheduled"' in upcoming and "2026-12-07" in upcoming


def test_talk_list_puts_urgent_requests_on_top(ward: Hospital, client_as: Signer):
    normal = asked(ward)
    urgent = request_talk(
        ward.head_nurse,
        requester=ward.nurse_wang.user,
        details=TalkRequest(topic="improvement", urgency="urgent"),
    )

    html = page(client_as(ward.head_nurse).get("/talks/"))

    assert html.index(f'data-talk-id="{urgent.pk}"') < html.index(f'data-talk-id="{normal.pk}"')


def test_talk_list_of_the_requester_lists_her_request_among_her_talks(
    ward: Hospital, client_as: Signer
):
    talk = asked(ward)

    html = page(client_as(ward.nurse_wang).get("/talks/"))

    assert "Nothing is waiting for your answer." in html
    others = html.split('data-testid="other-talks"')[1]
    assert f'data-talk-id="{talk.pk}"' in others and "周敏" in others


def make_talks(ward: Hospital, count: int) -> None:
    """Talks of 周敏 in every section: waiting for her, booked, and ended ones."""
    now = NOW
    for number in range(count):
        kind = number % 3
        start = now + timedelta(days=1 + number % 20, hours=number % 5)
        talk = Talk.objects.create(
            organisation=ward.organisation,
            employee=ward.nurse_wang,
            counterpart=ward.head_nurse,
            requested_by=ward.nurse_wang,
            topic="quarterly_review",
            state=[TalkState.REQUESTED, TalkState.DECLINED, TalkState.SCHEDULED][kind],
            awaiting=ward.head_nurse if kind == 0 else None,
            scheduled_start=start if kind == 2 else None,
            scheduled_end=start + timedelta(minutes=45) if kind == 2 else None,
        )
        if kind == 0:
            Proposal.objects.create(
                talk=talk,
                proposed_by=ward.nurse_wang,
                start=start,
                end=start + timedelta(minutes=45),
            )


def list_queries(client: Client) -> int:
    client.get("/talks/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/talks/")
    assert response.status_code == 200
    return len(captured)


def test_talk_list_query_count_is_the_same_for_2_and_20_talks(ward: Hospital, client_as: Signer):
    client = client_as(ward.head_nurse)
    make_talks(ward, 2)
    few = list_queries(client)
    Talk.objects.all().delete()

    make_talks(ward, 20)
    many = list_queries(client)

    assert Talk.objects.count() == 20
    assert many == few


def test_talk_list_pages_the_other_talks(ward: Hospital, client_as: Signer):
    for _number in range(23):
        Talk.objects.create(
            organisation=ward.organisation,
            employee=ward.nurse_wang,
            counterpart=ward.head_nurse,
            requested_by=ward.nurse_wang,
            topic="career",
            state=TalkState.DECLINED,
        )
    client = client_as(ward.head_nurse)

    first, second = client.get("/talks/"), client.get("/talks/", {"page": 2})

    assert page(first).count('data-state="declined"') == 20
    assert page(second).count('data-state="declined"') == 3


def test_nav_badge_counts_the_talks_waiting_for_me(ward: Hospital, client_as: Signer):
    asked(ward)
    asked(ward, at(MONDAY, 15))

    manager = page(client_as(ward.head_nurse).get("/me/"))
    requester = page(client_as(ward.nurse_wang).get("/me/"))

    assert 'data-testid="talks-waiting"' in manager
    assert manager.split('data-testid="talks-waiting"')[1].split("</span>")[0].endswith(">2")
    assert 'data-testid="nav-talks"' in requester
    assert 'data-testid="talks-waiting"' not in requester


def test_talk_pages_send_anonymous_visitors_to_sign_in(ward: Hospital):
    response = Client().get("/talks/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- requesting a talk ------------------------------------------------------------------------


def test_talk_new_step_one_offers_the_people_to_ask_as_cards(ward: Hospital, client_as: Signer):
    html = page(client_as(ward.nurse_wang).get("/talks/new/"))

    assert 'data-step="1"' in html
    for person in (ward.head_nurse, ward.head, ward.hr_partner):
        assert f'data-employee-id="{person.pk}"' in html
    assert f'data-employee-id="{ward.zhao.pk}"' not in html
    assert 'name="q"' not in html  # an employee without reports has no search
    assert html.index("周敏") < html.index("张伟")  # the direct manager first


def test_talk_new_with_a_person_preselects_them(ward: Hospital, client_as: Signer):
    wang = ward.nurse_wang.pk

    html = page(client_as(ward.head_nurse).get("/talks/new/", {"with": wang}))

    assert f'<input type="radio" name="other" value="{wang}" checked>' in html


def test_talk_new_with_someone_out_of_reach_preselects_nobody(ward: Hospital, client_as: Signer):
    html = page(client_as(ward.zhao).get("/talks/new/", {"with": ward.nurse_wang.pk}))

    assert f'data-employee-id="{ward.nurse_wang.pk}"' not in html


def test_talk_new_search_finds_people_in_the_managers_scope(ward: Hospital, client_as: Signer):
    client = client_as(ward.head)

    full = client.post("/talks/new/", {"step": "1", "go": "search", "q": "王"})
    partial = client.get(
        "/talks/new/", {"part": "people", "q": "王"}, headers={"HX-Request": "true"}
    )

    assert full.status_code == 200 and 'class="errorlist"' not in page(full)
    assert f'data-employee-id="{ward.nurse_wang.pk}"' in page(full)
    assert f'data-employee-id="{ward.nurse_wang.pk}"' in page(partial)
    assert "<html" not in page(partial)
    assert f'data-employee-id="{ward.zhao.pk}"' not in page(
        client.post("/talks/new/", {"step": "1", "go": "search", "q": "赵"})
    )


def test_talk_new_step_one_refuses_bad_input_and_writes_nothing(ward: Hospital, client_as: Signer):
    client = client_as(ward.nurse_wang)

    no_topic = client.post("/talks/new/", step_one(ward, topic=""))
    out_of_reach = client.post("/talks/new/", step_one(ward, other=ward.zhao.pk))
    too_long = client.post("/talks/new/", step_one(ward, message="很" * 2001))

    assert no_topic.status_code == 400 and "Choose a topic." in page(no_topic)
    assert out_of_reach.status_code == 400
    assert "Choose whom you want to talk with." in page(out_of_reach)
    assert too_long.status_code == 400 and 'data-step="1"' in page(too_long)
    assert not Talk.objects.exists()


def test_talk_new_step_two_shows_the_ranked_slots_by_day_with_reasons(
    ward: Hospital, client_as: Signer
):
    response = client_as(ward.nurse_wang).post("/talks/new/", step_one(ward))

    html = page(response)
    assert response.status_code == 200 and 'data-step="2"' in html
    assert html.count('class="slot-choice ranked"') == 5
    first = iso(at(MONDAY, 8))
    assert f'data-rank="1" data-start="{first}"' in html
    assert f'value="{first}" checked' in html
    assert 'data-day="2026-12-07"' in html and 'data-testid="week-strip"' in html
    assert "Earlier slots rank higher" in html
    # Step 1 travels along in hidden fields.
    assert f'<input type="hidden" name="other" value="{ward.head_nurse.pk}">' in html
    assert not Talk.objects.exists()


def test_talk_new_preferences_rank_the_slots_again_with_htmx(ward: Hospital, client_as: Signer):
    client = client_as(ward.nurse_wang)
    data = step_two(ward, at(MONDAY, 8).isoformat(), before_ten="on")
    data.pop("go")

    response = client.post("/talks/new/", data, headers={"HX-Request": "true"})

    html = page(response)
    assert response.status_code == 200 and "<html" not in html
    assert html.count('class="slot-choice ranked"') == 5
    assert "Ends by 10:00, as preferred" in html


def test_talk_new_custom_time_with_a_conflict_asks_to_propose_anyway(
    ward: Hospital, client_as: Signer
):
    client = client_as(ward.nurse_wang)
    lunch = {"custom_date": "2026-12-08", "custom_time": "12:30"}

    warned = client.post("/talks/new/", step_two(ward, "custom", **lunch))
    kept = client.post("/talks/new/", step_two(ward, "custom", accept_conflicts="on", **lunch))

    assert warned.status_code == 409
    assert "The time does not suit everyone" in page(warned)
    assert "outside 王芳&#x27;s working hours" in page(warned)
    assert 'name="accept_conflicts"' in page(warned)
    assert kept.status_code == 200 and 'data-step="3"' in page(kept)
    assert "2026-12-08" in page(kept) and "12:30–13:15" in page(kept)
    assert not Talk.objects.exists()


def test_talk_new_custom_time_needs_a_day_and_a_time_in_the_future(
    ward: Hospital, client_as: Signer
):
    client = client_as(ward.nurse_wang)

    missing = client.post("/talks/new/", step_two(ward, "custom", custom_date="2026-12-08"))
    past = client.post(
        "/talks/new/", step_two(ward, "custom", custom_date="2026-12-01", custom_time="09:00")
    )
    garbage = client.post("/talks/new/", step_two(ward, "not-a-time"))

    assert missing.status_code == 400 and "Enter the day and the time." in page(missing)
    assert past.status_code == 400 and "Choose a time in the future." in page(past)
    assert garbage.status_code == 400 and "Choose one of the times" in page(garbage)


def test_talk_new_step_two_refuses_a_bad_link(ward: Hospital, client_as: Signer):
    response = client_as(ward.nurse_wang).post(
        "/talks/new/", step_two(ward, at(MONDAY, 8).isoformat(), online_link="meet me")
    )

    assert response.status_code == 400
    assert "Enter a link that starts with https:// or http://." in page(response)
    assert 'data-step="2"' in page(response)


def test_talk_new_step_three_sums_up_and_carries_every_answer(ward: Hospital, client_as: Signer):
    slot = iso(at(MONDAY, 8))

    response = client_as(ward.nurse_wang).post(
        "/talks/new/", step_two(ward, slot, location="护士站")
    )

    html = page(response)
    assert response.status_code == 200 and 'data-step="3"' in html
    assert "2026-12-07" in html and "08:00–08:45" in html and "护士站" in html
    assert f'<input type="hidden" name="slot" value="{slot}">' in html
    assert not Talk.objects.exists()


def test_talk_new_back_from_step_two_keeps_step_one(ward: Hospital, client_as: Signer):
    response = client_as(ward.nurse_wang).post(
        "/talks/new/", step_two(ward, "", go="back", message="回到第一步")
    )

    assert response.status_code == 200 and 'data-step="1"' in page(response)
    assert "回到第一步" in page(response)


def test_talk_new_send_requests_the_talk_and_opens_it(ward: Hospital, client_as: Signer):
    slot = at(MONDAY, 8)

    response = client_as(ward.nurse_wang).post(
        "/talks/new/", step_three(ward, slot.isoformat(), before_ten="on", location="护士站")
    )

    talk = Talk.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/talks/{talk.pk}/"
    assert (talk.employee, talk.counterpart) == (ward.nurse_wang, ward.head_nurse)
    assert talk.topic == "career" and talk.location == "护士站"
    assert talk.soft_preferences["before"] == "10:00"
    proposal = talk.open_proposal()
    assert proposal is not None and proposal.start == slot
    assert proposal.end == slot + timedelta(minutes=45)


def test_talk_new_send_without_a_time_leaves_it_to_the_other_side(
    ward: Hospital, client_as: Signer
):
    response = client_as(ward.nurse_wang).post("/talks/new/", step_three(ward, "none"))

    talk = Talk.objects.get()
    assert response.status_code == 302
    assert talk.state == TalkState.REQUESTED and talk.open_proposal() is None


def test_talk_new_send_of_a_conflicting_time_without_consent_is_refused(
    ward: Hospital, client_as: Signer
):
    response = client_as(ward.nurse_wang).post(
        "/talks/new/",
        step_three(ward, "custom", custom_date="2026-12-12", custom_time="10:00"),
    )

    assert response.status_code == 409 and 'data-step="2"' in page(response)
    assert 'name="accept_conflicts"' in page(response)
    assert not Talk.objects.exists()


def test_talk_new_send_for_someone_out_of_reach_writes_nothing(ward: Hospital, client_as: Signer):
    response = client_as(ward.nurse_wang).post(
        "/talks/new/", step_three(ward, at(MONDAY, 8).isoformat(), other=ward.zhao.pk)
    )

    assert response.status_code == 400 and 'data-step="1"' in page(response)
    assert not Talk.objects.exists()


def test_person_page_offers_a_request_only_where_one_is_allowed(ward: Hospital, client_as: Signer):
    wang = ward.nurse_wang.pk

    manager = page(client_as(ward.head_nurse).get(f"/people/{wang}/"))
    herself = page(client_as(ward.nurse_wang).get(f"/people/{wang}/"))

    assert f'href="/talks/new/?with={wang}"' in manager
    assert 'data-testid="request-talk-with"' not in herself


# --- a talk's page ----------------------------------------------------------------------------


def test_talk_detail_shows_the_proposal_with_accept_to_the_one_awaited(
    ward: Hospital, client_as: Signer
):
    talk = asked(ward)

    response = client_as(ward.head_nurse).get(f"/talks/{talk.pk}/")

    html = page(response)
    assert response.status_code == 200
    assert 'data-state="requested"' in html and "想聊聊本季度" in html
    assert "2026-12-08" in html and "09:00–09:45" in html and "proposed by 王芳" in html
    assert 'data-testid="accept"' in html and 'id="decline"' in html
    assert f'href="/people/{ward.nurse_wang.pk}/brief/?topic=quarterly_review"' in html
    assert 'data-event="requested"' in html


def test_talk_detail_of_the_requester_waits_for_the_other_side(ward: Hospital, client_as: Signer):
    talk = asked(ward)

    html = page(client_as(ward.nurse_wang).get(f"/talks/{talk.pk}/"))

    assert 'data-testid="accept"' not in html and 'id="decline"' not in html
    assert "Waiting for 周敏 to answer." in html
    assert "Withdraw the request" in html


def test_talk_detail_is_404_for_people_outside_the_talk(ward: Hospital, client_as: Signer):
    talk = asked(ward)

    for outsider in (ward.doctor_li, ward.head, ward.zhao, ward.executive):
        assert client_as(outsider).get(f"/talks/{talk.pk}/").status_code == 404
    assert client_as(ward.head_nurse).get("/talks/999999/").status_code == 404
    denied = AuditEvent.objects.filter(action="interviews.talk.viewed", outcome="denied")
    assert denied.count() == 5


def test_hr_of_the_department_sees_the_talk_but_may_not_accept(ward: Hospital, client_as: Signer):
    talk = asked(ward)
    hr = client_as(ward.hr_partner)

    view = hr.get(f"/talks/{talk.pk}/")
    accept = hr.post(f"/talks/{talk.pk}/accept/")

    assert view.status_code == 200 and 'data-testid="accept"' not in page(view)
    assert 'data-testid="propose"' not in page(view)
    assert accept.status_code == 403
    assert Talk.objects.get(pk=talk.pk).state == TalkState.REQUESTED
    denied = AuditEvent.objects.get(action="interviews.talk.accepted")
    assert denied.outcome == "denied"


def test_talk_detail_loads_the_ranked_slots_for_a_new_proposal(ward: Hospital, client_as: Signer):
    talk = asked(ward)
    client = client_as(ward.head_nurse)

    partial = client.get(f"/talks/{talk.pk}/", {"part": "slots"}, headers={"HX-Request": "true"})
    full = client.get(f"/talks/{talk.pk}/", {"propose": "1"})

    assert "<html" not in page(partial) and page(partial).count('data-rank="') == 5
    assert page(full).count(
        'data-rank="'
    ) == 5 and 'id="propose" data-testid="propose" open' in page(full)


# --- the actions ------------------------------------------------------------------------------


def test_talk_accept_schedules_the_talk(ward: Hospital, client_as: Signer):
    talk = asked(ward)
    client = client_as(ward.head_nurse)

    response = client.post(f"/talks/{talk.pk}/accept/")

    talk.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == f"/talks/{talk.pk}/"
    assert talk.state == TalkState.SCHEDULED and talk.scheduled_start == TUESDAY_NINE
    html = page(client.get(response["Location"]))
    assert "You accepted the time: the talk is scheduled." in html
    assert 'data-state="scheduled"' in html and 'data-testid="agenda"' in html
    assert f'href="/talks/{talk.pk}/invite.ics"' in html


def test_talk_accept_of_a_talk_that_has_moved_on_is_a_conflict(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)

    response = client_as(ward.head_nurse).post(f"/talks/{talk.pk}/accept/")

    assert response.status_code == 409
    assert "There is no proposed time to accept." in page(response)


def test_talk_accept_by_the_proposer_is_a_conflict(ward: Hospital, client_as: Signer):
    talk = asked(ward)

    response = client_as(ward.nurse_wang).post(f"/talks/{talk.pk}/accept/")

    assert response.status_code == 409
    assert Talk.objects.get(pk=talk.pk).state == TalkState.REQUESTED


def test_talk_propose_a_ranked_slot_turns_the_question_round(ward: Hospital, client_as: Signer):
    talk = asked(ward)
    slot = at(MONDAY, 8)

    response = client_as(ward.head_nurse).post(
        f"/talks/{talk.pk}/propose/", {"slot": slot.isoformat()}
    )

    talk.refresh_from_db()
    assert response.status_code == 302
    assert talk.state == TalkState.NEGOTIATING and talk.awaiting == ward.nurse_wang
    assert talk.open_proposal().start == slot  # type: ignore[union-attr]
    assert talk.proposals.filter(state=ProposalState.SUPERSEDED).count() == 1


def test_talk_propose_a_conflicting_time_warns_then_keeps_it_when_confirmed(
    ward: Hospital, client_as: Signer
):
    talk = asked(ward)
    client = client_as(ward.head_nurse)
    saturday = {"slot": "custom", "custom_date": "2026-12-12", "custom_time": "10:00"}

    warned = client.post(f"/talks/{talk.pk}/propose/", saturday)
    unchanged = Talk.objects.get(pk=talk.pk).open_proposal()
    kept = client.post(f"/talks/{talk.pk}/propose/", {**saturday, "accept_conflicts": "on"})

    assert warned.status_code == 409
    assert 'data-testid="conflicts"' in page(warned) and 'name="accept_conflicts"' in page(warned)
    assert unchanged is not None and unchanged.start == TUESDAY_NINE
    assert kept.status_code == 302
    proposal = Talk.objects.get(pk=talk.pk).open_proposal()
    assert proposal is not None and proposal.start == at(date(2026, 12, 12), 10)
    assert proposal.conflicts


def test_talk_propose_without_a_time_is_refused(ward: Hospital, client_as: Signer):
    talk = asked(ward)

    response = client_as(ward.head_nurse).post(f"/talks/{talk.pk}/propose/", {"slot": ""})

    assert response.status_code == 400 and "Choose one of the times" in page(response)
    assert Talk.objects.get(pk=talk.pk).proposals.count() == 1


def test_talk_reschedule_of_a_scheduled_talk(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)

    response = client_as(ward.nurse_wang).post(
        f"/talks/{talk.pk}/propose/", {"slot": at(MONDAY + timedelta(days=2), 8).isoformat()}
    )

    talk.refresh_from_db()
    assert response.status_code == 302 and talk.state == TalkState.NEGOTIATING
    assert talk.scheduled_start == TUESDAY_NINE  # the booked time stays until accepted


def test_talk_decline_needs_a_reason(ward: Hospital, client_as: Signer):
    talk = asked(ward)
    client = client_as(ward.head_nurse)

    refused = client.post(f"/talks/{talk.pk}/decline/", {"reason": "  "})
    declined = client.post(f"/talks/{talk.pk}/decline/", {"reason": "下周再约"})

    assert refused.status_code == 400
    assert "Say why you decline, so the other side knows." in page(refused)
    assert declined.status_code == 302
    talk.refresh_from_db()
    assert talk.state == TalkState.DECLINED and talk.closing_reason == "下周再约"


def test_talk_cancel_of_a_scheduled_talk(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)

    response = client_as(ward.nurse_wang).post(f"/talks/{talk.pk}/cancel/", {"reason": "病假"})

    talk.refresh_from_db()
    assert response.status_code == 302
    assert talk.state == TalkState.CANCELLED and talk.sequence == 1


def test_talk_cancel_with_too_long_a_reason_changes_nothing(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)

    response = client_as(ward.nurse_wang).post(f"/talks/{talk.pk}/cancel/", {"reason": "长" * 2001})

    assert response.status_code == 400
    assert Talk.objects.get(pk=talk.pk).state == TalkState.SCHEDULED


def test_talk_start_opens_from_thirty_minutes_before(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)
    client = client_as(ward.head_nurse)

    early = client.post(f"/talks/{talk.pk}/start/")
    hint = page(client.get(f"/talks/{talk.pk}/"))
    with time_machine.travel(TUESDAY_NINE - timedelta(minutes=20), tick=False):
        client = client_as(ward.head_nurse)  # a day later: a new session
        button = page(client.get(f"/talks/{talk.pk}/"))
        started = client.post(f"/talks/{talk.pk}/start/")

    assert early.status_code == 409
    assert "The talk can be started from 30 minutes before its time." in page(early)
    assert "You can start the talk from 2026-12-08 08:30." in hint
    assert 'data-testid="start"' in button
    assert started.status_code == 302
    assert Talk.objects.get(pk=talk.pk).state == TalkState.IN_PROGRESS


def test_talk_agenda_is_edited_one_point_per_line(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)

    response = client_as(ward.nurse_wang).post(
        f"/talks/{talk.pk}/agenda/", {"agenda": "本季度回顾\n\n  培训计划  \n"}
    )

    talk.refresh_from_db()
    assert response.status_code == 302
    assert [item["text"] for item in talk.agenda] == ["本季度回顾", "培训计划"]


def test_talk_agenda_with_too_many_points_changes_nothing(ward: Hospital, client_as: Signer):
    talk = scheduled(ward)
    before = Talk.objects.get(pk=talk.pk).agenda

    response = client_as(ward.nurse_wang).post(
        f"/talks/{talk.pk}/agenda/", {"agenda": "\n".join(f"第{n}点" for n in range(31))}
    )

    assert response.status_code == 400 and "At most 30 agenda items." in page(response)
    assert Talk.objects.get(pk=talk.pk).agenda == before


@pytest.mark.parametrize("action", ["propose", "accept", "decline", "cancel", "start", "agenda"])
def test_talk_actions_refuse_get(ward: Hospital, client_as: Signer, action: str):
    talk = asked(ward)

    assert client_as(ward.head_nurse).get(f"/talks/{talk.pk}/{action}/").status_code == 405


@pytest.mark.parametrize("action", ["propose", "accept", "decline", "cancel", "start", "agenda"])
def test_talk_actions_are_404_for_people_outside_the_talk(
    ward: Hospital, client_as: Signer, action: str
):
    talk = asked(ward)

    response = client_as(ward.doctor_li).post(f"/talks/{talk.pk}/{action}/", {"reason": "x"})

    assert response.status_code == 404
    assert Talk.objects.get(pk=talk.pk).state == TalkState.REQUESTED
