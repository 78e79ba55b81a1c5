"""Each kind of rule nudges exactly the right people, once: a second scan queues nothing new,
a disabled rule nothing at all. Time is frozen 15 days before the end of 2026-Q4."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from miantan.interviews.enums import TalkState
from miantan.metrics.enums import Direction, PeriodKind
from miantan.metrics.gaps import gaps_for
from miantan.notifications.models import Notification
from miantan.notifications.rendering import inbox_entry, render
from miantan.nudges.enums import NudgeKind
from miantan.nudges.models import NudgeRule
from miantan.nudges.queries import ensure_rules
from miantan.nudges.services import scan
from miantan.plans.enums import ActionStatus, PlanState
from tests.factories import EmployeeFactory

from .builders import (
    NOW,
    TODAY,
    action,
    assign,
    kpi,
    milestone,
    only,
    plan,
    quarter,
    talk,
    training,
    value,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def nudged(kind: str) -> set[int]:
    """Who has an inbox nudge of `kind`."""
    return set(
        Notification.objects.filter(kind=f"nudge.{kind}", channel="inbox").values_list(
            "recipient_id", flat=True
        )
    )


@pytest.fixture
def kpis(hospital):
    """2026-Q4: attendance (higher is better) for 心内科 and below, a defect rate (lower is
    better) for nurses."""
    period = quarter(hospital.organisation)
    visits = kpi(hospital.organisation, "visits")
    defects = kpi(hospital.organisation, "defects", Direction.LOWER)
    assign(visits, 100, department=hospital.cardiology)
    assign(defects, 2, position=hospital.nurse_wang.position)
    value(hospital.doctor_li, visits, period, 70)  # 70 %
    value(hospital.head, visits, period, 90)  # 90 %
    value(hospital.head_nurse, visits, period, 70, target=80)  # 87.5 % of her own target
    value(hospital.nurse_wang, visits, period, 95)  # 95 %
    value(hospital.nurse_wang, defects, period, 4)  # 2 / 4 = 50 %
    value(hospital.zhao, visits, period, 10)  # 急诊科: no assignment applies to him
    return period, visits, defects


# --- period_end_low_kpi ---------------------------------------------------------------------------


def test_low_kpi_nudges_exactly_those_behind(hospital, kpis):
    only(hospital.organisation, NudgeKind.PERIOD_END_LOW_KPI)

    counts = scan(hospital.organisation)

    assert nudged(NudgeKind.PERIOD_END_LOW_KPI) == {hospital.doctor_li.pk, hospital.nurse_wang.pk}
    assert counts[NudgeKind.PERIOD_END_LOW_KPI] == 2


def test_low_kpi_agrees_with_the_gap_analysis(hospital, kpis):
    """The SQL completion is metrics.gaps' completion: same people under 80 % in 2026-Q4."""
    period = kpis[0]
    only(hospital.organisation, NudgeKind.PERIOD_END_LOW_KPI)
    scan(hospital.organisation)
    people = [hospital.doctor_li, hospital.head, hospital.head_nurse, hospital.nurse_wang]
    people.append(hospital.zhao)
    behind = set()
    for person in people:
        for gap in gaps_for(person, as_of=TODAY).kpis:
            points = [p for p in gap.points if p.period_id == period.pk]
            if points and points[0].completion is not None and points[0].completion < 80:
                behind.add(person.pk)

    assert behind == nudged(NudgeKind.PERIOD_END_LOW_KPI)


def test_low_kpi_follows_the_most_specific_assignment(hospital, kpis):
    """A monthly target for doctors of 心内科 wins over the department's quarterly one: the
    quarter's value of 李明 is not measured against a quarterly target any more."""
    visits = kpis[1]
    assign(
        visits,
        30,
        kind=PeriodKind.MONTH,
        department=hospital.cardiology,
        position=hospital.doctor_li.position,
    )
    only(hospital.organisation, NudgeKind.PERIOD_END_LOW_KPI)

    scan(hospital.organisation)

    assert nudged(NudgeKind.PERIOD_END_LOW_KPI) == {hospital.nurse_wang.pk}


def test_low_kpi_waits_until_the_last_days_of_the_period(hospital, kpis):
    only(hospital.organisation, NudgeKind.PERIOD_END_LOW_KPI)

    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        counts = scan(hospital.organisation)

    assert counts[NudgeKind.PERIOD_END_LOW_KPI] == 0
    assert not nudged(NudgeKind.PERIOD_END_LOW_KPI)


