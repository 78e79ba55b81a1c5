"""Emotion cues: the detector (each label, negation, minimal answers, sarcasm, both languages),
the message shown to the interviewer, the data files, and the organisation's switch."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.people.models import Organisation
from miantan.records import cues
from miantan.records.cues import Cue, cue_message, detect
from miantan.records.cues import text as cue_text
from miantan.records.cues.lexicon import DATA, LABELS, LexiconError, build, lexicon
from tests.personas import Hospital, OtherOrganisation


def labels(sentence: str, lang: str | None = None) -> set[str]:
    return {cue.label for cue in detect(sentence, lang)}


# --- each label, in both languages -------------------------------------------------------------
# None of these sentences is in the evaluation set.


@pytest.mark.parametrize(
    ("sentence", "label"),
    [
        ("这个月又被临时加了三个任务，我真的烦透了。", "frustration"),
        ("我对这次的排班结果很失望。", "frustration"),
        ("I'm really fed up with the rota changing every week.", "frustration"),
        ("It's so annoying that nobody asked us first.", "frustration"),
        ("最近压力特别大，每天都睡不着。", "distress"),
        ("我真的快撑不住了，家里工作两头忙。", "distress"),
        ("I've been so anxious I can't sleep.", "distress"),
        ("Honestly I feel overwhelmed by the new ward.", "distress"),
        ("我对这个项目没什么兴趣，混着吧。", "disengagement"),
        ("随便你们怎么安排吧。", "disengagement"),
        ("Honestly, whatever you decide.", "disengagement"),
        ("I'm not really interested in the training.", "disengagement"),
        ("这不是我的问题，是交接的人没说清楚。", "defensiveness"),
        ("又不是只有我一个人晚交。", "defensiveness"),
        ("It wasn't my fault, nobody told me about the change.", "defensiveness"),
        ("I did exactly what I was asked to do.", "defensiveness"),
    ],
)
def test_detect_names_each_label_in_both_languages(sentence: str, label: str) -> None:
    assert label in labels(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "谢谢你的反馈，我下周把改进计划发给你。",
        "这个季度的投诉率下降了一半。",
        "麻烦你帮我看一下这份报告。",  # 烦 inside 麻烦 is no cue
        "累计完成了一百二十例手术。",  # nor 累 inside 累计
        "Thanks, I'll send the plan on Friday.",
        "The data was made available last week.",  # nor "mad" inside "made"
        "Let me be crystal clear about the plan.",
        "We did an exhaustive review of the cases.",
        "系统崩溃了，我们重启了服务器。",  # a system's crash is nobody's distress
        "客户的痛点我们已经梳理好了。",
        "",
        "   ",
    ],
)
def test_detect_finds_nothing_in_a_neutral_sentence(sentence: str) -> None:
    assert detect(sentence) == []


# --- negation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("我很烦。", {"frustration"}),
        ("我不烦，你说得对。", set()),  # a negator cancels a cue word
        ("我不开心。", {"distress"}),  # and turns a positive word into one
        ("我没有不开心，只是比较忙。", set()),  # two negators cancel each other
        ("我不是不满意，只是想了解评分依据。", set()),
        ("我对结果不满意。", {"frustration"}),
        ("压力很大。", {"distress"}),
        ("压力不大，我能应付。", set()),  # a negation right after the cue word
        ("我一点都不累。", set()),
        ("之前很焦虑，现在已经调整过来了。", set()),  # resolved later in the sentence
    ],
)
def test_chinese_negation_flips_or_cancels(sentence: str, expected: set[str]) -> None:
    assert labels(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I'm stressed.", {"distress"}),
        ("I'm not stressed at all.", set()),
        ("I don't feel stressed about it.", set()),
        ("I'm not happy with the rating.", {"frustration"}),
        ("I'm not unhappy with the rating.", set()),
        ("It's not that I don't care.", set()),
        ("I don't care.", {"disengagement"}),
        ("The workload is manageable now.", set()),
    ],
)
def test_english_negation_reads_contractions(sentence: str, expected: set[str]) -> None:
    assert labels(sentence) == expected


def test_a_negator_inside_a_gap_breaks_the_phrase() -> None:
    assert "distress" in labels("压力实在太大了。")
    assert labels("压力也不算大。") == set()


# --- minimal answers, polite refusals, sarcasm -----------------------------------------------


@pytest.mark.parametrize(
    "answer", ["嗯。", "还行吧。", "嗯嗯，好吧。", "都行。", "fine.", "Whatever.", "I guess."]
)
def test_a_minimal_answer_is_disengagement(answer: str) -> None:
    assert labels(answer) == {"disengagement"}


@pytest.mark.parametrize(
    "answer",
    [
        "好的，我周五前发给你。",
        "嗯，我明白，我们试试这个方案。",
        "Fine, I'll draft it tonight and send it over.",
    ],
)
def test_an_answer_with_content_is_not_minimal(answer: str) -> None:
    assert "disengagement" not in labels(answer)


@pytest.mark.parametrize(
    "refusal",
    [
        "这个话题我暂时不想谈。",
        "不好意思，家里的事不太方便说。",
        "I'd rather not go into that today.",
        "Can we skip this part?",
    ],
)
def test_a_polite_refusal_is_disengagement(refusal: str) -> None:
    assert "disengagement" in labels(refusal)


@pytest.mark.parametrize(
    "sentence",
    [
        "太好了，周末又要加班。",
        "呵呵，反正说了也没用。",
        "Oh great, another round of paperwork.",
        "Yeah, right.",
    ],
)
def test_sarcasm_is_frustration(sentence: str) -> None:
    assert "frustration" in labels(sentence)


@pytest.mark.parametrize(
    "sentence", ["太好了，项目顺利上线了。", "Great work on the launch, thank you."]
)
def test_cheerful_words_alone_are_not_sarcasm(sentence: str) -> None:
    assert detect(sentence) == []


# --- whose feeling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    ["你最近工作压力大吗？", "有没有什么让你担心的地方？", "Are you feeling overwhelmed?"],
)
def test_an_interviewers_question_is_no_cue(sentence: str) -> None:
    assert detect(sentence) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "那位患者家属当时很生气，我先安抚了他。",
        "The customer was angry at first, so I called her back.",
    ],
)
def test_somebody_elses_feeling_is_no_cue(sentence: str) -> None:
    assert detect(sentence) == []


# --- the cue and its message --------------------------------------------------------------------


def test_a_cue_names_its_label_score_evidence_and_a_script() -> None:
    [cue] = detect("我真的受够了！")

    assert cue.label == "frustration"
    assert cue.score >= lexicon("zh").threshold
    assert cue.evidence == "受够"
    assert cue.script_hint
    with pytest.raises(dataclasses.FrozenInstanceError):
        cue.label = "distress"  # type: ignore[misc]


def test_intensifiers_raise_and_diminishers_lower_the_score() -> None:
    plain = detect("我很失望。")[0].score
    stronger = detect("我非常非常失望。")[0].score
    milder = detect("我有点失望。")[0].score

    assert milder < plain < stronger


def test_cues_are_strongest_first() -> None:
    found = detect("凭什么说是我的错？我已经尽力了！")

    assert found[0].label == "defensiveness"
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_the_language_is_chosen_by_the_text_or_given() -> None:
    assert labels("我很焦虑") == {"distress"}
    assert labels("I'm so anxious") == {"distress"}
    assert labels("我很焦虑", "zh-hans") == {"distress"}
    # Read with the English lexicon, a Chinese sentence has no cue words.
    assert labels("我很焦虑", "en") == set()


def test_cue_message_is_in_the_language_asked_for() -> None:
    cue = Cue(label="frustration", score=1.0, evidence="受够", script_hint="")

    chinese = cue_message(cue, "zh-hans")
    english = cue_message(cue, "en")

    assert chinese.startswith("对方可能感到沮丧或不满：")
    assert "先确认对方的感受" in chinese
    assert english.startswith("The other person may be frustrated. Acknowledge the feeling")


def test_every_label_has_a_message_in_both_languages() -> None:
    for label in LABELS:
        cue = Cue(label=label, score=1.0, evidence="", script_hint="")
        assert cue_message(cue, "zh-hans") != cue_message(cue, "en")


def test_the_script_hint_follows_the_active_language() -> None:
    with translation.override("zh-hans"):
        chinese = detect("我快撑不住了。")[0].script_hint
    with translation.override("en"):
        english = detect("我快撑不住了。")[0].script_hint

    assert chinese != english
    assert english.startswith("Slow down")


# --- the data files and the segmenter ------------------------------------------------------------


def test_the_lexicons_are_data_files_with_entries_for_every_label() -> None:
    for language in ("zh", "en"):
        raw = json.loads((DATA / f"{language}.json").read_text(encoding="utf-8"))
        assert set(raw["cues"]) == set(LABELS)
        assert all(len(words) >= 20 for words in raw["cues"].values())
        assert raw["negators"] and raw["intensifiers"] and raw["minimal_answers"]["patterns"]


def test_a_data_file_with_an_unknown_label_is_refused() -> None:
    raw = json.loads((DATA / "en.json").read_text(encoding="utf-8"))
    raw["cues"]["boredom"] = {"bored": 1.0}

    with pytest.raises(LexiconError, match="boredom"):
        build(raw)


def test_jieba_loads_once_quietly_with_its_cache_under_var(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cue_text, "_segmenter", None)

    detect("我很烦")
    first = cue_text._segmenter
    detect("我很累")

    assert cue_text._segmenter is first
    assert Path(first.tmp_dir) == Path(settings.VAR_DIR) / "cache"
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_detecting_touches_no_database(db: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        detect("我真的受够了，凭什么每次都是我？")
        detect("I'm exhausted and nobody told me.")


# --- the switch ----------------------------------------------------------------------------------


def switches(organisation: Organisation) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action="records.cues.switched", organisation_id=organisation.pk
        ).order_by("pk")
    )


def test_cues_are_on_by_default(hospital: Hospital) -> None:
    assert cues.is_enabled(hospital.organisation)
    assert not cues.is_enabled(None)


@pytest.mark.parametrize("who", ["admin", "hr_partner"])
def test_an_administrator_or_hr_for_the_whole_organisation_switches_cues(
    hospital: Hospital, who: str
) -> None:
    organisation = hospital.organisation
    actor = getattr(hospital, who).user

    cues.set_enabled(organisation, False, actor=actor)

    organisation.refresh_from_db()
    assert not cues.is_enabled(organisation)
    [event] = switches(organisation)
    assert event.outcome == "ok"
    assert event.actor_id == actor.pk
    assert event.data == {"enabled": False}

    cues.set_enabled(organisation, True, actor=actor)
    organisation.refresh_from_db()
    assert cues.is_enabled(organisation)
    assert [e.data for e in switches(organisation)] == [{"enabled": False}, {"enabled": True}]


def test_switching_to_the_same_state_changes_and_audits_nothing(hospital: Hospital) -> None:
    cues.set_enabled(hospital.organisation, True, actor=hospital.admin.user)

    assert switches(hospital.organisation) == []


@pytest.mark.parametrize("who", ["hr_cardiology", "head", "doctor_li", "executive"])
def test_nobody_else_switches_cues_and_the_refusal_is_audited(hospital: Hospital, who: str) -> None:
    organisation = hospital.organisation

    with pytest.raises(PermissionDenied):
        cues.set_enabled(organisation, False, actor=getattr(hospital, who).user)

    organisation.refresh_from_db()
    assert cues.is_enabled(organisation)
    [event] = switches(organisation)
    assert event.outcome == "denied"


def test_an_administrator_of_another_organisation_switches_nothing_here(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    with pytest.raises(PermissionDenied):
        cues.set_enabled(hospital.organisation, False, actor=other_org.employee.user)

    hospital.organisation.refresh_from_db()
    assert cues.is_enabled(hospital.organisation)
    assert not switches(hospital.organisation)


def test_a_switch_event_holds_no_sentence_and_no_label(hospital: Hospital) -> None:
    detect("我真的受够了。")
    cues.set_enabled(hospital.organisation, False, actor=hospital.admin.user)

    events = AuditEvent.objects.filter(action__startswith="records.cues")
    assert [e.data for e in events] == [{"enabled": False}]
