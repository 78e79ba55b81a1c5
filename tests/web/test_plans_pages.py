"""The plans pages: my plans with overdue items, the team list, an action item from a talk,
the improvement plan's page from draft to acknowledged version two with the diff, check-in
and evaluation, the training catalogue; links only for those who may open them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from miantan.people.models import Employee
from miantan.plans.models import ActionItem, ImprovementPlan, PlanAcknowledgement
from tests.factories import PASSWORD
from tests.personas import Hospital
from tests.plans.builders import complaint_rate, record_value
from tests.plans.test_action_items import held_talk

Signer = Callable[[Employee], Client]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 12, 7, 9, tzinfo=SHANGHAI), tick=False):
        yield


def page(client: Client, url: str, status: int = 200) -> str:
    answer = client.get(url)
    assert answer.status_code == status, (url, answer.status_code)
    return answer.content.decode()


def test_an_action_item_from_a_talk_to_done(hospital: Hospital, client_as: Signer) -> None:
    talk = held_talk(hospital)
    head_nurse, nurse = client_as(hospital.head_nurse), client_as(hospital.nurse_wang)
    form = page(head_nurse, f"/plans/actions/new/?talk={talk.pk}")
    assert 'data-testid="action-form"' in form and "王芳" in form
    answer = head_nurse.post(
        "/plans/actions/new/",
        {
            "talk": talk.pk,
            "employee": hospital.nurse_wang.pk,
            "owner": hospital.nurse_wang.pk,
            "title": "完成静脉输液培训",
            "due_on": "2026-12-01",
            "specific": "参加专项培训",
        },
    )
    assert answer.status_code == 302, answer.content.decode()
    item = ActionItem.objects.get()
    assert item.talk == talk and item.owner == hospital.nurse_wang

    mine = page(nurse, "/plans/")
    assert "完成静脉输液培训" in mine and 'data-testid="overdue"' in mine
    assert 'data-testid="team-plans-link"' not in mine
    detail = page(nurse, f"/plans/actions/{item.pk}/")
    assert 'data-testid="status-form"' in detail
    nurse.post(f"/plans/actions/{item.pk}/status/", {"status": "done"})
    item.refresh_from_db()
    assert item.status == "done"
    assert "完成静脉输液培训" not in page(nurse, "/plans/")
    page(client_as(hospital.zhao), f"/plans/actions/{item.pk}/", 404)
    page(client_as(hospital.zhao), f"/plans/actions/new/?talk={talk.pk}", 404)
    bad = head_nurse.post(
        "/plans/actions/new/", {"employee": hospital.nurse_wang.pk, "title": "", "due_on": "x"}
    )
    assert bad.status_code == 400 and ActionItem.objects.count() == 1


def test_team_page_for_managers_and_hr_only(hospital: Hospital, client_as: Signer) -> None:
    page(client_as(hospital.nurse_wang), "/plans/team/", 403)
    team = page(client_as(hospital.head), "/plans/team/")
    assert 'data-testid="draft-plan-form"' in team and "李明" in team
    assert 'data-testid="team-plans-link"' in page(client_as(hospital.head), "/plans/")
    nav = page(client_as(hospital.nurse_wang), "/plans/")
    assert 'data-testid="nav-plans"' in nav and 'href="/plans/courses/"' not in nav
    assert 'href="/plans/courses/"' in page(client_as(hospital.hr_partner), "/plans/")
    page(client_as(hospital.nurse_wang), "/plans/courses/", 403)
    assert 'data-testid="home-my-plans"' in page(client_as(hospital.nurse_wang), "/home/me/")
    assert 'data-testid="home-team-plans"' in page(client_as(hospital.head_nurse), "/home/team/")


def test_a_plan_page_from_draft_to_version_two(hospital: Hospital, client_as: Signer) -> None:
    complaint_rate(hospital)
    hr, head, li = (
        client_as(hospital.hr_partner),
        client_as(hospital.head),
        client_as(hospital.doctor_li),
    )
    with time_machine.travel(datetime(2026, 10, 15, 9, tzinfo=SHANGHAI), tick=False):
        answer = head.post("/plans/draft/", {"employee": hospital.doctor_li.pk})
    assert answer.status_code == 302
    plan = ImprovementPlan.objects.get()
    url = f"/plans/{plan.pk}/"
    draft = page(head, url)
    assert 'data-testid="plan-edit-form"' in draft and 'data-testid="publish"' not in draft
    page(li, url, 404)
    assert 'data-testid="publish"' in page(hr, url)
    hr.post(f"/plans/{plan.pk}/publish/")

    shown = page(li, url)
    assert 'data-testid="acknowledge-form"' in shown and "HR notes" not in shown
    wrong = li.post(f"/plans/{plan.pk}/acknowledge/", {"password": "x"})
    assert wrong.status_code == 403 and 'data-testid="acknowledge-error"' in wrong.content.decode()
    li.post(f"/plans/{plan.pk}/acknowledge/", {"password": PASSWORD})

    target = plan.targets.get()
    milestones = list(plan.milestones.all())
    head.post(
        f"{url}edit/",
        {
            "title": plan.title,
            "starts_on": "2026-10-15",
            "ends_on": "2027-01-14",
            "training": "客户沟通技巧培训",
            "target_id": [target.pk, ""],
            "target_kpi": [target.kpi_id, ""],
            "target_unit": ["%", ""],
            "target_label": [target.label, ""],
            "target_baseline": ["20", ""],
            "target_goal": ["8", ""],
            "milestone_id": [m.pk for m in milestones] + [""],
            "milestone_title": [m.title for m in milestones] + [""],
            "milestone_due_on": [m.due_on.isoformat() for m in milestones] + [""],
        },
    )
    plan.refresh_from_db()
    assert (plan.version, plan.acknowledged_version) == (2, 1)
    shown = page(li, url)
    assert 'data-testid="plan-diff"' in shown and "客户沟通技巧培训" in shown
    assert "20.0% → 8.0%" in shown and 'data-testid="acknowledge-form"' in shown
    li.post(f"/plans/{plan.pk}/acknowledge/", {"password": PASSWORD})
    assert PlanAcknowledgement.objects.filter(plan=plan).count() == 2

    answer = head.post(f"{url}check-in/", {f"value_{target.pk}": "14", "notes": "好转"})
    assert answer.status_code == 302
    assert 'data-testid="progress-report"' in page(li, url)
    record_value(hospital, target.kpi, date(2026, 10, 1), 5)
    head.post(f"{url}evaluate/")
    evaluated = page(hr, url)
    assert 'data-testid="evaluation-row"' in evaluated and "2026-Q4" in evaluated
    assert 'data-testid="recommendation"' in evaluated
    assert 'data-testid="recommendation"' not in page(li, url)
    assert li.post(f"{url}evaluate/").status_code == 403


def test_hr_keeps_the_training_catalogue(hospital: Hospital, client_as: Signer) -> None:
    rate = complaint_rate(hospital)
    hr = client_as(hospital.hr_partner)
    answer = hr.post("/plans/courses/", {"title": "投诉处理技巧", "kpis": [rate.pk]})
    assert answer.status_code == 302
    assert "投诉处理技巧" in page(hr, "/plans/courses/")
    assert hr.post("/plans/courses/", {"title": ""}).status_code == 400
