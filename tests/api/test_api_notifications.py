"""The inbox, one's notification settings, and the administrators' endpoints and given-up
messages over the API: the same services as the pages; refusals change nothing."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.utils import timezone

from miantan.audit.models import AuditEvent
from miantan.notifications.models import Endpoint, Notification, Preference
from miantan.people.models import Employee
from tests.factories import api_token_for
from tests.personas import Hospital


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def send(client: Client, method: str, url: str, body: Any) -> Any:
    return client.generic(
        method, url, json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def test_a_nurse_chooses_quiet_hours_and_reads_them_back(hospital: Hospital) -> None:
    client = bearer(hospital.nurse_wang)
    answer = send(
        client,
        "PUT",
        "/api/v1/notifications/preferences",
        {
            "channels": ["email"],
            "quiet_from": "21:30",
            "quiet_until": "06:30",
            "digest": True,
            "digest_at": "12:00",
        },
    )
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["channels"] == ["email", "inbox"] and data["quiet_from"] == "21:30:00"
    assert data["digest"] is True and "email" in data["offered"]
    assert client.get("/api/v1/notifications/preferences").json() == data
    assert AuditEvent.objects.filter(action="notifications.preferences.changed").count() == 1


def test_a_channel_that_cannot_reach_her_is_refused_and_nothing_changes(
    hospital: Hospital,
) -> None:
    client = bearer(hospital.nurse_wang)
    answer = send(
        client,
        "PUT",
        "/api/v1/notifications/preferences",
        {"channels": ["dingtalk"], "quiet_from": "22:00"},
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert "dingtalk" in errors["channels"] and "quiet_until" in errors
    assert not Preference.objects.exists()


def test_a_time_of_day_with_a_time_zone_is_refused_and_nothing_changes(
    hospital: Hospital,
) -> None:
    client = bearer(hospital.nurse_wang)
    answer = send(
        client,
        "PUT",
        "/api/v1/notifications/preferences",
        # An integer reads as seconds after midnight UTC: a time with a zone.
        {"channels": [], "digest": False, "digest_at": 0, "quiet_from": "22:00+08:00"},
    )
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert "digest_at" in errors and "quiet_from" in errors
    assert not Preference.objects.exists()


def test_a_course_naming_a_kpi_id_beyond_any_database_is_refused(hospital: Hospital) -> None:
    answer = send(
        bearer(hospital.hr_partner),
        "POST",
        "/api/v1/plans/courses",
        {"title": "沟通技巧", "kpis": [2**70]},
    )
    assert answer.status_code == 400, answer.content
    assert "kpis" in answer.json()["errors"]


def test_the_administrator_sets_up_a_robot_whose_secret_is_never_returned(
    hospital: Hospital,
) -> None:
    client = bearer(hospital.admin)
    made = send(
        client,
        "POST",
        "/api/v1/notifications/endpoints",
        {
            "channel": "dingtalk",
            "name": "护理部群",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "secret": "SECabc",
            "department_id": hospital.cardiology.pk,
        },
    )
    assert made.status_code == 201, made.content
    assert made.json()["has_secret"] is True and "SECabc" not in made.content.decode()
    listed = client.get("/api/v1/notifications/endpoints").json()
    assert [item["name"] for item in listed] == ["护理部群"]
    # Now the nurse of cardiology can choose DingTalk.
    offered = bearer(hospital.nurse_wang).get("/api/v1/notifications/preferences").json()
    assert "dingtalk" in offered["offered"]
    assert (
        "dingtalk"
        not in bearer(hospital.zhao).get("/api/v1/notifications/preferences").json()["offered"]
    )
    again = send(
        client,
        "POST",
        "/api/v1/notifications/endpoints",
        {
            "channel": "dingtalk",
            "name": "重复",
            "url": "https://oapi.dingtalk.com/robot/send?access_token=def",
            "department_id": hospital.cardiology.pk,
        },
    )
    assert again.status_code == 400 and "department" in again.json()["errors"]
    assert Endpoint.objects.count() == 1


def test_an_hr_partner_may_not_see_the_robots(hospital: Hospital) -> None:
    assert bearer(hospital.hr_partner).get("/api/v1/notifications/endpoints").status_code == 403
    assert bearer(hospital.hr_partner).get("/api/v1/notifications/given-up").status_code == 403


def test_the_administrator_sends_a_given_up_message_again(hospital: Hospital) -> None:
    row = Notification.objects.create(
        organisation=hospital.organisation,
        recipient=hospital.zhao,
        kind="talk.requested",
        channel="email",
        key="given-up#email",
        due_at=timezone.now(),
        failed_at=timezone.now(),
        attempts=6,
        last_error="SMTPServerDisconnected",
    )
    client = bearer(hospital.admin)
    [listed] = client.get("/api/v1/notifications/given-up").json()["items"]
    assert listed["id"] == row.pk and listed["last_error"] == "SMTPServerDisconnected"
    answer = client.post(f"/api/v1/notifications/given-up/{row.pk}/retry")
    assert answer.status_code == 200
    row.refresh_from_db()
    assert row.failed_at is None and row.attempts == 0 and row.is_pending
    assert client.get("/api/v1/notifications/given-up").json()["items"] == []
    assert AuditEvent.objects.filter(action="notifications.notification.retried").count() == 1
