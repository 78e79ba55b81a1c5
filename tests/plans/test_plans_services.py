"""Improvement plans (E2–E5): drafted from the gaps, published by HR, acknowledged with the
password, versioned after any later change with a diff, checked in, evaluated, recommended."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import override_settings
from django.utils import translation

from miantan.archive.services import ReauthenticationFailed
from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.notifications.models import Notification
from miantan.notifications.rendering import link_of, render
from miantan.people.models import Employee
from miantan.plans import messages, services
from miantan.plans.enums import Effect, PlanState, RecommendationKind, RecommendationState
from miantan.plans.models import (
    CheckIn,
    ImprovementPlan,
    PlanAcknowledgement,
    PlanVersion,
    Recommendation,
    TrainingCourse,
)
from tests.factories import PASSWORD
from tests.personas import Hospital
from tests.plans.builders import complaint_rate, drafted_plan, record_value

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 10, 15, 9, tzinfo=SHANGHAI), tick=False):
        yield


@pytest.fixture
def plan(hospital: Hospital) -> ImprovementPlan:
    return drafted_plan(hospital)


def published(hospital: Hospital, plan: ImprovementPlan) -> ImprovementPlan:
    return services.publish_plan(hospital.hr_partner.user, plan)


def test_a_plan_drafted_from_the_gaps_has_one_target_per_weak_kpi(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    target = plan.targets.get()
    assert (target.label, target.baseline, target.goal, target.unit) == ("客户投诉率", 20, 10, "%")
    assert target.direction == "lower" and target.baseline_period.label == "2026-Q3"
    assert plan.state == PlanState.DRAFT and plan.hr == hospital.hr_partner
    assert plan.manager == hospital.head
    # Titles are written in the language of whoever drafts (here the default, Chinese).
    assert [(m.title, m.due_on) for m in plan.milestones.all()] == [
        ("期中回顾", date(2026, 11, 29)),
        ("期末回顾", date(2027, 1, 14)),
    ]


def test_only_managers_and_hr_in_scope_draft_a_plan(hospital: Hospital) -> None:
    complaint_rate(hospital)
    with pytest.raises(PermissionDenied):
        services.draft_plan_from_gaps(hospital.doctor_li.user, hospital.doctor_li)
    with pytest.raises(Http404):
        services.draft_plan_from_gaps(hospital.zhao.user, hospital.doctor_li)
    with pytest.raises(Http404):
        services.draft_plan_from_gaps(hospital.executive.user, hospital.doctor_li)
    assert services.draft_plan_from_gaps(hospital.head.user, hospital.doctor_li).pk


def test_no_gap_no_plan(hospital: Hospital) -> None:
    with pytest.raises(DomainError):
        services.draft_plan_from_gaps(hospital.hr_partner.user, hospital.doctor_li)


def test_the_employee_sees_no_draft_and_the_manager_cannot_publish(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    with pytest.raises(Http404):
        services.get_plan(hospital.doctor_li.user, plan.pk)
    with pytest.raises(PermissionDenied):
        services.publish_plan(hospital.head.user, plan)
    with pytest.raises(Http404):
        services.get_plan(hospital.nurse_wang.user, plan.pk)


def test_publishing_locks_snapshots_schedules_and_asks_to_acknowledge(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    Employee.objects.filter(pk=hospital.doctor_li.pk).update(language="en")
    published(hospital, plan)
    plan.refresh_from_db()
    assert plan.state == PlanState.PUBLISHED and plan.version == 1
    version = PlanVersion.objects.get(plan=plan)
    assert version.version == 1 and len(version.sha256) == 64
    assert [c.due_on for c in CheckIn.objects.filter(plan=plan)] == [
        date(2026, 11, 29),
        date(2027, 1, 14),
    ]
    message = Notification.objects.get(recipient=hospital.doctor_li, channel="inbox")
    assert message.kind == "plan.published"
    subject, body = render(message)  # type: ignore[misc]
    # The subject is worded in 李明's language; the plan's title is what HR wrote.
    assert subject == "Improvement plan to acknowledge: 李明 的绩效改进计划"
    assert body == "孙丽 published an improvement plan for you. Read it and acknowledge it.\n"
    assert link_of(message)[0] == f"/plans/{plan.pk}/"
    with pytest.raises(PermissionDenied):
        services.publish_plan(hospital.hr_partner.user, ImprovementPlan.objects.get(pk=plan.pk))
    # Queued again for the same version, nothing is sent twice.
    messages.queue_plan_published(plan, actor=hospital.hr_partner)
    assert Notification.objects.filter(recipient=hospital.doctor_li, channel="inbox").count() == 1


def test_acknowledging_needs_the_password_and_only_the_employee(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    published(hospital, plan)
    with pytest.raises(PermissionDenied):
        services.acknowledge_plan(hospital.head.user, plan, password=PASSWORD)
    with pytest.raises(ReauthenticationFailed):
        services.acknowledge_plan(hospital.doctor_li.user, plan, password="wrong")
    assert not PlanAcknowledgement.objects.exists()
    assert AuditEvent.objects.filter(action="plans.acknowledgement.refused").count() == 1
    ack = services.acknowledge_plan(hospital.doctor_li.user, plan, password=PASSWORD)
    assert ack.version == 1
    assert ack.sha256 == PlanVersion.objects.get(plan=plan, version=1).sha256
    plan.refresh_from_db()
    assert plan.state == PlanState.ACKNOWLEDGED and plan.acknowledged_version == 1


def test_a_pip_edited_after_acknowledgement_shows_the_diff_and_waits_for_a_new_acknowledgement(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    """Must show: the change makes version 2, the diff against version 1, a new message, and
    the evaluation shows the before/after numbers and periods."""
    published(hospital, plan)
    services.acknowledge_plan(hospital.doctor_li.user, plan, password=PASSWORD)
    target = plan.targets.get()
    services.update_plan(
        hospital.head.user,
        plan,
        training="客户沟通技巧培训",
        targets=[{"id": target.pk, "kpi": target.kpi_id, "baseline": 20, "goal": 8}],
    )
    plan.refresh_from_db()
    assert plan.state == PlanState.PUBLISHED
    assert (plan.version, plan.acknowledged_version) == (2, 1)
    with translation.override("en"):
        changes = services.plan_diff(plan)
    assert [(c.what, c.before, c.after) for c in changes] == [
        ("Training", "", "客户沟通技巧培训"),
        ("Target", "客户投诉率: 20.0% → 10.0%", "客户投诉率: 20.0% → 8.0%"),
    ]
    assert Notification.objects.filter(
        recipient=hospital.doctor_li, channel="inbox", kind="plan.revised"
    ).exists()
    # HR notes change no version.
    services.update_plan(hospital.hr_partner.user, plan, hr_notes="仅 HR 可见")
    plan.refresh_from_db()
    assert plan.version == 2
    services.acknowledge_plan(hospital.doctor_li.user, plan, password=PASSWORD)
    plan.refresh_from_db()
    assert plan.state == PlanState.ACKNOWLEDGED and services.plan_diff(plan) == []

    record_value(hospital, target.kpi, date(2026, 10, 1), 5)
    with translation.override("en"):
        result = services.evaluate_plan(hospital.hr_partner.user, plan, as_of=date(2027, 1, 20))
    row = result["targets"][0]
    assert (row["baseline"], row["baseline_period"], row["value"], row["period"]) == (
        20,
        "2026-Q3",
        5,
        "2026-Q4",
    )
    assert row["percent"] == 125.0 and result["effect"] == Effect.EFFECTIVE
    assert row["text"] == (
        "客户投诉率 20% (2026-Q3) → 5% (2026-Q4): 125 % of the way to the goal of 8%. "
        "No value for 2027-Q1 yet."
    )


def test_hr_notes_are_hr_only(hospital: Hospital, plan: ImprovementPlan) -> None:
    with pytest.raises(DomainError):
        services.update_plan(hospital.head.user, plan, hr_notes="x")


def test_a_bad_edit_changes_nothing(hospital: Hospital, plan: ImprovementPlan) -> None:
    with pytest.raises(services.PlanInputError) as error:
        services.update_plan(hospital.head.user, plan, title="新标题", ends_on="2026-01-01")
    assert "ends_on" in error.value.errors
    plan.refresh_from_db()
    assert plan.title != "新标题"


def test_check_in_progress_in_words_and_a_course_when_behind(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    course = TrainingCourse.objects.create(organisation=hospital.organisation, title="投诉处理")
    course.kpis.add(plan.targets.get().kpi)
    published(hospital, plan)
    target = plan.targets.get()
    with time_machine.travel(datetime(2026, 11, 30, 9, tzinfo=SHANGHAI), tick=False):
        check_in = services.record_check_in(
            hospital.head.user, plan, values={target.pk: 17}, evidence="投诉记录", notes="好转"
        )
    assert check_in.due_on == date(2026, 11, 29) and check_in.percent == 30.0
    assert check_in.elapsed_percent == 50.5 and check_in.behind
    with translation.override("en"):
        assert services.progress_report(plan, check_in) == [
            "客户投诉率 down 3%, 7% to go (20% → 17%, 30 % of the way)."
        ]
    recommendation = Recommendation.objects.get(plan=plan)
    assert recommendation.kind == RecommendationKind.COURSE and recommendation.course == course
    assert "30 % of the way" in recommendation.reason or "30" in recommendation.reason
    assert plan.milestones.filter(done_at__isnull=False).count() == 1
    # The employee does not see a salary review flag, but the course, yes.
    assert services.visible_recommendations(hospital.doctor_li.user, plan) == [recommendation]
    with pytest.raises(PermissionDenied):
        services.decide_recommendation(
            hospital.doctor_li.user, recommendation, RecommendationState.ACCEPTED
        )
    services.decide_recommendation(
        hospital.hr_partner.user, recommendation, RecommendationState.ACCEPTED
    )


def test_check_in_rejects_values_of_other_plans(hospital: Hospital, plan: ImprovementPlan) -> None:
    published(hospital, plan)
    with pytest.raises(services.PlanInputError):
        services.record_check_in(hospital.head.user, plan, values={999999: 1})
    with pytest.raises(services.PlanInputError):
        services.record_check_in(hospital.head.user, plan, values={plan.targets.get().pk: "x"})
    assert not CheckIn.objects.filter(done_at__isnull=False).exists()


def test_evaluation_says_when_data_is_missing_and_never_guesses(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    published(hospital, plan)
    with translation.override("en"):
        result = services.evaluate_plan(hospital.head.user, plan, as_of=date(2026, 12, 1))
    assert result["effect"] == Effect.NO_DATA and result["percent"] is None
    assert result["targets"][0]["text"] == "客户投诉率: no value for 2026-Q4 yet."
    assert not Recommendation.objects.exists()
    with pytest.raises(PermissionDenied):
        services.evaluate_plan(hospital.doctor_li.user, plan)


@override_settings(MIANTAN_PLAN_EFFECTIVE_PERCENT=80, MIANTAN_PLAN_PARTLY_EFFECTIVE_PERCENT=40)
def test_thresholds_are_settings_and_an_effective_plan_flags_reviews_for_hr(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    published(hospital, plan)
    record_value(hospital, plan.targets.get().kpi, date(2026, 10, 1), 12)  # 80 % of the way
    result = services.evaluate_plan(hospital.hr_partner.user, plan, as_of=date(2026, 12, 31))
    assert result["percent"] == 80.0 and result["effect"] == Effect.EFFECTIVE
    kinds = set(Recommendation.objects.filter(plan=plan).values_list("kind", flat=True))
    assert kinds == {RecommendationKind.SALARY_REVIEW, RecommendationKind.PROMOTION_REVIEW}
    assert services.visible_recommendations(hospital.doctor_li.user, plan) == []
    assert services.visible_recommendations(hospital.head.user, plan) == []
    assert len(services.visible_recommendations(hospital.hr_partner.user, plan)) == 2
    with override_settings(MIANTAN_PLAN_EFFECTIVE_PERCENT=100):
        assert services.evaluate_targets(plan, as_of=date(2026, 12, 31))["effect"] == (
            Effect.PARTLY
        )


def test_ended_plans_are_evaluated_once(hospital: Hospital, plan: ImprovementPlan) -> None:
    published(hospital, plan)
    assert services.evaluate_ended_plans(date(2027, 1, 13)) == 0
    assert services.evaluate_ended_plans(date(2027, 1, 14)) == 1
    assert services.evaluate_ended_plans(date(2027, 1, 15)) == 0


def test_the_worker_round_evaluates_a_plan_that_has_ended(
    hospital: Hospital, plan: ImprovementPlan
) -> None:
    from io import StringIO

    from django.core.management import call_command

    published(hospital, plan)
    record_value(hospital, plan.targets.get().kpi, date(2026, 10, 1), 5)
    with time_machine.travel(datetime(2027, 1, 15, 9, tzinfo=SHANGHAI), tick=False):
        call_command("deliver_notifications", stdout=StringIO())
    plan.refresh_from_db()
    assert plan.evaluation["effect"] == Effect.EFFECTIVE
    assert plan.evaluation["as_of"] == "2027-01-15"


def test_every_read_and_change_is_audited(hospital: Hospital, plan: ImprovementPlan) -> None:
    services.get_plan(hospital.head.user, plan.pk)
    published(hospital, plan)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"plans.plan.created", "plans.plan.viewed", "plans.plan.published"} <= actions
    with pytest.raises(Http404):
        services.get_plan(hospital.zhao.user, plan.pk)
    assert AuditEvent.objects.filter(action="plans.plan.viewed", outcome="denied").exists()
