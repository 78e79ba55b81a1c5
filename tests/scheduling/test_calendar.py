"""Talks as iCalendar: the invitations mailed to both sides, the subscription feed behind
its secret link, and the pages that serve them. Every file is read back by two independent
parsers (icalendar and vobject)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
import time_machine
import vobject
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from miantan.audit.models import AuditEvent
from miantan.interviews.enums import TalkState
from miantan.interviews.services import (
    TalkRequest,
    accept_time,
    cancel_talk,
    propose_time,
    request_talk,
)
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.people.models import Employee
from miantan.scheduling.calendar import CANCEL, REQUEST, feed_ics, talk_ics
from miantan.scheduling.feeds import (
    create_feed_token,
    employee_for_feed_token,
    revoke_feed_token,
)
from miantan.scheduling.models import CalendarFeedToken
from tests.notifications.builders import TEN, booked_talk, talk_between
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours

SignIn = Callable[[Employee], Client]
MONDAY = date(2026, 12, 7)
NOW = at(MONDAY, 7)
QUARTERLY = TalkRequest(topic="quarterly_review", location="护理部示教室")


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def both_parsers(content: bytes) -> tuple[Calendar, vobject.base.Component]:
    return Calendar.from_ical(content), vobject.readOne(content.decode())


def invitations_to(employee: Employee) -> list[bytes]:
    rows = Notification.objects.filter(
        recipient=employee, channel=Channel.EMAIL, ics_method__in=[REQUEST, CANCEL]
    ).order_by("pk")
    return [row.ics.encode() for row in rows]


# --- the invitation ---------------------------------------------------------------------------


def test_talk_ics_has_the_fields_calendars_need(hospital: Hospital) -> None:
    hospital.head_nurse.language = "en"
    hospital.head_nurse.save(update_fields=["language"])
    talk = booked_talk(hospital, online_link="https://meet.example.test/q1")

    calendar, parsed = both_parsers(talk_ics(talk, REQUEST))

    [event] = calendar.walk("VEVENT")
    assert str(calendar["PRODID"]) and str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "REQUEST"
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(event["UID"]) == talk.uid and int(event["SEQUENCE"]) == 0
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("DTSTART") == TEN
    assert event.decoded("DTEND") == TEN + timedelta(minutes=45)
    assert str(event["SUMMARY"]) == "Quarterly review: 王芳 and 周敏"
    assert str(event["LOCATION"]) == "护理部示教室"
    assert str(event["URL"]) == f"http://127.0.0.1:8000/talks/{talk.pk}/"
    description = str(event["DESCRIPTION"])
    assert "1. 本季度护理质量指标" in description and "2. 夜班后的休息安排" in description
    assert "https://meet.example.test/q1" in description
    assert str(event["ORGANIZER"]) == f"mailto:{hospital.head_nurse.email}"
    attendee = event["ATTENDEE"]
    assert str(attendee) == f"mailto:{hospital.nurse_wang.email}"
    assert (attendee.params["ROLE"], attendee.params["PARTSTAT"], attendee.params["RSVP"]) == (
        "REQ-PARTICIPANT",
        "NEEDS-ACTION",
        "TRUE",
    )
    assert str(event["STATUS"]) == "CONFIRMED" and "DTSTAMP" in event
    assert parsed.vevent.uid.value == talk.uid
    assert parsed.vevent.dtstart.value == TEN
    assert parsed.vevent.attendee.params["CN"] == ["王芳"]


def test_talk_ics_uses_the_organisers_time_zone_with_its_rules(hospital: Hospital) -> None:
    hospital.head_nurse.time_zone = "Europe/Berlin"
    hospital.head_nurse.save(update_fields=["time_zone"])
    talk = booked_talk(hospital)

    calendar, parsed = both_parsers(talk_ics(talk))

    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Berlin" and zone.walk("DAYLIGHT")
    [event] = calendar.walk("VEVENT")
    assert event["DTSTART"].to_ical() == b"20260304T030000"
    assert parsed.vevent.dtstart.value == TEN  # the same instant, read through the VTIMEZONE


def test_talk_ics_without_a_booked_time_is_refused(hospital: Hospital) -> None:
    with pytest.raises(ValueError, match="booked time"):
        talk_ics(talk_between(hospital))


def test_confirmed_moved_and_cancelled_invitations_update_one_calendar_entry(
    hospital: Hospital, frozen: None
) -> None:
    hospital_hours(hospital.organisation)
    wang, manager = hospital.nurse_wang, hospital.head_nurse
    first, later = at(MONDAY, 9), at(MONDAY + timedelta(days=1), 14)
    talk = request_talk(manager, requester=wang.user, details=QUARTERLY, slot=(first, first))
    accept_time(talk, actor=manager.user)
    propose_time(talk, actor=manager.user, start=later)
    accept_time(talk, actor=wang.user)
    cancel_talk(talk, actor=wang.user, reason="临时出差")

    for person in (wang, manager):
        files = [both_parsers(content) for content in invitations_to(person)]
        assert [str(c["METHOD"]) for c, _v in files] == ["REQUEST", "REQUEST", "CANCEL"]
        assert [v.method.value for _c, v in files] == ["REQUEST", "REQUEST", "CANCEL"]
        events = [c.walk("VEVENT")[0] for c, _v in files]
        assert {str(e["UID"]) for e in events} == {talk.uid}
        assert {v.vevent.uid.value for _c, v in files} == {talk.uid}
        assert [int(e["SEQUENCE"]) for e in events] == [0, 1, 2]
        assert [int(v.vevent.sequence.value) for _c, v in files] == [0, 1, 2]
        assert [v.vevent.dtstart.value for _c, v in files] == [first, later, later]
        assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
        assert all(c.walk("VTIMEZONE") for c, _v in files)
        assert all(hasattr(v, "vtimezone") for _c, v in files)


# --- the feed ---------------------------------------------------------------------------------


def test_feed_lists_my_talks_with_a_time_and_nobody_elses(hospital: Hospital) -> None:
    mine = booked_talk(hospital)
    called_off = booked_talk(
        hospital, start=TEN + timedelta(days=1), state=TalkState.CANCELLED, sequence=1
    )
    talk_between(hospital)  # a request without a time
    others = booked_talk(hospital, employee=hospital.doctor_li, counterpart=hospital.head)

    with time_machine.travel(TEN - timedelta(days=1), tick=False):
        calendar, parsed = both_parsers(feed_ics(hospital.nurse_wang))

    status = {str(e["UID"]): str(e["STATUS"]) for e in calendar.walk("VEVENT")}
    assert status == {mine.uid: "CONFIRMED", called_off.uid: "CANCELLED"}
    assert others.uid not in status
    assert str(calendar["METHOD"]) == "PUBLISH" and parsed.method.value == "PUBLISH"
    assert len(parsed.vevent_list) == 2 and hasattr(parsed, "vtimezone")


def test_feed_leaves_out_talks_older_than_ninety_days(hospital: Hospital) -> None:
    booked_talk(hospital, state=TalkState.ARCHIVED)

    with time_machine.travel(TEN + timedelta(days=91), tick=False):
        calendar = Calendar.from_ical(feed_ics(hospital.nurse_wang))

    assert calendar.walk("VEVENT") == []


def test_feed_reads_the_talks_in_one_query(hospital: Hospital) -> None:
    for day in range(5):
        booked_talk(hospital, start=TEN + timedelta(days=day))

    with (
        time_machine.travel(TEN - timedelta(days=1), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        content = feed_ics(hospital.nurse_wang)

    assert len(queries) == 1
    assert len(Calendar.from_ical(content).walk("VEVENT")) == 5


def test_a_feed_token_is_stored_as_a_digest_and_a_new_one_revokes_the_old(
    hospital: Hospital,
) -> None:
    wang = hospital.nurse_wang
    old = create_feed_token(wang, actor=wang.user)
    new = create_feed_token(wang, actor=wang.user)

    assert employee_for_feed_token(old) is None
    assert employee_for_feed_token(new) == wang
    assert CalendarFeedToken.objects.filter(employee=wang, revoked_at__isnull=True).count() == 1
    assert not CalendarFeedToken.objects.filter(digest__in=[old, new]).exists()
    actions = AuditEvent.objects.filter(subject_id=wang.pk, action__startswith="scheduling.")
    assert sorted(actions.values_list("action", flat=True)) == [
        "scheduling.feed_token.created",
        "scheduling.feed_token.created",
        "scheduling.feed_token.revoked",
    ]


def test_the_feed_link_serves_the_calendar_and_is_audited(hospital: Hospital) -> None:
    talk = booked_talk(hospital)
    token = create_feed_token(hospital.nurse_wang, actor=hospital.nurse_wang.user)

    with time_machine.travel(TEN - timedelta(days=1), tick=False):
        response = Client().get(f"/calendar/{token}.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert talk.uid in response.content.decode()
    read = AuditEvent.objects.get(action="scheduling.feed.read")
    assert read.subject_id == hospital.nurse_wang.pk and read.actor_id is None


def test_a_revoked_or_wrong_feed_link_is_404(hospital: Hospital) -> None:
    wang = hospital.nurse_wang
    token = create_feed_token(wang, actor=wang.user)
    revoke_feed_token(wang, actor=wang.user)

    assert Client().get(f"/calendar/{token}.ics").status_code == 404
    assert Client().get("/calendar/cal_not-a-token.ics").status_code == 404
    assert not AuditEvent.objects.filter(action="scheduling.feed.read").exists()


def test_the_feed_of_someone_who_left_is_404(hospital: Hospital) -> None:
    wang = hospital.nurse_wang
    token = create_feed_token(wang, actor=wang.user)
    Employee.objects.filter(pk=wang.pk).update(status="left")

    assert Client().get(f"/calendar/{token}.ics").status_code == 404


# --- the pages --------------------------------------------------------------------------------


def test_a_participant_downloads_the_invitation(hospital: Hospital, client_as: SignIn) -> None:
    talk = booked_talk(hospital)

    response = client_as(hospital.nurse_wang).get(f"/talks/{talk.pk}/invite.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "invite.ics" in response["Content-Disposition"]
    assert str(Calendar.from_ical(response.content).walk("VEVENT")[0]["UID"]) == talk.uid


def test_the_invitation_of_a_cancelled_talk_cancels_it(
    hospital: Hospital, client_as: SignIn
) -> None:
    talk = booked_talk(hospital, state=TalkState.CANCELLED, sequence=1)

    response = client_as(hospital.head_nurse).get(f"/talks/{talk.pk}/invite.ics")

    assert str(Calendar.from_ical(response.content)["METHOD"]) == "CANCEL"


def test_the_invitation_is_404_without_a_booked_time_or_for_outsiders(
    hospital: Hospital, client_as: SignIn
) -> None:
    request = talk_between(hospital)
    booked = booked_talk(hospital)

    assert client_as(hospital.nurse_wang).get(f"/talks/{request.pk}/invite.ics").status_code == 404
    assert client_as(hospital.zhao).get(f"/talks/{booked.pk}/invite.ics").status_code == 404
    assert client_as(hospital.zhao).get("/talks/987654/invite.ics").status_code == 404
    assert Client().get(f"/talks/{booked.pk}/invite.ics").status_code == 302


def test_the_settings_page_shows_a_new_link_once(hospital: Hospital, client_as: SignIn) -> None:
    client = client_as(hospital.nurse_wang)
    assert 'data-testid="feed-none"' in client.get("/me/calendar/").content.decode()

    created = client.post("/me/calendar/token/")
    page = client.get("/me/calendar/").content.decode()

    assert created.status_code == 200
    url = created.context["feed_url"]
    assert url.startswith("http://testserver/calendar/cal_") and url.endswith(".ics")
    assert url in created.content.decode() and url not in page
    assert 'data-testid="feed-active"' in page
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert employee_for_feed_token(token) == hospital.nurse_wang


def test_switching_the_link_off_stops_the_feed(hospital: Hospital, client_as: SignIn) -> None:
    client = client_as(hospital.nurse_wang)
    url = client.post("/me/calendar/token/").context["feed_url"]

    response = client.post("/me/calendar/token/revoke/")

    assert response.status_code == 302 and response["Location"] == "/me/calendar/"
    assert Client().get(url.removeprefix("http://testserver")).status_code == 404


def test_the_calendar_pages_need_a_sign_in_and_the_right_method(
    hospital: Hospital, client_as: SignIn
) -> None:
    assert Client().get("/me/calendar/").status_code == 302
    assert Client().post("/me/calendar/token/").status_code == 302
    assert Client().post("/me/calendar/token/revoke/").status_code == 302
    client = client_as(hospital.nurse_wang)
    assert client.get("/me/calendar/token/").status_code == 405
    assert client.get("/me/calendar/token/revoke/").status_code == 405
    assert not CalendarFeedToken.objects.exists()
