"""/api/v1/plans…: action items, improvement plans (draft, change, publish, acknowledge with
the password, the diff after a later change), check-ins, evaluation, recommendations and the
training catalogue, through the same services as the pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from miantan.audit.models import AuditEvent
from miantan.people.models import Employee
from miantan.plans.models import ActionItem, ImprovementPlan, PlanAcknowledgement
from tests.factories import PASSWORD, api_token_for
from tests.personas import Hospital, OtherOrganisation
from tests.plans.builders import complaint_rate, record_value
from tests.plans.test_action_items import held_talk

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 10, 15, 9, tzinfo=SHANGHAI), tick=False):
        yield


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def in_chinese(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


def send(client: Client, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
    return getattr(client, method)(url, json.dumps(data or {}), content_type="application/json")


def test_action_items_over_the_api(hospital: Hospital) -> None:
    nurse, head_nurse = bearer(hospital.nurse_wang), bearer(hospital.head_nurse)
    answer = send(
        head_nurse,
        "post",
        "/api/v1/plans/actions",
        {
            "employee": hospital.nurse_wang.pk,
            "owner": hospital.nurse_wang.pk,
            "title": "整理交班记录模板",
            "due_on": "2026-10-10",
            "measurable": "每班使用",
        },
    )
    assert answer.status_code == 201, answer.content
    item = answer.json()
    assert item["owner"]["id"] == hospital.nurse_wang.pk and item["overdue"] is True

    mine = nurse.get("/api/v1/plans/mine").json()
    assert [a["title"] for a in mine["actions"]] == ["整理交班记录模板"]
    assert "done" in mine["actions"][0]["allowed_statuses"]

    done = send(nurse, "post", f"/api/v1/plans/actions/{item['id']}/status", {"status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert bearer(hospital.zhao).get(f"/api/v1/plans/actions/{item['id']}").status_code == 404
    refused = send(
        bearer(hospital.hr_partner),
        "post",
        f"/api/v1/plans/actions/{item['id']}/status",
        {"status": "open"},
    )
    assert refused.status_code == 403
    bad = send(nurse, "post", "/api/v1/plans/actions", {"title": "", "due_on": "2026-13-01"})
    assert bad.status_code == 400 and "due_on" in bad.json()["errors"]
    assert ActionItem.objects.count() == 1
    assert bearer(hospital.doctor_li).get("/api/v1/plans/team").status_code == 403
    team = head_nurse.get("/api/v1/plans/team").json()
    assert [a["id"] for a in team["actions"]] == []  # done items are finished
    assert len(head_nurse.get("/api/v1/plans/team?all=true").json()["actions"]) == 1


def test_a_plan_from_draft_to_acknowledged_version_two(hospital: Hospital) -> None:
    complaint_rate(hospital)
    hr, head, li = bearer(hospital.hr_partner), bearer(hospital.head), bearer(hospital.doctor_li)
    created = send(hr, "post", "/api/v1/plans", {"employee": hospital.doctor_li.pk})
    assert created.status_code == 201, created.content
    plan = created.json()
    assert [t["baseline"] for t in plan["targets"]] == [20.0]
    url = f"/api/v1/plans/{plan['id']}"
    assert li.get(url).status_code == 404  # a draft is not the employee's yet
    assert send(head, "post", f"{url}/publish").status_code == 403
    assert send(hr, "post", f"{url}/publish").json()["state"] == "published"

    wrong = send(li, "post", f"{url}/acknowledge", {"password": "nope"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "reauth"
    ack = send(li, "post", f"{url}/acknowledge", {"password": PASSWORD})
    assert ack.json()["state"] == "acknowledged" and ack.json()["hr_notes"] is None

    target = plan["targets"][0]
    changed = send(
        head,
        "put",
        url,
        {"targets": [{"id": target["id"], "kpi": target["kpi_id"], "baseline": 20, "goal": 8}]},
    )
    assert changed.status_code == 200, changed.content
    body = li.get(url).json()
    assert (body["version"], body["acknowledged_version"], body["state"]) == (2, 1, "published")
    # In the employee's language (zh-hans).
    assert body["changes"] == [
        {
            "what": in_chinese("Target"),
            "before": "客户投诉率: 20.0% → 10.0%",
            "after": "客户投诉率: 20.0% → 8.0%",
        }
    ]
    assert body["may_acknowledge"] is True
    send(li, "post", f"{url}/acknowledge", {"password": PASSWORD})
    assert PlanAcknowledgement.objects.filter(plan_id=plan["id"]).count() == 2

    checked = send(
        head, "post", f"{url}/check-ins", {"values": {str(target["id"]): 14}, "notes": "好转"}
    )
    assert checked.status_code == 201, checked.content
    done = [c for c in checked.json()["check_ins"] if c["done_at"]]
    assert done[0]["progress"][0]["percent"] == 50.0
    [line] = done[0]["report"]
    assert line.startswith("客户投诉率") and "20% → 14%" in line

    record_value(hospital, ImprovementPlan.objects.get().targets.get().kpi, date(2026, 10, 1), 5)
    evaluated = send(hr, "post", f"{url}/evaluate", {"as_of": "2026-12-31"})
    assert evaluated.json()["effect"] == "effective"
    assert {r["kind"] for r in evaluated.json()["recommendations"]} == {
        "salary_review",
        "promotion_review",
    }
    assert li.get(url).json()["recommendations"] == []
    assert send(li, "post", f"{url}/evaluate").status_code == 403
    assert AuditEvent.objects.filter(action="plans.plan.viewed").exists()


def test_the_catalogue_is_hrs(hospital: Hospital, other_org: OtherOrganisation) -> None:
    rate = complaint_rate(hospital)
    hr = bearer(hospital.hr_partner)
    made = send(
        hr,
        "post",
        "/api/v1/plans/courses",
        {
            "title": "投诉处理技巧",
            "kpis": [rate.pk],
            "skills": "沟通, 服务",
            "link": "https://x.example",
        },
    )
    assert made.status_code == 201 and made.json()["skills"] == ["沟通", "服务"]
    assert [c["title"] for c in hr.get("/api/v1/plans/courses").json()] == ["投诉处理技巧"]
    assert bearer(hospital.doctor_li).get("/api/v1/plans/courses").status_code == 403
    assert (
        send(
            bearer(other_org.employee),
            "put",
            f"/api/v1/plans/courses/{made.json()['id']}",
            {"title": "x"},
        ).status_code
        == 404
    )
    bad = send(hr, "post", "/api/v1/plans/courses", {"title": "x", "link": "javascript:alert(1)"})
    assert bad.status_code == 400 and "link" in bad.json()["errors"]


def test_the_brief_carries_unfinished_items(hospital: Hospital) -> None:
    send(
        bearer(hospital.head),
        "post",
        "/api/v1/plans/actions",
        {"employee": hospital.doctor_li.pk, "title": "复盘三例投诉", "due_on": "2026-10-30"},
    )
    url = reverse("api-v1:person_brief", kwargs={"employee_id": hospital.doctor_li.pk})
    body = bearer(hospital.head).get(url, {"topic": "quarterly_review"}).json()
    assert body["open_action_items"] == [
        {
            "id": ActionItem.objects.get().pk,
            "title": "复盘三例投诉",
            "owner": "张伟",
            "due_on": "2026-10-30",
            "status": "open",
        }
    ]


def test_an_item_from_a_talk_serves_the_talks_employee(hospital: Hospital) -> None:
    talk = held_talk(hospital)
    answer = send(
        bearer(hospital.head_nurse),
        "post",
        "/api/v1/plans/actions",
        {
            "talk": talk.pk,
            "owner": hospital.nurse_wang.pk,
            "title": "练习穿刺",
            "due_on": "2026-12-20",
        },
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["employee"]["id"] == hospital.nurse_wang.pk
    assert answer.json()["talk_id"] == talk.pk
    refused = send(
        bearer(hospital.hr_partner),
        "post",
        "/api/v1/plans/actions",
        {"talk": talk.pk, "title": "练习穿刺", "due_on": "2026-12-20"},
    )
    assert refused.status_code == 403
