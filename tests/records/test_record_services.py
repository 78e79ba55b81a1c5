"""The record of a talk: opened from the template, written by both sides without losing
text, commented, confirmed; a change after a confirmation withdraws it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError, InvalidFields
from miantan.interviews.enums import TalkState
from miantan.records import queries, services
from miantan.records.enums import RecordState, Side
from miantan.records.models import BlockRevision, Record
from tests.personas import Hospital
from tests.records.builders import TALK_AT, block_of, scheduled_talk, started_record

pytestmark = pytest.mark.django_db

WENT_WELL = {"items": [{"project": "静脉输液质控", "completion": 95, "key_behaviour": "每班核对"}]}
PLAN = {
    "goals": [
        {"goal": "夜班交接零差错", "measure": "交接单抽查", "due": "2026-06-30", "support": "培训"}
    ]
}
MANAGER = {"assessment": "本季度护理质量稳定，交接规范。"}
AGREEMENT = {"agreements": "下季度带教两名新护士。"}


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


def fill(record: Record, section: str, values: dict, actor, side: str = "") -> None:
    block = block_of(record, section, side)
    services.save_block(record, block.pk, actor=actor, values=values, base_version=block.version)


def filled_record(hospital: Hospital) -> Record:
    record = started_record(hospital)
    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    fill(record, "went_well", WENT_WELL, wang)
    fill(record, "to_improve", {"items": [{"event": "一次给药延误"}]}, wang)
    fill(record, "plan", PLAN, wang)
    fill(record, "manager", MANAGER, zhou)
    fill(record, "agreement", AGREEMENT, zhou)
    for actor, side in ((wang, Side.EMPLOYEE), (zhou, Side.MANAGER)):
        fill(record, "overall", {"rating": 4}, actor, side)
        block = block_of(record, "overall", side)
        services.submit_block(record, block.pk, actor=actor, base_version=block.version)
    record.refresh_from_db()
    return record


def test_starting_the_talk_opens_its_record_from_the_template_for_its_topic(hospital):
    record = started_record(hospital)
    assert record.state == RecordState.IN_PROGRESS
    assert record.talk.state == TalkState.IN_PROGRESS
    assert record.template_version.template.key == "quarterly_review"
    sections = set(record.blocks.values_list("section", "side"))
    assert ("went_well", "") in sections
    # The sealed overall rating has one copy per side.
    assert {("overall", Side.EMPLOYEE), ("overall", Side.MANAGER)} <= sections


def test_the_employee_prepares_before_the_talk(hospital):
    talk = scheduled_talk(hospital)
    with time_machine.travel(TALK_AT - timedelta(days=2), tick=False):
        record = services.open_record(talk, actor=hospital.nurse_wang.user)
        assert record.state == RecordState.PREPARING
        fill(record, "went_well", WENT_WELL, hospital.nurse_wang.user)
    assert block_of(record, "went_well").values == WENT_WELL


def test_a_save_based_on_an_old_version_is_refused_with_the_newer_text(hospital):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    zhou, wang = hospital.head_nurse.user, hospital.nurse_wang.user
    services.save_block(record, block.pk, actor=zhou, values=AGREEMENT, base_version=0)
    with pytest.raises(services.StaleBlock) as refused:
        services.save_block(
            record, block.pk, actor=wang, values={"agreements": "我的版本"}, base_version=0
        )
    assert refused.value.block.values == AGREEMENT
    assert "周敏" in refused.value.message
    assert block_of(record, "agreement").values == AGREEMENT


def test_a_side_cannot_write_the_other_sides_section(hospital):
    record = started_record(hospital)
    block = block_of(record, "manager")
    with pytest.raises(PermissionDenied):
        services.save_block(
            record, block.pk, actor=hospital.nurse_wang.user, values=MANAGER, base_version=0
        )
    assert AuditEvent.objects.filter(action="records.block.saved", outcome="denied").exists()


def test_bad_values_are_refused_and_change_nothing(hospital):
    record = started_record(hospital)
    block = block_of(record, "went_well")
    with pytest.raises(InvalidFields) as refused:
        services.save_block(
            record,
            block.pk,
            actor=hospital.nurse_wang.user,
            values={"items": [{"project": "x", "completion": 140}]},
            base_version=0,
        )
    assert "140" in str(refused.value.message)
    assert block_of(record, "went_well").version == 0
    assert not BlockRevision.objects.exists()


def test_every_save_is_kept_as_a_revision_and_typing_bursts_are_one(hospital):
    record = started_record(hospital)
    wang = hospital.nurse_wang.user
    fill(record, "agreement", {"agreements": "一"}, hospital.head_nurse.user)
    fill(record, "agreement", {"agreements": "一二"}, hospital.head_nurse.user)
    fill(record, "agreement", {"agreements": "一二三"}, wang)
    revisions = list(BlockRevision.objects.order_by("version").values_list("version", "values"))
    assert revisions == [(2, {"agreements": "一二"}), (3, {"agreements": "一二三"})]


def test_the_other_sides_sealed_rating_stays_hidden_until_both_handed_theirs_in(hospital):
    record = started_record(hospital)
    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    fill(record, "overall", {"rating": 3}, zhou, Side.MANAGER)
    block = block_of(record, "overall", Side.MANAGER)
    services.submit_block(record, block.pk, actor=zhou, base_version=block.version)

    def seen_by_wang():
        page = queries.access_record(wang, record.talk_id)
        section = next(s for s in page.sections if s.section.key == "overall")
        return {view.side: view.values for view in section.blocks}

    assert seen_by_wang()[Side.MANAGER] == {}
    fill(record, "overall", {"rating": 4}, wang, Side.EMPLOYEE)
    mine = block_of(record, "overall", Side.EMPLOYEE)
    services.submit_block(record, mine.pk, actor=wang, base_version=mine.version)
    assert seen_by_wang()[Side.MANAGER] == {"rating": 3}


def test_both_confirm_and_the_record_is_ready_to_sign(hospital):
    record = filled_record(hospital)
    services.confirm_record(record, actor=hospital.nurse_wang.user, version=record.version)
    record.refresh_from_db()
    assert record.state == RecordState.IN_PROGRESS
    services.confirm_record(record, actor=hospital.head_nurse.user, version=record.version)
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    assert record.talk.state == TalkState.AWAITING_SIGNATURES
    page = queries.access_record(hospital.nurse_wang.user, record.talk_id)
    assert page.locked
    with translation.override("en"):
        assert str(page.next_step) == "Both sides confirmed the record: it is ready to sign."


def test_a_change_after_a_confirmation_withdraws_it(hospital):
    record = filled_record(hospital)
    services.confirm_record(record, actor=hospital.nurse_wang.user, version=record.version)
    record.refresh_from_db()
    assert record.confirmed_by(Side.EMPLOYEE)
    fill(record, "agreement", {"agreements": "改为带教三名新护士。"}, hospital.head_nurse.user)
    record.refresh_from_db()
    assert not record.confirmed_by(Side.EMPLOYEE)
    assert AuditEvent.objects.filter(action="records.record.withdrawn").exists()


def test_confirming_an_older_reading_is_refused(hospital):
    record = filled_record(hospital)
    with pytest.raises(ConflictError):
        services.confirm_record(record, actor=hospital.nurse_wang.user, version=record.version - 1)


def test_confirming_needs_ones_required_fields(hospital):
    record = started_record(hospital)
    with pytest.raises(services.IncompleteRecord) as refused:
        services.confirm_record(record, actor=hospital.nurse_wang.user, version=record.version)
    assert "做得好的" in refused.value.message or "What went well" in refused.value.message


def test_hr_follows_and_comments_but_does_not_confirm(hospital):
    record = filled_record(hospital)
    hr = hospital.hr_partner.user
    page = queries.access_record(hr, record.talk_id)
    assert page.sections and not page.can_confirm
    services.add_comment(record, actor=hr, section="manager", body="请补充夜班质量数据。")
    with pytest.raises(PermissionDenied):
        services.confirm_record(record, actor=hr, version=record.version)


def test_someone_unrelated_gets_404(hospital):
    record = started_record(hospital)
    with pytest.raises(Http404):
        queries.access_record(hospital.zhao.user, record.talk_id)


def test_revisions_show_what_changed(hospital):
    record = started_record(hospital)
    fill(record, "agreement", {"agreements": "带教两名新护士。"}, hospital.head_nurse.user)
    fill(record, "agreement", {"agreements": "带教三名新护士。"}, hospital.nurse_wang.user)
    block = block_of(record, "agreement")
    _page, _section, revisions = queries.revisions_of(
        hospital.nurse_wang.user, record.talk_id, block.pk
    )
    newest = revisions[0]
    assert ("-", "Agreements: 带教两名新护士。") in newest.changes or any(
        mark == "-" and "两名" in line for mark, line in newest.changes
    )
    assert any(mark == "+" and "三名" in line for mark, line in newest.changes)


def test_a_booked_talk_starts_by_itself_at_its_time(hospital):
    talk = scheduled_talk(hospital)
    assert services.start_due_talks(now=TALK_AT - timedelta(minutes=1)) == 0
    assert services.start_due_talks(now=TALK_AT) == 1
    talk.refresh_from_db()
    assert talk.state == TalkState.IN_PROGRESS
    assert Record.objects.get(talk=talk).state == RecordState.IN_PROGRESS
    # A second worker finds nothing left to start.
    assert services.start_due_talks(now=TALK_AT) == 0


def test_a_record_prepared_before_the_talk_follows_it_when_it_starts_by_itself(hospital):
    talk = scheduled_talk(hospital)
    with time_machine.travel(TALK_AT - timedelta(days=1), tick=False):
        services.open_record(talk, actor=hospital.nurse_wang.user)
    services.start_due_talks(now=TALK_AT)
    assert Record.objects.get(talk=talk).state == RecordState.IN_PROGRESS