def test_low_kpi_message_links_to_the_talk_request(hospital, kpis):
    only(hospital.organisation, NudgeKind.PERIOD_END_LOW_KPI)
    scan(hospital.organisation)
    row = Notification.objects.get(
        recipient=hospital.nurse_wang, kind="nudge.period_end_low_kpi", channel="email"
    )

    subject, body = render(row)

    assert "2026-Q4" in body and "2026-12-31" in body and "/talks/new/" in body
    assert subject
    inbox = Notification.objects.get(recipient=hospital.nurse_wang, channel="inbox")
    assert inbox_entry(inbox).link == "/talks/new/"


# --- idempotency, switching off -------------------------------------------------------------------


def test_a_second_scan_queues_nothing_new(hospital, kpis):
    talk(hospital.nurse_wang, hospital.head_nurse, TalkState.SCHEDULED, NOW + timedelta(days=1))
    training(hospital.zhao, TODAY - timedelta(days=2))
    first = scan(hospital.organisation)
    rows = Notification.objects.count()

    second = scan(hospital.organisation)

    assert sum(first.values()) > 0
    assert sum(second.values()) == 0
    assert Notification.objects.count() == rows


def test_a_disabled_rule_does_nothing(hospital, kpis):
    training(hospital.zhao, TODAY - timedelta(days=2))
    ensure_rules([hospital.organisation.pk])
    NudgeRule.objects.filter(organisation=hospital.organisation).update(enabled=False)

    counts = scan(hospital.organisation)

    assert sum(counts.values()) == 0
    assert not Notification.objects.exists()


def test_a_scan_notes_each_rules_last_run_and_count(hospital, kpis):
    rule = only(hospital.organisation, NudgeKind.PERIOD_END_LOW_KPI)
    scan(hospital.organisation)
    rule.refresh_from_db()

    assert rule.last_run_at == NOW and rule.last_count == 2


def test_rules_of_another_organisation_stay_apart(hospital, other_org, kpis):
    training(other_org.employee, TODAY)
    only(hospital.organisation, NudgeKind.TRAINING_FINISHED)

    scan(hospital.organisation)

    assert not Notification.objects.filter(recipient=other_org.employee).exists()


# --- request_waiting ------------------------------------------------------------------------------


def _waiting(talk_, awaiting, *, since):
    """The talk's own SLA reminder, as interviews queues it when the talk starts waiting for
    `awaiting` (due after the global SLA of 48 hours)."""
    from miantan.notifications.services import notify

    with time_machine.travel(since, tick=False):
        notify(
            awaiting,
            "talk.reminder",
            key=f"talk:{talk_.pk}:reminder:{awaiting.pk}:1",
            obj=talk_,
            due_at=since + timedelta(hours=48),
            context={"event": "reminder"},
        )


def test_request_waiting_brings_the_talks_own_reminder_forward(hospital):
    rule = only(hospital.organisation, NudgeKind.REQUEST_WAITING)
    rule.params = {"sla_hours": 24}
    rule.save()
    late = talk(hospital.nurse_wang, hospital.head_nurse, TalkState.REQUESTED)
    fresh = talk(hospital.doctor_li, hospital.head, TalkState.REQUESTED)
    _waiting(late, hospital.head_nurse, since=NOW - timedelta(hours=30))
    _waiting(fresh, hospital.head, since=NOW - timedelta(hours=2))

    counts = scan(hospital.organisation)

    reminders = Notification.objects.filter(kind="talk.reminder")
    due_now = {(row.recipient_id, row.channel) for row in reminders if row.due_at <= NOW}
    assert due_now == {(hospital.head_nurse.pk, "inbox"), (hospital.head_nurse.pk, "email")}
    assert counts[NudgeKind.REQUEST_WAITING] == 1
    assert reminders.count() == 4
    assert scan(hospital.organisation)[NudgeKind.REQUEST_WAITING] == 0


def test_request_waiting_switched_off_keeps_the_global_sla(hospital):
    rule = only(hospital.organisation, NudgeKind.REQUEST_WAITING)
    NudgeRule.objects.filter(pk=rule.pk).update(enabled=False, params={"sla_hours": 24})
    late = talk(hospital.nurse_wang, hospital.head_nurse, TalkState.REQUESTED)
    _waiting(late, hospital.head_nurse, since=NOW - timedelta(hours=30))

    scan(hospital.organisation)

    assert all(row.due_at > NOW for row in Notification.objects.filter(kind="talk.reminder"))


# --- talk_tomorrow --------------------------------------------------------------------------------


