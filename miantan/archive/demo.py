"""Signed talks of the demo organisation (`seed_demo`), so that the file, the exports and the
appeals can be tried at once: nurse 王晓燕's quarterly review of last quarter with her head
nurse, signed by both and archived; and her improvement talk of two weeks ago, which she
signed with a disagreement, so an appeal waits for HR. Made through the same services as in
use (both confirm, both sign with the demo password)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.people.models import Employee, Organisation
from miantan.records import services as records
from miantan.records.demo import HEAD_NURSE, NURSE
from miantan.records.models import Block, Record

from . import services

# What each section of a quarterly review holds, written by the employee (E) or manager (M).
FILLED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "went_well",
        "E",
        {
            "items": [
                {
                    "project": "病区压疮预防",
                    "completion": 95,
                    "key_behaviour": "每班翻身记录完整，高危患者零新发压疮。",
                }
            ]
        },
    ),
    ("to_improve", "E", {"items": [{"event": "一次夜班交接遗漏了输液余量"}]}),
    (
        "plan",
        "E",
        {
            "goals": [
                {
                    "goal": "夜班交接零遗漏",
                    "measure": "交接单每周抽查",
                    "due": "",
                    "support": "护士长每周反馈",
                }
            ]
        },
    ),
    ("manager", "M", {"assessment": "本季度护理质量稳定，带教主动。交接细节仍需加强。"}),
    ("agreement", "M", {"agreements": "下季度负责带教一名新护士；交接单改为双人核对。"}),
)


def seed_signed(organisation: Organisation, *, password: str, now: datetime | None = None) -> int:
    """The two signed talks; returns how many records were signed (0 without the two people)."""
    people = {
        e.user.username: e
        for e in Employee.objects.filter(
            organisation=organisation, user__username__in=(NURSE, HEAD_NURSE)
        ).select_related("user")
    }
    if len(people) < 2:
        return 0
    nurse, head_nurse = people[NURSE], people[HEAD_NURSE]
    now = now or timezone.now()
    archived = _confirmed(nurse, head_nurse, Topic.QUARTERLY_REVIEW, now - timedelta(days=40))
    services.sign_record(archived, actor=nurse.user, password=password)
    services.sign_record(archived, actor=head_nurse.user, password=password)
    appealed = _confirmed(nurse, head_nurse, Topic.QUARTERLY_REVIEW, now - timedelta(days=14))
    services.sign_record(
        appealed,
        actor=nurse.user,
        password=password,
        dissent=True,
        reason="交接遗漏那次是系统故障导致的，不应算在我的改进项里。",
    )
    services.sign_record(appealed, actor=head_nurse.user, password=password)
    return 2


def _confirmed(nurse: Employee, head_nurse: Employee, topic: str, held: datetime) -> Record:
    talk = Talk.objects.create(
        organisation_id=nurse.organisation_id,
        employee=nurse,
        counterpart=head_nurse,
        requested_by=head_nurse,
        initiation="manager",
        topic=topic,
        state=TalkState.IN_PROGRESS,
        scheduled_start=held,
        scheduled_end=held + timedelta(minutes=45),
        location="护理部示教室",
    )
    record = records.create_record(talk)
    writers = {"E": nurse.user, "M": head_nurse.user}
    for section, writer, values in FILLED:
        block = Block.objects.get(record=record, section=section, side="")
        records.save_block(
            record, block.pk, actor=writers[writer], values=values, base_version=block.version
        )
    for person, side in ((nurse, "employee"), (head_nurse, "manager")):
        block = Block.objects.get(record=record, section="overall", side=side)
        block = records.save_block(
            record, block.pk, actor=person.user, values={"rating": 4}, base_version=block.version
        )
        records.submit_block(record, block.pk, actor=person.user, base_version=block.version)
    for person in (nurse, head_nurse):
        record.refresh_from_db()
        records.confirm_record(record, actor=person.user, version=record.version)
    record.refresh_from_db()
    return record
