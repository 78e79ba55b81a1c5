"""Talks for benchmarks: `per_employee` talks between every employee of the hospital who has a
manager and that manager, across the states a year of talks goes through (some waiting for an
answer, some booked, most held or ended). Bulk-inserted, not audited, no notifications: the
figures are about reading talks (the pages and the API), not about writing them. The same
database and day give the same rows."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from miantan.people.enums import EmploymentStatus
from miantan.people.models import Employee, Organisation

from .enums import Initiation, TalkState, Topic
from .models import Talk

# The k-th talk of a person: its state and how many days from today its time lies.
_PATTERN: tuple[tuple[str, int | None], ...] = (
    (TalkState.REQUESTED, None),
    (TalkState.NEGOTIATING, None),
    (TalkState.SCHEDULED, 5),
    (TalkState.SCHEDULED, 19),
    (TalkState.ARCHIVED, -30),
    (TalkState.ARCHIVED, -120),
    (TalkState.ARCHIVED, -210),
    (TalkState.ARCHIVED, -300),
    (TalkState.DECLINED, None),
    (TalkState.CANCELLED, -60),
)
_TOPICS = [topic.value for topic in Topic]
BATCH = 5000


def fill_talks(organisation: Organisation, *, per_employee: int, today: date | None = None) -> int:
    """Returns the number of talks written."""
    if per_employee <= 0:
        return 0
    today = today or timezone.localdate()
    zone = ZoneInfo(organisation.time_zone)
    pairs = (
        Employee.objects.filter(
            organisation=organisation, status=EmploymentStatus.ACTIVE, manager__isnull=False
        )
        .order_by("pk")
        .values_list("pk", "manager_id")
    )
    written = 0
    batch: list[Talk] = []
    with transaction.atomic():
        for employee_id, manager_id in pairs.iterator(chunk_size=BATCH):
            for k in range(per_employee):
                batch.append(_talk(organisation, employee_id, manager_id, k, today, zone))
            if len(batch) >= BATCH:
                Talk.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        Talk.objects.bulk_create(batch)
        written += len(batch)
    # A bulk load leaves the planner without statistics (it would scan every booked talk);
    # VACUUM (not allowed in a transaction) also lets PostgreSQL count from the index alone,
    # as it will once autovacuum has passed.
    table = Talk._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute(f"ANALYZE {table}")
    return written


def _talk(
    organisation: Organisation,
    employee_id: int,
    manager_id: int,
    k: int,
    today: date,
    zone: ZoneInfo,
) -> Talk:
    state, days = _PATTERN[k % len(_PATTERN)]
    start = None
    if days is not None:
        hour = 8 + (employee_id + k) % 9
        start = datetime.combine(today + timedelta(days=days), time(hour), tzinfo=zone)
    employee_asked = (employee_id + k) % 2 == 0
    waiting = state in (TalkState.REQUESTED, TalkState.NEGOTIATING)
    changed = datetime.combine(today - timedelta(days=k * 17 % 365), time(9), tzinfo=zone)
    return Talk(
        organisation=organisation,
        employee_id=employee_id,
        counterpart_id=manager_id,
        requested_by_id=employee_id if employee_asked else manager_id,
        initiation=Initiation.EMPLOYEE if employee_asked else Initiation.MANAGER,
        topic=_TOPICS[(employee_id + k) % len(_TOPICS)],
        duration_minutes=45,
        state=state,
        state_changed_at=changed,
        awaiting_id=(manager_id if employee_asked else employee_id) if waiting else None,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45) if start else None,
        uid=f"bench-{employee_id}-{k}@miantan",
        sequence=1 if state == TalkState.CANCELLED else 0,
        expires_at=changed + timedelta(days=7) if waiting else None,
    )
