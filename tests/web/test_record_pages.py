"""The record page: what each person sees and may do, saving sections by form and by
autosave, a stale save refused with the newer text shown and the typed text kept."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from miantan.interviews.enums import TalkState
from miantan.records.enums import RecordState, Side
from miantan.records.models import Block, Comment, Record
from tests.records.builders import TALK_AT, block_of, scheduled_talk, started_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


def page_of(record: Record) -> str:
    return reverse("web:record", args=[record.talk_id])


def save_url(block: Block) -> str:
    return reverse("web:record_block", args=[block.record.talk_id, block.pk])


def test_both_people_see_the_record_with_their_sections_to_fill(hospital, client_as):
    record = started_record(hospital)
    for person in (hospital.nurse_wang, hospital.head_nurse):
        response = client_as(person).get(page_of(record))
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-testid="section-went_well"' in html
        assert 'data-testid="confirm-bar"' in html
        assert 'data-testid="brief-link"' in html
    employee_page = client_as(hospital.nurse_wang).get(page_of(record)).content.decode()
    assert f'action="{save_url(block_of(record, "went_well"))}"' in employee_page
    assert f'action="{save_url(block_of(record, "manager"))}"' not in employee_page


def test_hr_sees_the_record_and_outsiders_get_404(hospital, client_as):
    record = started_record(hospital)
    assert client_as(hospital.hr_partner).get(page_of(record)).status_code == 200
    assert client_as(hospital.zhao).get(page_of(record)).status_code == 404


def test_saving_a_section_by_form(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "went_well")
    response = client_as(hospital.nurse_wang).post(
        save_url(block),
        {"version": "0", "entries": "1", "f-0-project": "静脉输液质控", "f-0-completion": "95"},
    )
    assert response.status_code == 302
    block.refresh_from_db()
    assert block.values == {"items": [{"project": "静脉输液质控", "completion": 95}]}
    assert block.version == 1


def test_adding_an_entry_and_a_goal(hospital, client_as):
    record = started_record(hospital)
    client = client_as(hospital.nurse_wang)
    block = block_of(record, "went_well")
    client.post(
        save_url(block), {"version": "0", "entries": "1", "f-0-project": "A", "add": "entry"}
    )
    block.refresh_from_db()
    assert block.values == {"items": [{"project": "A"}, {}]}
    plan = block_of(record, "plan")
    client.post(
        save_url(plan),
        {
            "version": "0",
            "f-goals-rows": "1",
            "f-goals-0-goal": "夜班交接零差错",
            "f-goals-0-due": "2026-06-30",
        },
    )
    plan.refresh_from_db()
    assert plan.values["goals"][0]["goal"] == "夜班交接零差错"
    html = client.get(page_of(record)).content.decode()
    # One empty row after the stored goal, to type the next one into.
    assert 'name="f-goals-1-goal"' in html


def test_autosave_answers_with_the_new_version(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    response = client_as(hospital.head_nurse).post(
        save_url(block), {"version": "0", "f-agreements": "带教两名新护士"}, HTTP_X_AUTOSAVE="1"
    )
    assert response.status_code == 200
    assert json.loads(response.content)["version"] == 1


def test_a_stale_save_is_refused_with_the_other_text_and_keeps_what_was_typed(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    client_as(hospital.head_nurse).post(
        save_url(block), {"version": "0", "f-agreements": "周敏的文字"}
    )
    response = client_as(hospital.nurse_wang).post(
        save_url(block), {"version": "0", "f-agreements": "王芳的文字"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="conflict"' in html
    assert "周敏的文字" in html  # theirs, shown
    assert "王芳的文字" in html  # mine, still in the form
    block.refresh_from_db()
    assert block.values == {"agreements": "周敏的文字"}
    autosave = client_as(hospital.nurse_wang).post(
        save_url(block), {"version": "0", "f-agreements": "王芳的文字"}, HTTP_X_AUTOSAVE="1"
    )
    assert autosave.status_code == 409
    answer = json.loads(autosave.content)
    assert answer["conflict"] and answer["version"] == 1
    assert any("周敏的文字" in line for line in answer["theirs"])


def test_an_invalid_value_is_shown_and_the_form_keeps_it(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "went_well")
    response = client_as(hospital.nurse_wang).post(
        save_url(block),
        {"version": "0", "entries": "1", "f-0-project": "A", "f-0-completion": "140"},
    )
    assert response.status_code == 400
    assert "140" in response.content.decode()
    block.refresh_from_db()
    assert block.version == 0


def test_the_employee_cannot_post_into_the_managers_section(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "manager")
    response = client_as(hospital.nurse_wang).post(
        save_url(block), {"version": "0", "f-assessment": "我替经理写"}
    )
    assert response.status_code == 403
    block.refresh_from_db()
    assert block.values == {}


def test_comment_and_confirm_by_the_pages(hospital, client_as):
    record = started_record(hospital)
    manager = client_as(hospital.head_nurse)
    manager.post(
        reverse("web:record_comment", args=[record.talk_id]),
        {"section": "went_well", "body": "请写上完成率"},
    )
    assert Comment.objects.filter(record=record, section="went_well").count() == 1
    html = client_as(hospital.nurse_wang).get(page_of(record)).content.decode()
    assert "请写上完成率" in html
    response = client_as(hospital.nurse_wang).post(
        reverse("web:record_confirm", args=[record.talk_id]), {"version": str(record.version)}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert not record.confirmed_by(Side.EMPLOYEE)  # required fields are still empty


def test_the_talk_page_leads_to_the_record(hospital, client_as):
    talk = scheduled_talk(hospital)
    client = client_as(hospital.nurse_wang)
    with time_machine.travel(TALK_AT - timedelta(days=1), tick=False):
        html = client.get(reverse("web:talk_detail", args=[talk.pk])).content.decode()
        assert 'data-testid="prepare-record"' in html
        response = client.post(reverse("web:record_open", args=[talk.pk]))
        assert response.status_code == 302
        assert response["Location"] == reverse("web:record", args=[talk.pk])
        assert Record.objects.get(talk=talk).state == RecordState.PREPARING
    with time_machine.travel(TALK_AT - timedelta(minutes=10), tick=False):
        response = client_as(hospital.head_nurse).post(reverse("web:talk_start", args=[talk.pk]))
        assert response["Location"] == reverse("web:record", args=[talk.pk])
    talk.refresh_from_db()
    assert talk.state == TalkState.IN_PROGRESS
    assert Record.objects.get(talk=talk).state == RecordState.IN_PROGRESS


def test_revisions_page_shows_the_changes(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    client_as(hospital.head_nurse).post(save_url(block), {"version": "0", "f-agreements": "两名"})
    client_as(hospital.nurse_wang).post(save_url(block), {"version": "1", "f-agreements": "三名"})
    response = client_as(hospital.nurse_wang).get(
        reverse("web:record_revisions", args=[record.talk_id, block.pk])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="revision"') == 2
    assert "三名" in html and "两名" in html


def test_the_sealed_rating_of_the_other_side_is_not_in_the_page(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "overall", Side.MANAGER)
    client_as(hospital.head_nurse).post(
        save_url(block), {"version": "0", "f-rating": "2", "f-reason": "保密理由XYZ"}
    )
    html = client_as(hospital.nurse_wang).get(page_of(record)).content.decode()
    assert "保密理由XYZ" not in html
    assert 'data-testid="sealed"' in html


def test_the_employee_asks_for_a_line_of_the_managers_text_to_be_corrected(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "manager")
    client_as(hospital.head_nurse).post(
        save_url(block), {"version": "0", "f-assessment": "本季度有两次交接遗漏。"}
    )
    employee = client_as(hospital.nurse_wang)
    html = employee.get(page_of(record)).content.decode()
    assert 'data-testid="flag"' in html
    line = "Review and assessment: 本季度有两次交接遗漏。"
    with translation.override("en"):
        response = employee.post(
            reverse("web:record_flag", args=[record.talk_id, block.pk]), {"line": line}
        )
    assert response.status_code == 302
    flag = Comment.objects.get(record=record, kind="correction")
    assert flag.quote == line and flag.block_id == block.pk
    manager_page = client_as(hospital.head_nurse).get(page_of(record)).content.decode()
    assert 'data-testid="flags"' in manager_page and "本季度有两次交接遗漏" in manager_page
    # A line that is not in the section is refused; the manager may not flag at all.
    employee.post(
        reverse("web:record_flag", args=[record.talk_id, block.pk]), {"line": "编造的一行"}
    )
    assert Comment.objects.filter(kind="correction").count() == 1
    refused = client_as(hospital.head_nurse).post(
        reverse("web:record_flag", args=[record.talk_id, block.pk]), {"line": line}
    )
    assert refused.status_code == 403


def test_the_live_fallback_answers_what_changed_since_a_stamp(hospital, client_as):
    record = started_record(hospital)
    client = client_as(hospital.nurse_wang)
    url = reverse("web:record_live", args=[record.talk_id])
    first = client.get(url).json()
    assert {s["section"] for s in first["sections"]} >= {"went_well", "agreement"}
    assert client.get(url, {"stamp": first["stamp"]}).json()["sections"] == []
    block = block_of(record, "agreement")
    client_as(hospital.head_nurse).post(save_url(block), {"version": "0", "f-agreements": "新约定"})
    changed = client.get(url, {"stamp": first["stamp"]}).json()
    agreement = next(s for s in changed["sections"] if s["section"] == "agreement")
    assert "新约定" in agreement["html"]
    assert agreement["blocks"][str(block.pk)]["version"] == 1
    assert client_as(hospital.zhao).get(url).status_code == 404
