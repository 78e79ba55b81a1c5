"""The demo organisation's follow-up (plans.demo, run by `seed_demo`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from miantan.plans.enums import ActionStatus, PlanState
from miantan.plans.models import ActionItem, CheckIn, ImprovementPlan, TrainingCourse

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_action_items_and_an_acknowledged_plan_with_a_check_in() -> None:
    with time_machine.travel(datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("Asia/Shanghai"))):
        call_command("seed_demo", verbosity=0)

    items = ActionItem.objects.filter(employee__name="王晓燕").order_by("due_on")
    assert items.count() == 4
    assert {i.status for i in items} == {
        ActionStatus.OPEN,
        ActionStatus.IN_PROGRESS,
        ActionStatus.DONE,
    }
    assert items.filter(talk__isnull=False).count() == 3
    plan = ImprovementPlan.objects.get()
    assert plan.state == PlanState.ACKNOWLEDGED and plan.acknowledged_version == 1
    assert plan.targets.exists()
    done = CheckIn.objects.filter(plan=plan, done_at__isnull=False)
    assert done.count() == 1 and done.get().percent == 40.0
    assert TrainingCourse.objects.count() == 2
