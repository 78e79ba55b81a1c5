"""The script library (C7): the built-ins every organisation gets, HR's changes, the scripts a
record's interviewer is offered, the empathy responses for a cue, one click into the notes."""

from __future__ import annotations

import importlib
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied
from django.http import Http404

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError
from miantan.interviews.enums import Topic
from miantan.records import scripts, scripts_queries
from miantan.records import templates as record_templates
from miantan.records.enums import (
    NoteTier,
    RecordState,
    ScriptEmotion,
    ScriptScenario,
    ScriptStage,
)
from miantan.records.models import Note, Record, Script, Template
from miantan.records.notes import note_text
from tests.personas import Hospital, OtherOrganisation
from tests.records.builders import TALK_AT, started_record

pytestmark = pytest.mark.django_db

TALK_KINDS = [s for s in ScriptScenario if s != ScriptScenario.GENERAL]


@pytest.fixture
def installed(hospital: Hospital) -> Hospital:
    scripts.install_builtin_scripts(hospital.organisation)
    return hospital


@pytest.fixture
def record(installed: Hospital) -> Record:
    """王芳's quarterly review with 周敏, in progress."""
    return started_record(installed, topic=Topic.QUARTERLY_REVIEW)


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


def of(hospital: Hospital) -> list[Script]:
    return list(Script.objects.filter(organisation=hospital.organisation))


# --- the built-ins ------------------------------------------------------------------------------


def test_builtin_scripts_six_per_kind_of_talk_and_stage_in_both_languages():
    counts = Counter(
        (s.scenario, s.stage)
        for s in scripts.builtin_scripts()
        if s.text.get("zh-hans", "").strip() and s.text.get("en", "").strip()
    )
    for scenario in TALK_KINDS:
        for stage in ScriptStage:
            assert counts[(scenario.value, stage.value)] >= 6, (scenario, stage)


def test_builtin_empathy_responses_answer_every_emotion_for_every_kind_of_talk():
    tagged = Counter(
        (s.scenario, s.emotion) for s in scripts.builtin_scripts() if s.stage == "empathy"
    )
    for scenario in ScriptScenario:
        for emotion in ScriptEmotion:
            assert tagged[(scenario.value, emotion.value)] >= 2, (scenario, emotion)
    assert not any(s.emotion for s in scripts.builtin_scripts() if s.stage != "empathy")


def test_builtin_scripts_have_distinct_keys_and_texts():
    shipped = scripts.builtin_scripts()
    assert len({s.key for s in shipped}) == len(shipped)
    assert len({s.text["zh-hans"] for s in shipped}) == len(shipped)
    assert len({s.text["en"] for s in shipped}) == len(shipped)


def test_install_builtin_scripts_gives_the_organisation_its_own_copy(
    hospital: Hospital, other_org: OtherOrganisation
):
    added = scripts.install_builtin_scripts(hospital.organisation)

    assert added == len(scripts.builtin_scripts()) == len(of(hospital))
    assert Script.objects.filter(organisation=other_org.organisation).count() == 0
    events = AuditEvent.objects.filter(action="records.script.installed")
    assert [(e.organisation_id, e.data) for e in events] == [
        (hospital.organisation.pk, {"scripts": added})
    ]


def test_install_builtin_scripts_again_adds_none_and_keeps_hr_changes(installed: Hospital):
    changed, retired, removed = of(installed)[:3]
    changed.text = {"zh-hans": "我们医院自己的开场白"}
    changed.save(update_fields=["text"])
    Script.objects.filter(pk=retired.pk).update(is_active=False)
    removed.delete()

    assert scripts.install_builtin_scripts(installed.organisation) == 1

    changed.refresh_from_db()
    retired.refresh_from_db()
    assert changed.text == {"zh-hans": "我们医院自己的开场白"}
    assert retired.is_active is False
    assert Script.objects.filter(organisation=installed.organisation).count() == len(
        scripts.builtin_scripts()
    )
    assert scripts.install_builtin_scripts(installed.organisation) == 0
    assert AuditEvent.objects.filter(action="records.script.installed").count() == 2


# --- HR changes the library -------------------------------------------------------------------


def test_create_script_by_hr_for_the_whole_organisation_is_audited(installed: Hospital):
    made = scripts.create_script(
        installed.organisation,
        actor=installed.hr_partner.user,
        scenario="general",
        stage="empathy",
        emotion="distress",
        text={"zh-hans": "  先喝口水，我们慢慢说。 ", "en": ""},
    )

    assert made.text == {"zh-hans": "先喝口水，我们慢慢说。"}
    assert made.position > max(s.position for s in of(installed) if s.pk != made.pk)
    event = AuditEvent.objects.get(action="records.script.created")
    assert event.object_id == str(made.pk) and event.outcome == "ok"
    assert event.data == {"scenario": "general", "stage": "empathy", "emotion": "distress"}


