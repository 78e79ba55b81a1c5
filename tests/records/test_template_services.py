"""HR's record templates: who reads and changes them, versions, export and import."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone, translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError
from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.people.models import Employee
from miantan.records import builtin
from miantan.records import templates as services
from miantan.records.definitions import InvalidDefinition, parse
from miantan.records.models import Record, Template, TemplateVersion
from tests.personas import Hospital, OtherOrganisation


@pytest.fixture
def installed(hospital: Hospital) -> Hospital:
    services.install_builtin_templates(hospital.organisation)
    return hospital


def template(hospital: Hospital, key: str) -> Template:
    return Template.objects.select_related("current").get(
        organisation=hospital.organisation, key=key
    )


def record_using(version: TemplateVersion, employee: Employee, counterpart: Employee) -> Record:
    start = timezone.now() + timedelta(days=1)
    talk = Talk.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        counterpart=counterpart,
        requested_by=employee,
        topic=Topic.QUARTERLY_REVIEW,
        state=TalkState.SCHEDULED,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
    )
    return Record.objects.create(
        talk=talk, organisation_id=employee.organisation_id, template_version=version
    )


def with_rating_section(definition: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(definition)
    changed["sections"].append(
        {
            "key": "teamwork",
            "title": {"zh-hans": "团队协作", "en": "Teamwork"},
            "filled_by": "manager",
            "fields": [
                {
                    "key": "score",
                    "type": "rating",
                    "min": 1,
                    "max": 3,
                    "label": {"zh-hans": "协作评分", "en": "Teamwork score"},
                    "anchors": {"1": {"zh-hans": "不足"}, "3": {"zh-hans": "出色"}},
                }
            ],
        }
    )
    return changed


def actions(hospital: Hospital, action: str, outcome: str = "ok") -> int:
    return AuditEvent.objects.filter(
        organisation_id=hospital.organisation.pk, action=action, outcome=outcome
    ).count()


# --- who reads -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hr_partner", "hr_cardiology", "admin"])
def test_hr_partners_and_administrators_read_the_templates(
    installed: Hospital, persona: str
) -> None:
    user = getattr(installed, persona).user

    listed = list(services.templates_visible_to(user))

    assert [t.key for t in listed] == sorted(spec.key for spec in builtin.BUILTINS)
    assert all(services.record_count(t) == 0 for t in listed)
    assert services.access_template(user, listed[0].pk) == listed[0]


@pytest.mark.parametrize("persona", ["doctor_li", "head_nurse", "head", "executive"])
def test_nobody_else_reads_templates(installed: Hospital, persona: str) -> None:
    user = getattr(installed, persona).user
    annual = template(installed, builtin.ANNUAL)

    assert not services.templates_visible_to(user).exists()
    with pytest.raises(PermissionDenied):
        services.access_template(user, annual.pk)
    assert actions(installed, "records.template.viewed", "denied") == 1


def test_templates_of_another_organisation_are_not_found(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    services.install_builtin_templates(other_org.organisation)
    foreign = Template.objects.filter(organisation=other_org.organisation).first()
    assert foreign is not None

    with pytest.raises(Http404):
        services.access_template(installed.hr_partner.user, foreign.pk)
    with pytest.raises(Http404):
        services.access_template(installed.hr_partner.user, 987654)


def test_record_count_counts_records_of_every_version(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)
    record_using(annual.current, installed.nurse_wang, installed.head_nurse)

    counted = services.templates_visible_to(installed.hr_partner.user).get(pk=annual.pk)

    assert services.record_count(counted) == 1
    assert services.record_count(annual) == 1


# --- who writes ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hr_cardiology", "doctor_li", "head", "executive"])
def test_only_hr_for_the_whole_organisation_and_administrators_change_templates(
    installed: Hospital, persona: str
) -> None:
    user = getattr(installed, persona).user
    annual = template(installed, builtin.ANNUAL)
    before = annual.current.definition

    attempts = [
        lambda: services.create_template(installed.organisation, actor=user, name="新模板"),
        lambda: services.update_definition(annual, with_rating_section(before), actor=user),
        lambda: services.rename_template(annual, actor=user, name="改名", description=""),
        lambda: services.set_topics(annual, [Topic.CAREER], actor=user),
        lambda: services.set_active(annual, False, actor=user),
        lambda: services.import_template(
            installed.organisation, services.export_template(annual), actor=user, replace=True
        ),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()

    annual.refresh_from_db()
    assert annual.current.definition == before and annual.is_active
    assert annual.name["zh-hans"] == "年度绩效面谈"
    denied = AuditEvent.objects.filter(
        organisation_id=installed.organisation.pk,
        action__startswith="records.template.",
        outcome="denied",
    )
    assert denied.count() == len(attempts)


def test_an_administrator_of_another_organisation_changes_nothing_here(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    # 冯涛 administers 星河科技.
    annual = template(installed, builtin.ANNUAL)

    with pytest.raises(PermissionDenied):
        services.set_active(annual, False, actor=other_org.employee.user)


# --- create ----------------------------------------------------------------------------------


def test_a_template_from_scratch_starts_with_one_open_question(installed: Hospital) -> None:
    made = services.create_template(
        installed.organisation,
        actor=installed.hr_partner.user,
        name={"zh-hans": "护理质量面谈", "en": "Nursing quality talk"},
        topics=[Topic.PROJECT_RECOGNITION],
    )

    assert made.key == "nursing_quality_talk"
    assert made.current is not None and made.current.number == 1
    assert made.current.created_by == installed.hr_partner
    starter = parse(services.starter_definition()).as_json()
    assert parse(made.current.definition).as_json() == starter
    assert made.topics == [Topic.PROJECT_RECOGNITION]
    assert actions(installed, "records.template.created") == 1


def test_a_copy_takes_the_questions_of_the_current_version(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)

    made = services.create_template(
        installed.organisation,
        actor=installed.admin.user,
        key="annual_nursing",
        name="护理部年度面谈",
        copy_from=annual,
    )

    assert made.current.definition == annual.current.definition
    assert made.builtin == builtin.ANNUAL and made.name == {"zh-hans": "护理部年度面谈"}


def test_a_chinese_name_alone_gives_a_numbered_key(installed: Hospital) -> None:
    user = installed.hr_partner.user

    first = services.create_template(installed.organisation, actor=user, name="面谈一")
    second = services.create_template(installed.organisation, actor=user, name="面谈二")

    assert (first.key, second.key) == ("template_1", "template_2")


def test_create_refuses_a_bad_name_key_or_definition_and_writes_nothing(
    installed: Hospital,
) -> None:
    count = Template.objects.count()

    with pytest.raises(InvalidDefinition) as refused:
        services.create_template(
            installed.organisation,
            actor=installed.hr_partner.user,
            key=builtin.ANNUAL,
            name="",
            topics=["weekly"],
            definition={"sections": [{"key": "a", "title": "甲", "fields": []}]},
        )

    assert set(refused.value.errors) == {"name", "key", "topics", "definition.sections[0].fields"}
    assert Template.objects.count() == count
    assert actions(installed, "records.template.created") == 0


# --- the questions and their versions ---------------------------------------------------------


def test_editing_an_unused_template_changes_its_version_in_place(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)
    changed = with_rating_section(annual.current.definition)

    version = services.update_definition(annual, changed, actor=installed.hr_partner.user)

    assert version.pk == annual.current_id and version.number == 1
    assert TemplateVersion.objects.filter(template=annual).count() == 1
    assert parse(version.definition).section("teamwork") is not None
    event = AuditEvent.objects.get(action="records.template.edited")
    assert event.data["new_version"] is False


def test_editing_a_template_in_use_makes_a_new_version_and_the_talk_keeps_its_own(
    installed: Hospital,
) -> None:
    annual = template(installed, builtin.ANNUAL)
    first = annual.current
    kept = record_using(first, installed.nurse_wang, installed.head_nurse)

    version = services.update_definition(
        annual, with_rating_section(first.definition), actor=installed.admin.user
    )

    annual.refresh_from_db()
    kept.refresh_from_db()
    first.refresh_from_db()
    assert (version.number, annual.current_id) == (2, version.pk)
    assert version.created_by == installed.admin
    assert kept.template_version_id == first.pk
    assert parse(first.definition).section("teamwork") is None
    assert AuditEvent.objects.get(action="records.template.edited").data["new_version"] is True
    # The new version is not in use yet: the next edit changes it in place.
    again = services.update_definition(
        annual, services.starter_definition(), actor=installed.admin.user
    )
    assert again.pk == version.pk and again.number == 2


def test_an_unchanged_definition_writes_nothing(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)

    services.update_definition(annual, annual.current.definition, actor=installed.admin.user)

    assert actions(installed, "records.template.edited") == 0


def test_a_bad_definition_is_refused_by_place_and_changes_nothing(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)
    before = annual.current.definition
    broken = copy.deepcopy(before)
    broken["sections"][1]["fields"][0]["type"] = "essay"
    broken["sections"][2]["key"] = "Plan!"

    with pytest.raises(InvalidDefinition) as refused:
        services.update_definition(annual, broken, actor=installed.admin.user)

    assert set(refused.value.errors) == {
        "definition.sections[1].fields[0].type",
        "definition.sections[2].key",
    }
    annual.current.refresh_from_db()
    assert annual.current.definition == before


def test_a_save_based_on_an_older_state_is_refused(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)
    seen = services.fingerprint(annual)
    services.update_definition(
        annual, with_rating_section(annual.current.definition), actor=installed.admin.user
    )

    with pytest.raises(ConflictError):
        services.update_definition(
            annual, services.starter_definition(), actor=installed.hr_partner.user, based_on=seen
        )

    annual.current.refresh_from_db()
    assert parse(annual.current.definition).section("teamwork") is not None


# --- name, topics, active --------------------------------------------------------------------


def test_rename_and_topics_are_audited_and_choose_the_template(installed: Hospital) -> None:
    user = installed.hr_partner.user
    annual = template(installed, builtin.ANNUAL)

    services.rename_template(
        annual, actor=user, name={"zh-hans": "年终面谈", "en": "Year-end"}, description=""
    )
    services.set_topics(annual, [Topic.CAREER, Topic.CAREER], actor=user)

    annual.refresh_from_db()
    assert annual.name == {"zh-hans": "年终面谈", "en": "Year-end"}
    assert annual.description == {}
    assert annual.topics == [Topic.CAREER]
    # The annual review comes before career_development by key.
    chosen = services.template_for_topic(installed.organisation, Topic.CAREER)
    assert chosen.template.key == builtin.ANNUAL
    assert actions(installed, "records.template.renamed") == 1
    assert actions(installed, "records.template.topics_changed") == 1


def test_unknown_topics_are_refused(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)

    with pytest.raises(InvalidDefinition) as refused:
        services.set_topics(annual, ["annual"], actor=installed.admin.user)

    assert "topics" in refused.value.errors


def test_a_deactivated_template_is_not_chosen_and_can_be_used_again(installed: Hospital) -> None:
    career = template(installed, builtin.CAREER)
    user = installed.admin.user

    services.set_active(career, False, actor=user)
    assert services.template_for_topic(installed.organisation, Topic.CAREER).template.key == (
        builtin.MONTHLY
    )

    services.set_active(career, True, actor=user)
    assert services.template_for_topic(installed.organisation, Topic.CAREER).template.key == (
        builtin.CAREER
    )
    assert actions(installed, "records.template.deactivated") == 1
    assert actions(installed, "records.template.reactivated") == 1


# --- export and import -------------------------------------------------------------------------


def test_export_then_import_elsewhere_gives_the_same_template(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    # 冯涛 administers 星河科技.
    promotion = template(installed, builtin.PROMOTION)
    document = json.loads(json.dumps(services.export_template(promotion), ensure_ascii=False))

    made, created = services.import_template(
        other_org.organisation, document, actor=other_org.employee.user
    )

    assert created
    assert document["format"] == services.FORMAT and document["version"] == 1
    assert (made.key, made.name, made.topics) == (
        builtin.PROMOTION,
        promotion.name,
        [Topic.PROMOTION],
    )
    assert made.current.definition == promotion.current.definition
    assert made.organisation == other_org.organisation
    assert services.export_filename(made) == "template-promotion_title-v1.json"


def test_importing_a_key_that_exists_is_refused_unless_replacing(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)
    record_using(annual.current, installed.nurse_wang, installed.head_nurse)
    document = services.export_template(annual)
    document["definition"] = with_rating_section(document["definition"])
    document["name"] = {"zh-hans": "年度面谈（新版）"}

    with pytest.raises(InvalidDefinition) as refused:
        services.import_template(installed.organisation, document, actor=installed.admin.user)
    assert set(refused.value.errors) == {"key"}

    made, created = services.import_template(
        installed.organisation, document, actor=installed.admin.user, replace=True
    )

    assert not created and made.pk == annual.pk
    made.refresh_from_db()
    assert made.current.number == 2 and made.name == {"zh-hans": "年度面谈（新版）"}
    assert actions(installed, "records.template.imported") == 1


def test_import_names_every_problem_by_place_in_chinese_and_writes_nothing(
    installed: Hospital,
) -> None:
    document = {
        "format": "something-else",
        "key": "Bad Key",
        "name": {"zh-hans": ""},
        "topics": ["weekly"],
        "definition": {
            "sections": [
                {
                    "key": "s",
                    "title": {"en": "S"},
                    "filled_by": "everyone",
                    "fields": [{"key": "f", "type": "rating", "label": "评分", "max": 20}],
                }
            ]
        },
    }
    count = Template.objects.count()

    with translation.override("zh-hans"), pytest.raises(InvalidDefinition) as refused:
        services.import_template(installed.organisation, document, actor=installed.admin.user)

    assert set(refused.value.errors) == {
        "format",
        "key",
        "name",
        "topics",
        "definition.sections[0].filled_by",
        "definition.sections[0].fields[0].max",
    }
    assert "键" in str(refused.value.errors["key"])
    assert Template.objects.count() == count


def test_read_document_explains_what_is_not_json() -> None:
    with pytest.raises(InvalidDefinition) as refused:
        services.read_document(b'{"format":\n oops}')
    assert "2" in str(refused.value.errors["file"])

    with pytest.raises(InvalidDefinition):
        services.read_document(b"\xff\xfe")

    assert services.read_document('{"a": 1}'.encode("utf-8-sig")) == {"a": 1}