def test_talk_tomorrow_reminds_both_people_with_the_brief(hospital):
    only(hospital.organisation, NudgeKind.TALK_TOMORROW)
    booked = talk(
        hospital.nurse_wang, hospital.head_nurse, TalkState.SCHEDULED, NOW + timedelta(days=1)
    )
    talk(hospital.doctor_li, hospital.head, TalkState.SCHEDULED, NOW + timedelta(days=2))
    talk(hospital.zhao, hospital.head, TalkState.CANCELLED, NOW + timedelta(days=1))

    scan(hospital.organisation)

    assert nudged(NudgeKind.TALK_TOMORROW) == {hospital.nurse_wang.pk, hospital.head_nurse.pk}
    row = Notification.objects.get(
        recipient=hospital.head_nurse, kind="nudge.talk_tomorrow", channel="email"
    )
    _subject, body = render(row)
    assert f"/people/{hospital.nurse_wang.pk}/brief/?topic=quarterly_review" in body
    assert f"/talks/{booked.pk}/" in body


def test_talk_tomorrow_leaves_out_who_already_has_a_preparation_reminder(hospital):
    from miantan.interviews.messages import PREPARE
    from miantan.notifications.services import notify

    only(hospital.organisation, NudgeKind.TALK_TOMORROW)
    start = NOW + timedelta(days=1)
    booked = talk(hospital.nurse_wang, hospital.head_nurse, TalkState.SCHEDULED, start)
    notify(
        hospital.nurse_wang,
        f"talk.{PREPARE}",
        key=f"talk:{booked.pk}:{PREPARE}:{hospital.nurse_wang.pk}:1",
        obj=booked,
        due_at=start - timedelta(hours=24),
        context={"event": PREPARE, "start": start.isoformat()},
    )

    scan(hospital.organisation)

    assert nudged(NudgeKind.TALK_TOMORROW) == {hospital.head_nurse.pk}


# --- action_due, plan_milestone -------------------------------------------------------------------


def test_action_due_reminds_the_owner_of_open_items_due_soon(hospital):
    only(hospital.organisation, NudgeKind.ACTION_DUE)
    action(hospital.head_nurse, hospital.nurse_wang, TODAY + timedelta(days=3))
    action(hospital.doctor_li, hospital.doctor_li, TODAY + timedelta(days=4))  # later
    action(hospital.head, hospital.doctor_li, TODAY + timedelta(days=1), ActionStatus.DONE)
    action(hospital.zhao, hospital.zhao, TODAY - timedelta(days=1))  # overdue: another story

    scan(hospital.organisation)

    assert nudged(NudgeKind.ACTION_DUE) == {hospital.head_nurse.pk}
    row = Notification.objects.get(kind="nudge.action_due", channel="email")
    _subject, body = render(row)
    assert "完成静脉输液培训" in body and "2026-12-20" in body


def test_action_done_before_the_send_is_not_reminded(hospital):
    only(hospital.organisation, NudgeKind.ACTION_DUE)
    item = action(hospital.head_nurse, hospital.nurse_wang, TODAY + timedelta(days=3))
    scan(hospital.organisation)
    item.status = ActionStatus.DONE
    item.save()

    assert render(Notification.objects.get(kind="nudge.action_due", channel="inbox")) is None


def test_plan_milestone_reminds_the_employee_and_the_plans_manager(hospital):
    only(hospital.organisation, NudgeKind.PLAN_MILESTONE)
    milestone(plan(hospital.nurse_wang, hospital.head_nurse), TODAY + timedelta(days=2))
    # No manager on the plan: the employee's own manager (张伟) hears of it.
    milestone(plan(hospital.doctor_li, None), TODAY + timedelta(days=3))
    milestone(plan(hospital.zhao, hospital.head), TODAY + timedelta(days=2), done=True)
    milestone(plan(hospital.zhao, hospital.head, PlanState.DRAFT), TODAY + timedelta(days=1))

    scan(hospital.organisation)

    expected = {hospital.nurse_wang, hospital.head_nurse, hospital.doctor_li, hospital.head}
    assert nudged(NudgeKind.PLAN_MILESTONE) == {person.pk for person in expected}


# --- no_talk_for ----------------------------------------------------------------------------------


def test_no_talk_for_nudges_managers_of_reports_without_a_talk(hospital):
    only(hospital.organisation, NudgeKind.NO_TALK_FOR)
    # 张伟 talked with 李明 three weeks ago, not with 周敏; 周敏 has a talk booked with 王芳.
    talk(hospital.doctor_li, hospital.head, TalkState.ARCHIVED, NOW - timedelta(weeks=3))
    talk(hospital.head_nurse, hospital.head, TalkState.ARCHIVED, NOW - timedelta(weeks=9))
    talk(hospital.nurse_wang, hospital.head_nurse, TalkState.SCHEDULED, NOW + timedelta(days=5))

    scan(hospital.organisation)

    assert nudged(NudgeKind.NO_TALK_FOR) == {hospital.head.pk}
    row = Notification.objects.get(kind="nudge.no_talk_for", channel="inbox")
    assert row.context["reports"] == 1
    assert inbox_entry(row).link == "/team/"


