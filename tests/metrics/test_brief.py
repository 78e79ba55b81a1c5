"""The data brief: what each topic brings, the objectives it suggests, who may see it."""

from __future__ import annotations

from datetime import date

import pytest
from django.http import Http404
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.metrics.brief import brief_for
from miantan.metrics.enums import BriefTopic, EvidenceKind
from miantan.metrics.models import EvidenceEntry, ProjectContribution, TrainingRecord
from miantan.people.models import Employee
from tests.factories import EmployeeFactory
from tests.metrics.kpi_builders import AS_OF, assign, kpi, months, values
from tests.personas import Hospital


@pytest.fixture
def li_data(hospital: Hospital):
    """李明: patient satisfaction 60 against a team at 85; outpatient visits well above target."""
    org = hospital.organisation
    position = hospital.doctor_li.position
    satisfaction = kpi(org, "patient_satisfaction", "患者满意度", name_en="Patient satisfaction")
    visits = kpi(org, "outpatient_visits", "门诊量", name_en="Outpatient visits", decimals=0)
    assign(satisfaction, 85, position=position)
    assign(satisfaction, 80, department=hospital.cardiology, position=position)
    assign(visits, 400, position=position)
    periods = months(org, 3)
    values(hospital.doctor_li, satisfaction, periods, [66, 62, 60])
    values(hospital.doctor_li, visits, periods, [480, 470, 500])
    for n, score in enumerate((80, 90)):
        colleague = EmployeeFactory(
            department=hospital.cardiology, position=position, name=f"同事{n}"
        )
        values(colleague, satisfaction, periods, [score, score, score])
    return satisfaction


def brief(hospital: Hospital, topic: str, viewer: Employee | None = None):
    with translation.override("en"):
        return brief_for(hospital.doctor_li, topic, (viewer or hospital.head).user, as_of=AS_OF)


def test_brief_quarterly_review_has_all_kpis_flags_and_objectives(hospital: Hospital, li_data):
    result = brief(hospital, BriefTopic.QUARTERLY_REVIEW)

    assert {gap.kpi.code for gap in result.kpis} == {"patient_satisfaction", "outpatient_visits"}
    assert {flag.rule_id for flag in result.flags} == {"completion", "team"}
    texts = [objective.text for objective in result.objectives]
    assert texts == [
        "Find the cause of the Patient satisfaction gap: 60 against the team's 85",
        "Acknowledge Outpatient visits: 125 % of the target",
    ]
    assert result.objectives[0].data["team_average"] == pytest.approx(85.0)
    assert result.open_action_items == []


def test_brief_objective_in_chinese(hospital: Hospital, li_data):
    with translation.override("zh-hans"):
        result = brief_for(
            hospital.doctor_li, BriefTopic.QUARTERLY_REVIEW, hospital.head.user, as_of=AS_OF
        )

    assert "患者满意度" in result.objectives[0].text
    assert "60" in result.objectives[0].text and "85" in result.objectives[0].text


def test_brief_improvement_talk_has_gaps_evidence_and_history(hospital: Hospital, li_data):
    EvidenceEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        kind=EvidenceKind.NEGATIVE,
        happened_on=date(2026, 5, 20),
        text="患者投诉候诊时间过长",
        kpi=li_data,
    )

    result = brief(hospital, BriefTopic.IMPROVEMENT)

    assert [gap.kpi.code for gap in result.kpis] == ["patient_satisfaction"]
    assert [p.actual for p in result.kpis[0].points] == [66.0, 62.0, 60.0]
    assert [entry.text for entry in result.evidence] == ["患者投诉候诊时间过长"]
    assert (
        result.objectives[-1].text == "Talk about what happened on 2026-05-20: 患者投诉候诊时间过长"
    )
    assert result.objectives[-1].kpi_code == "patient_satisfaction"


def test_brief_career_development_has_skills_trainings_and_growth_needs(
    hospital: Hospital, li_data
):
    for course, hours in (("心脏超声进阶", 16), ("医患沟通", 8)):
        TrainingRecord.objects.create(
            organisation=hospital.organisation,
            employee=hospital.doctor_li,
            course=course,
            skill=course,
            hours=hours,
            completed_on=date(2026, 3, 1),
        )

    result = brief(hospital, BriefTopic.CAREER)

    assert result.skills == ["心脏超声进阶", "医患沟通"]
    assert [gap.kpi.code for gap in result.growth_needs] == ["patient_satisfaction"]
    assert result.objectives[0].text == (
        "Plan how to grow in Patient satisfaction: 75 % of the target"
    )
    assert result.objectives[1].text == "Build on 心脏超声进阶: 16 hours of training so far"


def test_brief_project_recognition_has_project_results(hospital: Hospital, li_data):
    ProjectContribution.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        project="胸痛中心认证",
        role="骨干",
        result="通过国家认证",
        completion=100,
    )

    result = brief(hospital, BriefTopic.PROJECT_RECOGNITION)

    assert [p.project for p in result.projects] == ["胸痛中心认证"]
    assert result.objectives[0].text == "Recognise the work on 胸痛中心认证 (骨干): 100 % complete"
    assert result.kpis == [] and result.flags == []


def test_brief_promotion_compares_the_position_requirements(hospital: Hospital, li_data):
    result = brief(hospital, BriefTopic.PROMOTION)

    by_code = {r.gap.kpi.code: r for r in result.requirements}
    assert (by_code["patient_satisfaction"].required, by_code["patient_satisfaction"].met) == (
        85.0,
        False,
    )
    assert by_code["outpatient_visits"].met is True
    assert result.objectives[0].text == (
        "Patient satisfaction is below the position's requirement: 60 against 85"
    )


def test_brief_is_audited(hospital: Hospital, li_data):
    brief(hospital, BriefTopic.QUARTERLY_REVIEW)

    event = AuditEvent.objects.filter(action="metrics.brief.viewed").get()
    assert (event.outcome, event.subject_id) == ("ok", hospital.doctor_li.pk)


def test_brief_department_head_gets_404_for_someone_outside(hospital: Hospital, li_data):
    with pytest.raises(Http404):
        brief_for(hospital.zhao, BriefTopic.QUARTERLY_REVIEW, hospital.head.user)

    event = AuditEvent.objects.filter(action="metrics.brief.viewed").get()
    assert (event.outcome, event.object_id) == ("denied", str(hospital.zhao.pk))


def test_brief_colleague_cannot_see_it(hospital: Hospital, li_data):
    with pytest.raises(Http404):
        brief(hospital, BriefTopic.QUARTERLY_REVIEW, viewer=hospital.nurse_wang)


def test_brief_unknown_topic_is_refused(hospital: Hospital):
    with pytest.raises(DomainError):
        brief_for(hospital.doctor_li, "gossip", hospital.head.user)


@pytest.mark.parametrize("topic", BriefTopic.values)
def test_brief_query_count_is_fixed_for_every_topic(
    hospital: Hospital, li_data, topic: str, django_assert_max_num_queries
):
    # Access and audit 10, gap analysis 4, the topic's own facts at most 2.
    with django_assert_max_num_queries(16):
        brief(hospital, topic)
