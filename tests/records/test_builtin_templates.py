"""The built-in record templates: valid, bilingual, installed once per organisation, and the
template a talk's topic chooses."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from miantan.audit.models import AuditEvent
from miantan.interviews.enums import Topic
from miantan.people.models import Organisation
from miantan.records import builtin
from miantan.records.definitions import LANGUAGES, Definition, parse
from miantan.records.enums import FieldType, Filler
from miantan.records.models import Template, TemplateVersion
from miantan.records.templates import install_builtin_templates, template_for_topic
from tests.personas import Hospital, OtherOrganisation

BUILTIN_KEYS = [spec.key for spec in builtin.BUILTINS]


def _texts(definition: Definition) -> list[dict[str, str]]:
    texts: list[dict[str, str]] = []
    for section in definition.sections:
        texts.append(section.title)
        if section.help:
            texts.append(section.help)
        for field in section.fields:
            texts.append(field.label)
            if field.help:
                texts.append(field.help)
            texts.extend(field.anchors.values())
            texts.extend(choice.label for choice in field.choices)
    return texts


@pytest.mark.parametrize("spec", builtin.BUILTINS, ids=BUILTIN_KEYS)
def test_every_builtin_is_a_valid_bilingual_definition(spec: builtin.BuiltinTemplate) -> None:
    definition = parse(spec.definition)

    assert definition.as_json() == parse(definition.as_json()).as_json()
    for text in [spec.name, spec.description, *_texts(definition)]:
        assert set(text) == set(LANGUAGES), text
        assert all(value.strip() for value in text.values())
    assert set(spec.topics) <= set(Topic.values)
    # Everything a record asks is filled by somebody who takes part in it.
    assert {s.filled_by for s in definition.sections} <= set(Filler.values)


def test_the_seven_builtins_are_the_scenarios_of_the_product() -> None:
    names = {spec.key: spec.name["zh-hans"] for spec in builtin.BUILTINS}

    assert names == {
        builtin.ANNUAL: "年度绩效面谈",
        builtin.QUARTERLY: "季度绩效面谈",
        builtin.MONTHLY: "月度沟通",
        builtin.NEW_HIRE: "新员工辅导面谈",
        builtin.IMPROVEMENT: "绩效改进面谈",
        builtin.CAREER: "职业发展面谈",
        builtin.PROMOTION: "晋升/职称评审面谈",
    }


def test_every_topic_has_exactly_one_builtin() -> None:
    listed = [topic for spec in builtin.BUILTINS for topic in spec.topics]

    assert sorted(listed) == sorted(Topic.values)


@pytest.mark.parametrize("key", [builtin.ANNUAL, builtin.QUARTERLY])
def test_reviews_ask_the_structured_self_assessment(key: str) -> None:
    definition = parse(builtin.BY_KEY[key].definition)
    went_well = definition.section("went_well")
    to_improve = definition.section("to_improve")
    plan = definition.section("plan")

    assert went_well is not None and to_improve is not None and plan is not None
    assert (went_well.filled_by, went_well.repeatable) == (Filler.EMPLOYEE, True)
    assert [f.key for f in went_well.fields] == [
        "project",
        "completion",
        "key_behaviour",
        "team_contribution",
    ]
    completion = went_well.field_named("completion")
    assert completion is not None
    assert (completion.type, completion.minimum, completion.maximum, completion.unit) == (
        FieldType.NUMBER,
        0,
        100,
        "%",
    )
    assert (to_improve.filled_by, to_improve.repeatable) == (Filler.EMPLOYEE, True)
    assert [f.key for f in to_improve.fields] == ["event", "impact", "shortcoming"]
    assert plan.filled_by == Filler.EMPLOYEE
    assert [f.type for f in plan.fields] == [FieldType.GOALS]


@pytest.mark.parametrize("key", [builtin.ANNUAL, builtin.QUARTERLY])
def test_reviews_have_a_sealed_overall_rating_both_give(key: str) -> None:
    definition = parse(builtin.BY_KEY[key].definition)
    overall = definition.section("overall")
    manager = definition.section("manager")
    kpis = definition.section("kpis")

    assert overall is not None and overall.per_side
    rating = overall.field_named("rating")
    assert rating is not None and rating.type == FieldType.RATING and rating.required
    assert [step for step, _text in rating.rating_steps()] == [1, 2, 3, 4, 5]
    assert all(text for _step, text in rating.rating_steps())
    assert manager is not None and manager.filled_by == Filler.MANAGER
    assert kpis is not None and kpis.filled_by == Filler.BOTH
    assert [f.type for f in kpis.fields] == [FieldType.KPI_TABLE]


def test_every_builtin_rating_has_an_anchor_per_step() -> None:
    for spec in builtin.BUILTINS:
        for section in parse(spec.definition).sections:
            for field in section.fields:
                if field.type == FieldType.RATING:
                    assert all(text for _step, text in field.rating_steps()), (spec.key, field.key)


def test_promotion_has_hrs_title_eligibility_check_and_hospital_achievements() -> None:
    definition = parse(builtin.BY_KEY[builtin.PROMOTION].definition)
    hr = definition.section("hr_eligibility")
    achievements = definition.section("achievements")

    assert hr is not None and hr.filled_by == Filler.HR
    eligibility = hr.field_named("eligibility")
    assert eligibility is not None and eligibility.type == FieldType.CHOICE
    assert achievements is not None
    labels = [f.label["zh-hans"] for f in achievements.fields]
    assert "医疗质量与安全" in labels and "科研教学" in labels


def test_install_creates_each_builtin_with_version_one_once(hospital: Hospital) -> None:
    organisation = hospital.organisation

    created = install_builtin_templates(organisation)
    again = install_builtin_templates(organisation)

    assert sorted(t.key for t in created) == sorted(BUILTIN_KEYS)
    assert again == []
    templates = Template.objects.filter(organisation=organisation).select_related("current")
    assert templates.count() == len(BUILTIN_KEYS)
    for template in templates:
        assert template.current is not None
        assert template.current.number == 1
        assert template.builtin == template.key and template.is_active
        expected = parse(builtin.BY_KEY[template.key].definition).as_json()
        assert template.current.definition == expected
    assert TemplateVersion.objects.filter(template__organisation=organisation).count() == 7
    assert (
        AuditEvent.objects.filter(
            action="records.template.installed", organisation_id=organisation.pk
        ).count()
        == 7
    )


def test_install_adds_only_the_missing_ones(hospital: Hospital) -> None:
    install_builtin_templates(hospital.organisation)
    Template.objects.filter(key=builtin.CAREER).update(key="career_old")

    created = install_builtin_templates(hospital.organisation)

    assert [t.key for t in created] == [builtin.CAREER]


def test_organisations_have_their_own_templates(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    install_builtin_templates(hospital.organisation)

    created = install_builtin_templates(other_org.organisation)

    assert len(created) == 7
    assert Template.objects.filter(organisation=other_org.organisation).count() == 7


@pytest.mark.parametrize(
    ("topic", "key"),
    [
        (Topic.QUARTERLY_REVIEW, builtin.QUARTERLY),
        (Topic.CAREER, builtin.CAREER),
        (Topic.PROJECT_RECOGNITION, builtin.MONTHLY),
        (Topic.IMPROVEMENT, builtin.IMPROVEMENT),
        (Topic.PROMOTION, builtin.PROMOTION),
        (Topic.OTHER, builtin.MONTHLY),
    ],
)
def test_topic_chooses_its_template_installing_the_builtins_first(
    hospital: Hospital, topic: str, key: str
) -> None:
    version = template_for_topic(hospital.organisation, topic)

    assert version.template.key == key
    assert version.number == 1
    assert Template.objects.filter(organisation=hospital.organisation).count() == 7


def test_topic_takes_the_first_active_template_by_key(hospital: Hospital) -> None:
    install_builtin_templates(hospital.organisation)
    Template.objects.filter(key=builtin.ANNUAL).update(topics=[Topic.QUARTERLY_REVIEW])

    assert template_for_topic(hospital.organisation, Topic.QUARTERLY_REVIEW).template.key == (
        builtin.ANNUAL
    )

    Template.objects.filter(key=builtin.ANNUAL).update(is_active=False)

    assert template_for_topic(hospital.organisation, Topic.QUARTERLY_REVIEW).template.key == (
        builtin.QUARTERLY
    )


def test_topic_without_an_active_template_falls_back_to_the_monthly_check_in(
    hospital: Hospital,
) -> None:
    install_builtin_templates(hospital.organisation)
    Template.objects.filter(key=builtin.CAREER).update(is_active=False)

    version = template_for_topic(hospital.organisation, Topic.CAREER)

    assert version.template.key == builtin.MONTHLY
    assert template_for_topic(hospital.organisation, "unknown").template.key == builtin.MONTHLY


def test_create_organisation_command_installs_the_builtins(db: None) -> None:
    out = io.StringIO()
    call_command("create_organisation", "renhe", "仁和医院", stdout=out)

    organisation = Organisation.objects.get(slug="renhe")
    assert sorted(
        Template.objects.filter(organisation=organisation).values_list("key", flat=True)
    ) == sorted(BUILTIN_KEYS)
    assert "7 built-in" in out.getvalue()


def test_seed_demo_installs_the_builtins_in_every_organisation(db: None) -> None:
    call_command("seed_demo", verbosity=0)

    for organisation in Organisation.objects.all():
        assert Template.objects.filter(organisation=organisation).count() == len(BUILTIN_KEYS)
