"""Talk rows built directly, for tests that do not go through the talk services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk, TalkActivity
from tests.personas import Hospital

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday morning on the ward.
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI)
TEN = datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)


def talk_between(hospital: Hospital, **fields: Any) -> Talk:
    """Nurse 王芳's quarterly review with her head nurse 周敏, requested by 王芳."""
    values: dict[str, Any] = {
        "organisation": hospital.organisation,
        "employee": hospital.nurse_wang,
        "counterpart": hospital.head_nurse,
        "requested_by": hospital.nurse_wang,
        "topic": "quarterly_review",
        "message": "想聊聊本季度的夜班安排",
        "location": "护理部示教室",
        "state": TalkState.REQUESTED,
        "awaiting": hospital.head_nurse,
    }
    values.update(fields)
    return Talk.objects.create(**values)


def booked_talk(hospital: Hospital, *, start: datetime = TEN, **fields: Any) -> Talk:
    values: dict[str, Any] = {
        "state": TalkState.SCHEDULED,
        "awaiting": None,
        "scheduled_start": start,
        "scheduled_end": start + timedelta(minutes=45),
        "agenda": [{"text": "本季度护理质量指标"}, {"text": "夜班后的休息安排"}],
    }
    values.update(fields)
    return talk_between(hospital, **values)


def step(talk: Talk, event: str, **fields: Any) -> Talk:
    """What `transition` does before it queues the messages: save the change, log the step."""
    for name, value in fields.items():
        setattr(talk, name, value)
    if fields:
        talk.save(update_fields=list(fields))
    TalkActivity.objects.create(talk=talk, event=event, to_state=talk.state)
    return talk
