"""Records built for tests: a scheduled or started talk between nurse 王芳 and her head nurse
周敏, with its record opened from the quarterly review template."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import time_machine

from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk
from miantan.records import services
from miantan.records.models import Block, Record
from tests.notifications.builders import booked_talk
from tests.personas import Hospital

SHANGHAI = ZoneInfo("Asia/Shanghai")
TALK_AT = datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)


def scheduled_talk(hospital: Hospital, **fields: Any) -> Talk:
    return booked_talk(hospital, start=TALK_AT, **fields)


def started_record(hospital: Hospital, **fields: Any) -> Record:
    """The talk at its time, started by the head nurse: the record is in progress."""
    talk = scheduled_talk(hospital, **fields)
    with time_machine.travel(TALK_AT - timedelta(minutes=5), tick=False):
        return services.start_record(talk, actor=hospital.head_nurse.user)


def block_of(record: Record, section: str, side: str = "") -> Block:
    return Block.objects.get(record=record, section=section, side=side)


def sections_of(record: Record) -> list[str]:
    return list(record.blocks.order_by("position").values_list("section", flat=True).distinct())


__all__ = ["TalkState", "block_of", "scheduled_talk", "sections_of", "started_record"]