def test_create_script_takes_a_plain_string_as_chinese(installed: Hospital):
    made = scripts.create_script(
        installed.organisation,
        actor=installed.admin.user,
        scenario="career_development",
        stage="closing",
        text="下次我们聊聊进修的安排。",
    )
    assert made.text == {"zh-hans": "下次我们聊聊进修的安排。"}


@pytest.mark.parametrize(
    ("fields", "place"),
    [
        ({"scenario": "fishing"}, "scenario"),
        ({"stage": "middle"}, "stage"),
        ({"emotion": "anger", "stage": "empathy"}, "emotion"),
        ({"emotion": "distress", "stage": "opening"}, "emotion"),
        ({"text": {"zh-hans": "  ", "en": ""}}, "text"),
        ({"text": {"zh-hans": "好" * (scripts.MAX_TEXT + 1)}}, "text"),
        ({"text": ["一", "二"]}, "text"),
    ],
)
def test_create_script_refuses_bad_input_by_field_and_writes_nothing(
    installed: Hospital, fields: dict, place: str
):
    values = {"scenario": "general", "stage": "opening", "emotion": "", "text": "你好"} | fields
    before = len(of(installed))

    with pytest.raises(scripts.InvalidScript) as refused:
        scripts.create_script(installed.organisation, actor=installed.hr_partner.user, **values)

    assert list(refused.value.errors) == [place]
    assert len(of(installed)) == before
    assert not AuditEvent.objects.filter(action="records.script.created").exists()


@pytest.mark.parametrize("who", ["hr_cardiology", "head_nurse", "nurse_wang", "executive"])
def test_create_script_refused_for_anyone_but_hr_for_the_whole_organisation_and_admins(
    installed: Hospital, who: str
):
    with pytest.raises(PermissionDenied):
        scripts.create_script(
            installed.organisation,
            actor=getattr(installed, who).user,
            scenario="general",
            stage="opening",
            text="你好",
        )
    event = AuditEvent.objects.get(action="records.script.created")
    assert event.outcome == "denied"


def test_create_script_refused_in_another_organisation(
    installed: Hospital, other_org: OtherOrganisation
):
    with pytest.raises(PermissionDenied):
        scripts.create_script(
            other_org.organisation,
            actor=installed.hr_partner.user,
            scenario="general",
            stage="opening",
            text="你好",
        )
    assert not Script.objects.filter(organisation=other_org.organisation).exists()


def test_update_script_changes_it_and_is_audited(installed: Hospital):
    script = Script.objects.filter(organisation=installed.organisation, stage="opening").first()

    scripts.update_script(
        script,
        actor=installed.admin.user,
        scenario="general",
        stage="empathy",
        emotion="defensiveness",
        text={"zh-hans": "我不是在批评你。", "en": "I'm not criticising you."},
    )

    script.refresh_from_db()
    assert (script.scenario, script.stage, script.emotion) == (
        "general",
        "empathy",
        "defensiveness",
    )
    assert script.text == {"zh-hans": "我不是在批评你。", "en": "I'm not criticising you."}
    assert AuditEvent.objects.filter(action="records.script.edited", outcome="ok").count() == 1


def test_update_script_without_a_change_writes_nothing(installed: Hospital):
    script = of(installed)[0]

    scripts.update_script(
        script,
        actor=installed.hr_partner.user,
        scenario=script.scenario,
        stage=script.stage,
        emotion=script.emotion,
        text=dict(script.text),
    )

    assert not AuditEvent.objects.filter(action="records.script.edited").exists()


def test_update_script_refused_for_department_hr_changes_nothing(installed: Hospital):
    script = of(installed)[0]
    text = dict(script.text)

    with pytest.raises(PermissionDenied):
        scripts.update_script(
            script,
            actor=installed.hr_cardiology.user,
            scenario="general",
            stage="opening",
            text="改掉",
        )

    script.refresh_from_db()
    assert script.text == text
    assert AuditEvent.objects.get(action="records.script.edited").outcome == "denied"


def test_set_active_takes_a_script_out_of_talks_and_back(installed: Hospital, record: Record):
    opening = scripts_queries.scripts_for_scenario(installed.organisation.pk, "quarterly_review")[
        "opening"
    ][0]

    scripts.set_active(opening, False, actor=installed.hr_partner.user)
    offered = scripts_queries.scripts_for_scenario(installed.organisation.pk, "quarterly_review")
    assert opening.pk not in [s.pk for s in offered["opening"]]

    scripts.set_active(opening, True, actor=installed.hr_partner.user)
    offered = scripts_queries.scripts_for_scenario(installed.organisation.pk, "quarterly_review")
    assert offered["opening"][0].pk == opening.pk
    changes = AuditEvent.objects.filter(
        action__in=["records.script.deactivated", "records.script.reactivated"]
    ).order_by("pk")
    assert [e.action for e in changes] == [
        "records.script.deactivated",
        "records.script.reactivated",
    ]


