"""Benchmark talks from `seed_demo --talks-per-employee`: one set per employee and manager."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from miantan.interviews.enums import BOOKED_STATES, OPEN_STATES
from miantan.interviews.models import Talk
from miantan.people.models import Employee

pytestmark = pytest.mark.django_db


def test_seed_demo_talks_per_employee_gives_each_employee_talks_with_their_manager() -> None:
    call_command("seed_demo", talks_per_employee=10, verbosity=0)

    with_manager = Employee.objects.filter(
        organisation__slug="hospital", manager__isnull=False, status="active"
    )
    talks = Talk.objects.filter(uid__startswith="bench-").select_related("employee")
    assert talks.count() == 10 * with_manager.count()
    assert all(t.counterpart_id == t.employee.manager_id for t in talks[:200])
    assert talks.filter(state__in=sorted(OPEN_STATES), awaiting__isnull=False).exists()
    booked = talks.filter(state__in=sorted(BOOKED_STATES))
    assert booked.exists() and not booked.filter(scheduled_start__isnull=True).exists()
    assert len(set(talks.values_list("uid", flat=True))) == talks.count()


def test_seed_demo_writes_only_the_talks_to_try_the_record_and_signing_with_by_default() -> None:
    call_command("seed_demo", verbosity=0)

    talks = Talk.objects.order_by("pk")
    assert [(t.employee.name, t.state) for t in talks] == [
        ("王晓燕", "in_progress"),
        ("王晓燕", "scheduled"),
        ("王晓燕", "archived"),  # signed by both (archive.demo)
        ("王晓燕", "awaiting_signatures"),  # signed with a disagreement: the appeal waits
    ]
    assert talks[0].record.blocks.filter(section="went_well", version=1).exists()
