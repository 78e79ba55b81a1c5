"""Talks of the demo organisation to try the record with (`seed_demo`): nurse 王晓燕's
quarterly review with her head nurse, started a few minutes ago, her self-assessment drafted;
and a career talk booked for the next working morning, which either of them can prepare."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone

from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.people.models import Employee, Organisation

from . import services
from .models import Block

NURSE = "h.nurse.wang"
HEAD_NURSE = "h.headnurse.zhang"


def seed_records(organisation: Organisation, *, now: datetime | None = None) -> list[Talk]:
    people = {
        e.user.username: e
        for e in Employee.objects.filter(
            organisation=organisation, user__username__in=(NURSE, HEAD_NURSE)
        ).select_related("user", "organisation")
    }
    if len(people) < 2:
        return []
    nurse, head_nurse = people[NURSE], people[HEAD_NURSE]
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    started = now - timedelta(minutes=10)
    review = Talk.objects.create(
        organisation=organisation,
        employee=nurse,
        counterpart=head_nurse,
        requested_by=head_nurse,
        initiation="manager",
        topic=Topic.QUARTERLY_REVIEW,
        state=TalkState.IN_PROGRESS,
        scheduled_start=started,
        scheduled_end=started + timedelta(minutes=45),
        location="护理部示教室",
        agenda=[
            {"text": "本季度护理质量指标", "source": "topic", "data": {}},
            {"text": "夜班交接与休息安排", "source": "own", "data": {}},
        ],
    )
    record = services.create_record(review)
    went_well = Block.objects.get(record=record, section="went_well", side="")
    services.save_block(
        record,
        went_well.pk,
        actor=nurse.user,
        values={
            "items": [
                {
                    "project": "静脉输液安全质控",
                    "completion": 90,
                    "key_behaviour": "每班双人核对，发现并纠正两次输液速度设置错误。",
                    "team_contribution": "整理了新版交接清单，全组使用。",
                }
            ]
        },
        base_version=went_well.version,
    )
    tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
    while tomorrow.weekday() >= 5:
        tomorrow += timedelta(days=1)
    start = datetime.combine(tomorrow, time(10), tzinfo=zone)
    career = Talk.objects.create(
        organisation=organisation,
        employee=nurse,
        counterpart=head_nurse,
        requested_by=nurse,
        topic=Topic.CAREER,
        state=TalkState.SCHEDULED,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
        location="护理部示教室",
    )
    return [review, career]
