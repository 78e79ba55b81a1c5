"""Changing a rule: parameters validated per kind with translated errors per field, all or
nothing, audited; only HR for the whole organisation and administrators; and the scan's
spacing across workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import InvalidFields
from miantan.nudges.enums import NudgeKind
from miantan.nudges.params import clean, defaults
from miantan.nudges.services import preview, scan_if_due, update_rule

from .builders import NOW, TODAY, rule_of, training

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_every_kind_has_defaults_the_validation_accepts():
    for kind in NudgeKind.values:
        assert clean(kind, defaults(kind)) == defaults(kind)
    assert defaults(NudgeKind.PERIOD_END_LOW_KPI) == {
        "period_kind": "quarter",
        "days_before": 15,
        "threshold": 80,
    }
    assert defaults(NudgeKind.NO_TALK_FOR) == {"weeks": 8}
    assert defaults(NudgeKind.ACTION_DUE) == {"days_before": 3}


def test_parameters_are_refused_field_by_field_in_the_users_language():
    with translation.override("en"):
        with pytest.raises(InvalidFields) as refused:
            clean(
                NudgeKind.PERIOD_END_LOW_KPI,
                {"period_kind": "week", "days_before": "abc", "threshold": 0, "colour": "red"},
            )
        # Read while English is active: some messages are lazy until then.
        errors = {field: str(message) for field, message in refused.value.errors.items()}
    assert errors == {
        "period_kind": "Choose one of the options.",
        "days_before": "Enter a whole number from 1 to 90.",
        "threshold": "Enter a whole number from 1 to 200.",
        "colour": "This rule has no such setting.",
    }
    with translation.override("zh-hans"), pytest.raises(InvalidFields) as refused:
        clean(NudgeKind.NO_TALK_FOR, {"weeks": 1.5})
    assert "weeks" in refused.value.errors


def test_hr_for_the_whole_organisation_changes_a_rule_and_it_is_audited(hospital):
    rule = rule_of(hospital.organisation, NudgeKind.NO_TALK_FOR)

    update_rule(rule, actor=hospital.hr_partner.user, params={"weeks": "12"}, enabled=False)

    rule.refresh_from_db()
    assert rule.params == {"weeks": 12} and not rule.enabled
    assert rule.updated_by == hospital.hr_partner.user
    event = AuditEvent.objects.get(action="nudges.rule.updated", outcome="ok")
    assert event.data["params"] == {"weeks": 12}


def test_a_refused_value_changes_nothing(hospital):
    rule = rule_of(hospital.organisation, NudgeKind.NO_TALK_FOR)

    with pytest.raises(InvalidFields):
        update_rule(rule, actor=hospital.admin.user, params={"weeks": "0"}, enabled=False)

    rule.refresh_from_db()
    assert rule.params == {"weeks": 8} and rule.enabled


@pytest.mark.parametrize("persona", ["hr_cardiology", "head", "nurse_wang", "executive"])
def test_others_may_not_change_a_rule(hospital, persona):
    rule = rule_of(hospital.organisation, NudgeKind.NO_TALK_FOR)

    with pytest.raises(PermissionDenied):
        update_rule(rule, actor=getattr(hospital, persona).user, enabled=False)

    assert AuditEvent.objects.filter(action="nudges.rule.updated", outcome="denied").exists()


def test_another_organisations_administrator_may_not_change_a_rule(hospital, other_org):
    rule = rule_of(hospital.organisation, NudgeKind.NO_TALK_FOR)

    with pytest.raises(PermissionDenied):
        update_rule(rule, actor=other_org.employee.user, enabled=False)


def test_preview_counts_with_unsaved_settings_and_queues_nothing(hospital):
    training(hospital.nurse_wang, TODAY - timedelta(days=20))
    rule = rule_of(hospital.organisation, NudgeKind.TRAINING_FINISHED)

    assert preview(rule) == 0
    assert preview(rule, params={"days": 30}) == 1
    with pytest.raises(InvalidFields):
        preview(rule, params={"days": 0})
    rule.refresh_from_db()
    assert rule.params == {"days": 14}
    from miantan.notifications.models import Notification

    assert not Notification.objects.exists()


def test_the_worker_round_scans_at_most_once_every_few_minutes(hospital):
    training(hospital.nurse_wang, TODAY)

    first = scan_if_due(NOW)
    again = scan_if_due(NOW + timedelta(minutes=1))
    later = scan_if_due(NOW + timedelta(minutes=6))

    assert first is not None and first[NudgeKind.TRAINING_FINISHED] == 1
    assert again is None
    assert later is not None and later[NudgeKind.TRAINING_FINISHED] == 0


def test_the_worker_round_runs_the_scan(hospital):
    from miantan.notifications.management.commands.deliver_notifications import (
        run_round,
    )
    from miantan.notifications.models import Notification

    training(hospital.nurse_wang, TODAY)

    run_round()

    assert Notification.objects.filter(kind="nudge.training_finished").exists()


def test_scan_command_prints_the_counts(hospital, capsys):
    training(hospital.nurse_wang, TODAY)

    call_command("scan_nudges", organisation=hospital.organisation.pk)

    assert "training_finished: 1" in capsys.readouterr().out
