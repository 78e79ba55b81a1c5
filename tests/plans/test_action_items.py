"""Action items (E1): who creates, reads and changes them, the owner's and the team's lists,
and the carry-over of unfinished items into the brief and the next talk's agenda."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.http import Http404

from miantan.audit.models import AuditEvent
from miantan.interviews.agenda import build_agenda
from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk
from miantan.metrics.brief import brief_for
from miantan.plans import queries, services
from miantan.plans.enums import ActionStatus
from miantan.plans.models import ActionItem
from tests.personas import Hospital

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 7)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 12, 7, 9, tzinfo=SHANGHAI), tick=False):
        yield


def held_talk(hospital: Hospital) -> Talk:
    """王芳's talk with her head nurse 周敏, held last week."""
    start = datetime(2026, 11, 30, 10, tzinfo=SHANGHAI)
    return Talk.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        counterpart=hospital.head_nurse,
        requested_by=hospital.nurse_wang,
        topic="quarterly_review",
        state=TalkState.ARCHIVED,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
    )


def item_from_talk(hospital: Hospital, talk: Talk, **data: object) -> ActionItem:
    values = {
        "title": "完成静脉输液培训",
        "due_on": "2026-12-01",
        "specific": "参加护理部的静脉输液专项培训",
        "measurable": "考核 90 分以上",
        "support": "排班时留出两个下午",
        "relevance": "减少穿刺失败",
        **data,
    }
    return services.create_action(
        hospital.head_nurse.user,
        employee=hospital.nurse_wang,
        owner=hospital.nurse_wang,
        talk=talk,
        **values,
    )


def test_the_talks_two_people_create_items_from_it(hospital: Hospital) -> None:
    talk = held_talk(hospital)
    item = item_from_talk(hospital, talk)
    assert (item.owner, item.employee, item.created_by) == (
        hospital.nurse_wang,
        hospital.nurse_wang,
        hospital.head_nurse,
    )
    assert item.specific == "参加护理部的静脉输液专项培训"
    # HR may see 王芳 but is not one of the talk's two people.
    with pytest.raises(PermissionDenied):
        services.create_action(
            hospital.hr_partner.user,
            employee=hospital.nurse_wang,
            talk=talk,
            title="x",
            due_on="2026-12-20",
        )
    with pytest.raises(Http404):
        services.create_action(
            hospital.zhao.user, employee=hospital.nurse_wang, title="x", due_on="2026-12-20"
        )


def test_items_on_their_own_by_anyone_in_scope(hospital: Hospital) -> None:
    own = services.create_action(
        hospital.nurse_wang.user, employee=hospital.nurse_wang, title="读完护理指南", due_on=TODAY
    )
    assert own.owner == hospital.nurse_wang
    by_hr = services.create_action(
        hospital.hr_partner.user,
        employee=hospital.nurse_wang,
        owner=hospital.head_nurse,
        title="安排带教老师",
        due_on="2026-12-31",
    )
    assert by_hr.owner == hospital.head_nurse
    with pytest.raises(services.PlanInputError) as error:
        services.create_action(
            hospital.nurse_wang.user,
            employee=hospital.nurse_wang,
            owner=hospital.zhao,
            title="",
            due_on="tomorrow",
        )
    assert set(error.value.errors) == {"title", "due_on", "owner"}
    assert ActionItem.objects.count() == 2


def test_status_is_changed_by_the_owner_or_the_talks_counterpart(hospital: Hospital) -> None:
    item = item_from_talk(hospital, held_talk(hospital))
    with pytest.raises(PermissionDenied):
        services.set_action_status(hospital.hr_partner.user, item, ActionStatus.DONE)
    services.set_action_status(hospital.nurse_wang.user, item, ActionStatus.IN_PROGRESS)
    services.set_action_status(hospital.head_nurse.user, item, ActionStatus.DONE)
    item.refresh_from_db()
    assert item.status == ActionStatus.DONE and item.completed_at is not None
    events = AuditEvent.objects.filter(action="plans.action.status_changed", outcome="ok")
    assert [e.data["after"] for e in events.order_by("pk")] == ["in_progress", "done"]
    with pytest.raises(PermissionDenied):
        services.update_action(hospital.nurse_wang.user, item, title="改")


def test_lists_mark_overdue_and_teams_see_only_their_people(hospital: Hospital) -> None:
    item = item_from_talk(hospital, held_talk(hospital))
    services.create_action(
        hospital.zhao.user, employee=hospital.zhao, title="赵强的事", due_on="2026-12-20"
    )
    mine = list(queries.my_actions(hospital.nurse_wang.user))
    assert mine == [item] and item.is_overdue(TODAY)
    assert list(queries.team_actions(hospital.head_nurse.user)) == [item]
    assert [i.title for i in queries.team_actions(hospital.hr_partner.user)] == [
        "完成静脉输液培训",
        "赵强的事",
    ]
    assert list(queries.team_actions(hospital.doctor_li.user)) == []
    with pytest.raises(Http404):
        services.get_action(hospital.doctor_li.user, item.pk)
    with pytest.raises(PermissionDenied):
        services.team_overview(hospital.doctor_li.user)
    assert services.team_overview(hospital.head_nurse.user).actions == [item]
    assert AuditEvent.objects.filter(action="plans.actions.listed").count() == 1


def test_unfinished_items_appear_in_the_brief_and_the_next_agenda(hospital: Hospital) -> None:
    talk = held_talk(hospital)
    open_item = item_from_talk(hospital, talk)
    done = item_from_talk(hospital, talk, title="已完成的事")
    services.set_action_status(hospital.nurse_wang.user, done, ActionStatus.DONE)

    brief = brief_for(hospital.nurse_wang, "quarterly_review", hospital.head_nurse.user)
    assert brief.open_action_items == [open_item]

    start = datetime(2026, 12, 14, 10, tzinfo=SHANGHAI)
    next_talk = Talk.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        counterpart=hospital.head_nurse,
        requested_by=hospital.head_nurse,
        topic="quarterly_review",
        state=TalkState.SCHEDULED,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
    )
    agenda = build_agenda(next_talk, viewer=hospital.head_nurse.user)
    carried = [item for item in agenda if item["source"] == "action"]
    assert carried == [
        {
            "text": "完成静脉输液培训",
            "source": "action",
            "data": {"action": open_item.pk, "due_on": "2026-12-01", "status": "open"},
        }
    ]