# --- reading the library ------------------------------------------------------------------------


def test_scripts_visible_to_hr_filtered_and_nothing_for_others(installed: Hospital):
    hr = installed.hr_cardiology.user
    every = scripts_queries.scripts_visible_to(hr)
    distress = scripts_queries.scripts_visible_to(hr, stage="empathy", emotion="distress")

    assert every.count() == len(scripts.builtin_scripts())
    assert distress.count() == sum(1 for s in scripts.builtin_scripts() if s.emotion == "distress")
    assert {s.emotion for s in distress} == {"distress"}
    assert scripts_queries.scripts_visible_to(hr, active=False).count() == 0
    assert scripts_queries.scripts_visible_to(installed.head_nurse.user).count() == 0
    assert scripts_queries.scripts_visible_to(installed.executive.user).count() == 0


def test_access_script_foreign_is_404_and_non_hr_is_refused(
    installed: Hospital, other_org: OtherOrganisation
):
    scripts.install_builtin_scripts(other_org.organisation)
    foreign = Script.objects.filter(organisation=other_org.organisation).first()
    own = of(installed)[0]

    assert scripts_queries.access_script(installed.hr_cardiology.user, own.pk) == own
    with pytest.raises(Http404):
        scripts_queries.access_script(installed.hr_partner.user, foreign.pk)
    with pytest.raises(Http404):
        scripts_queries.access_script(installed.hr_partner.user, "abc")
    with pytest.raises(PermissionDenied):
        scripts_queries.access_script(installed.nurse_wang.user, own.pk)
    assert AuditEvent.objects.get(action="records.script.viewed").outcome == "denied"


# --- during a talk ------------------------------------------------------------------------------


def test_scenario_of_a_record_follows_its_template_then_its_topic(
    installed: Hospital, record: Record
):
    assert scripts_queries.scenario_of(record) == "quarterly_review"

    template = record.template_version.template
    Template.objects.filter(pk=template.pk).update(key="night_shift_talk", builtin="")
    record = Record.objects.select_related("template_version__template", "talk").get(pk=record.pk)
    assert scripts_queries.scenario_of(record) == "quarterly_review"  # the talk's topic
    record.talk.topic = Topic.PROMOTION
    assert scripts_queries.scenario_of(record) == "career_development"
    record.talk.topic = Topic.OTHER
    assert scripts_queries.scenario_of(record) == "monthly_check_in"


def test_scripts_for_scenario_by_stage_in_the_order_of_a_talk(installed: Hospital):
    grouped = scripts_queries.scripts_for_scenario(installed.organisation.pk, "improvement_talk")

    assert list(grouped) == ["opening", "open_question", "empathy", "closing"]
    assert {s.scenario for s in grouped["opening"]} == {"improvement_talk"}
    empathy = grouped["empathy"]
    kinds = [s.scenario for s in empathy]
    # The kind's own responses first, then those for any talk.
    assert kinds == sorted(kinds, key=lambda kind: kind != "improvement_talk")
    assert {"improvement_talk", "general"} == set(kinds)


def test_scripts_for_scenario_leaves_out_other_organisations(
    installed: Hospital, other_org: OtherOrganisation
):
    scripts.create_script(
        installed.organisation,
        actor=installed.hr_partner.user,
        scenario="annual_review",
        stage="opening",
        text="医院的开场白",
    )
    grouped = scripts_queries.scripts_for_scenario(other_org.organisation.pk, "annual_review")
    assert grouped == {}


def test_scripts_for_cue_offers_empathy_for_that_emotion_kind_of_talk_first(installed: Hospital):
    found = scripts_queries.scripts_for_cue(
        installed.organisation, "frustration", "en", scenario="improvement_talk"
    )

    assert found and {(s.stage, s.emotion) for s in found} == {("empathy", "frustration")}
    kinds = [s.scenario for s in found]
    assert kinds[:2] == ["improvement_talk", "improvement_talk"]
    assert kinds[2] == "general"
    assert found[0].text_in("en").startswith("I can hear")


def test_scripts_for_cue_prefers_scripts_written_in_the_language(installed: Hospital):
    chinese_only = scripts.create_script(
        installed.organisation,
        actor=installed.hr_partner.user,
        scenario="general",
        stage="empathy",
        emotion="disengagement",
        text="你今天好像不太想聊，我们可以换个时间。",
    )
    Script.objects.filter(pk=chinese_only.pk).update(position=0)

    in_english = scripts_queries.scripts_for_cue(installed.organisation.pk, "disengagement", "en")
    in_chinese = scripts_queries.scripts_for_cue(
        installed.organisation.pk, "disengagement", "zh-hans"
    )

    assert in_chinese[0].pk == chinese_only.pk
    assert in_english[0].pk != chinese_only.pk
    assert chinese_only.pk in [s.pk for s in in_english]