def test_no_talk_for_leaves_out_new_reports(hospital):
    only(hospital.organisation, NudgeKind.NO_TALK_FOR)
    talk(hospital.doctor_li, hospital.head, TalkState.ARCHIVED, NOW - timedelta(weeks=1))
    talk(hospital.nurse_wang, hospital.head_nurse, TalkState.ARCHIVED, NOW - timedelta(weeks=1))
    hospital.head_nurse.hire_date = TODAY - timedelta(weeks=2)
    hospital.head_nurse.save()

    scan(hospital.organisation)

    assert not nudged(NudgeKind.NO_TALK_FOR)


# --- training_finished ----------------------------------------------------------------------------


def test_training_finished_suggests_a_talk_to_the_employee(hospital):
    only(hospital.organisation, NudgeKind.TRAINING_FINISHED)
    training(hospital.nurse_wang, TODAY - timedelta(days=3))
    training(hospital.doctor_li, TODAY - timedelta(days=40))
    training(hospital.zhao, TODAY + timedelta(days=3))

    scan(hospital.organisation)

    assert nudged(NudgeKind.TRAINING_FINISHED) == {hospital.nurse_wang.pk}


def test_people_who_left_are_not_nudged(hospital):
    only(hospital.organisation, NudgeKind.TRAINING_FINISHED)
    training(hospital.nurse_wang, TODAY - timedelta(days=3))
    hospital.nurse_wang.status = "left"
    hospital.nurse_wang.left_on = TODAY - timedelta(days=1)
    hospital.nurse_wang.save()

    scan(hospital.organisation)

    assert not nudged(NudgeKind.TRAINING_FINISHED)


# --- queries per scan -----------------------------------------------------------------------------


def _staff(hospital, count: int, period, visits) -> None:
    for _i in range(count):
        person = EmployeeFactory(department=hospital.cardiology, manager=hospital.head)
        value(person, visits, period, 50)
        training(person, TODAY - timedelta(days=1))
        action(person, person, TODAY + timedelta(days=1))
        milestone(plan(person, hospital.head), TODAY + timedelta(days=1))
        talk(person, hospital.head, TalkState.SCHEDULED, NOW + timedelta(days=1))


def test_queries_per_scan_do_not_grow_with_the_employees(
    hospital, kpis, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    period, visits, _defects = kpis

    def queries_for(count: int) -> int:
        _staff(hospital, count, period, visits)
        Notification.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            counts = scan(hospital.organisation)
        assert all(counts[kind] > 0 for kind in counts if kind != NudgeKind.REQUEST_WAITING)
        return len(captured)

    at_ten = queries_for(10)
    at_two_hundred = queries_for(190)

    assert at_ten == at_two_hundred


def test_nudges_follow_each_persons_channels_and_digest(hospital):
    """王芳 chose a Slack webhook and a daily digest at 08:30 (Shanghai); 李明 kept the
    defaults: her nudge goes to Slack at the digest time and to the inbox now, his by mail and
    to the inbox now."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from miantan.notifications.models import Endpoint, Preference

    Endpoint.objects.create(
        organisation=hospital.organisation,
        channel="slack",
        name="全院",
        url="https://hooks.slack.com/services/T/B/x",
    )
    Preference.objects.create(
        employee=hospital.nurse_wang,
        channels=["slack", "inbox"],
        digest=True,
        digest_at=time(8, 30),
    )
    only(hospital.organisation, NudgeKind.TRAINING_FINISHED)
    training(hospital.nurse_wang, TODAY - timedelta(days=3))
    training(hospital.doctor_li, TODAY - timedelta(days=3))

    scan(hospital.organisation)

    rows = {
        (row.recipient_id, row.channel): row
        for row in Notification.objects.filter(kind=f"nudge.{NudgeKind.TRAINING_FINISHED}")
    }
    wang, li = hospital.nurse_wang.pk, hospital.doctor_li.pk
    assert set(rows) == {(wang, "slack"), (wang, "inbox"), (li, "email"), (li, "inbox")}
    slack = rows[(wang, "slack")]
    local = slack.due_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert slack.digest and local.time() == time(8, 30) and local > NOW
    assert not rows[(wang, "inbox")].digest and rows[(wang, "inbox")].due_at == NOW
    assert rows[(li, "email")].due_at == NOW
    assert isinstance(slack.due_at, datetime)