def test_scripts_for_cue_unknown_label_or_deactivated_has_none(installed: Hospital):
    assert scripts_queries.scripts_for_cue(installed.organisation, "none", "zh-hans") == []
    Script.objects.filter(organisation=installed.organisation, emotion="distress").update(
        is_active=False
    )
    assert scripts_queries.scripts_for_cue(installed.organisation, "distress", "zh-hans") == []


def test_insert_script_adds_a_private_note_of_the_interviewer(installed: Hospital, record: Record):
    script = scripts_queries.scripts_for_scenario(installed.organisation.pk, "quarterly_review")[
        "open_question"
    ][0]

    note = scripts.insert_script(record, script.pk, actor=installed.head_nurse.user, language="en")

    assert note.tier == NoteTier.PRIVATE and note.author == installed.head_nurse
    assert note_text(note) == script.text["en"]
    added = AuditEvent.objects.get(action="records.note.added")
    # Which script, and so which emotion it answers, is nowhere in the trail.
    assert added.data == {"tier": "private"}
    assert (
        not AuditEvent.objects.filter(action__startswith="records.script.")
        .exclude(action="records.script.installed")
        .exists()
    )


def test_insert_script_in_the_active_language_by_default(installed: Hospital, record: Record):
    script = of(installed)[0]
    note = scripts.insert_script(record, script.pk, actor=installed.head_nurse.user)
    assert note_text(note) == script.text["zh-hans"]


@pytest.mark.parametrize("who", ["nurse_wang", "hr_partner", "admin"])
def test_insert_script_refused_to_anyone_but_the_interviewer(
    installed: Hospital, record: Record, who: str
):
    with pytest.raises(PermissionDenied):
        scripts.insert_script(record, of(installed)[0].pk, actor=getattr(installed, who).user)

    assert not Note.objects.exists()
    refused = AuditEvent.objects.get(action="records.note.added")
    assert refused.outcome == "denied" and refused.subject_id == installed.nurse_wang.pk


def test_insert_script_of_another_organisation_is_404(
    installed: Hospital, record: Record, other_org: OtherOrganisation
):
    scripts.install_builtin_scripts(other_org.organisation)
    foreign = Script.objects.filter(organisation=other_org.organisation).first()

    with pytest.raises(Http404):
        scripts.insert_script(record, foreign.pk, actor=installed.head_nurse.user)
    assert not Note.objects.exists()


def test_insert_script_deactivated_is_refused(installed: Hospital, record: Record):
    script = of(installed)[0]
    scripts.set_active(script, False, actor=installed.hr_partner.user)

    with pytest.raises(ConflictError):
        scripts.insert_script(record, script.pk, actor=installed.head_nurse.user)
    assert not Note.objects.exists()


def test_insert_script_after_confirmation_is_refused(installed: Hospital, record: Record):
    Record.objects.filter(pk=record.pk).update(state=RecordState.CONFIRMED)
    record.refresh_from_db()

    assert scripts_queries.may_use(installed.head_nurse.user, record)
    assert not scripts_queries.may_insert(installed.head_nurse.user, record)
    with pytest.raises(ConflictError):
        scripts.insert_script(record, of(installed)[0].pk, actor=installed.head_nurse.user)
    assert not Note.objects.exists()


def test_builtin_templates_and_scripts_name_the_same_kinds_of_talk(hospital: Hospital):
    record_templates.install_builtin_templates(hospital.organisation)
    keys = set(
        Template.objects.filter(organisation=hospital.organisation).values_list("key", flat=True)
    )
    assert set(scripts_queries.SCENARIO_OF_TEMPLATE) == keys
    assert {s.value for s in TALK_KINDS} <= keys


def test_the_migration_gives_existing_organisations_the_builtins_once(
    hospital: Hospital, other_org: OtherOrganisation
):
    migration = importlib.import_module("miantan.records.migrations.0003_scripts")
    scripts.install_builtin_scripts(other_org.organisation)
    changed = Script.objects.filter(organisation=other_org.organisation).first()
    Script.objects.filter(pk=changed.pk).update(text={"zh-hans": "星河科技自己的话"})

    migration.install_for_existing_organisations(django_apps, None)

    shipped = len(scripts.builtin_scripts())
    assert Script.objects.filter(organisation=hospital.organisation).count() == shipped
    assert Script.objects.filter(organisation=other_org.organisation).count() == shipped
    changed.refresh_from_db()
    assert changed.text == {"zh-hans": "星河科技自己的话"}
    assert scripts.install_builtin_scripts(hospital.organisation) == 0
