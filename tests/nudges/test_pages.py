"""HR's nudge page and the API: the list with switches and last runs, the editor with its
validation and preview, and who may do what."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from miantan.nudges.enums import NudgeKind
from miantan.nudges.models import NudgeRule
from miantan.nudges.services import scan

from .builders import NOW, TODAY, rule_of, training

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_hr_sees_every_rule_with_its_last_run(hospital, client_as):
    training(hospital.nurse_wang, TODAY)
    scan(hospital.organisation)

    page = client_as(hospital.hr_partner).get(reverse("web:nudge_rules"))

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="nudge-rule"') == len(NudgeKind.values)
    assert 'data-testid="switch-nudge-rule"' in html
    rule = rule_of(hospital.organisation, NudgeKind.TRAINING_FINISHED)
    assert rule.last_count == 1
    # The HR navigation links to the page.
    assert f'href="{reverse("web:nudge_rules")}"' in html


def test_department_hr_reads_the_rules_without_switches(hospital, client_as):
    page = client_as(hospital.hr_cardiology).get(reverse("web:nudge_rules"))

    assert page.status_code == 200
    assert 'data-testid="switch-nudge-rule"' not in page.content.decode()
    assert 'data-testid="nudges-read-only"' in page.content.decode()


def test_employees_get_403(hospital, client_as):
    assert client_as(hospital.nurse_wang).get(reverse("web:nudge_rules")).status_code == 403


def test_the_editor_saves_valid_settings(hospital, client_as):
    rule = rule_of(hospital.organisation, NudgeKind.ACTION_DUE)

    answer = client_as(hospital.admin).post(
        reverse("web:nudge_rule", args=[rule.pk]),
        {"op": "save", "days_before": "5", "enabled": "on", "name": "行动项到期提醒"},
    )

    assert answer.status_code == 302
    rule.refresh_from_db()
    assert rule.params == {"days_before": 5} and rule.enabled and rule.name == "行动项到期提醒"


def test_the_editor_puts_errors_on_the_inputs_and_saves_nothing(hospital, client_as):
    rule = rule_of(hospital.organisation, NudgeKind.ACTION_DUE)

    answer = client_as(hospital.hr_partner).post(
        reverse("web:nudge_rule", args=[rule.pk]), {"op": "save", "days_before": "99"}
    )

    assert answer.status_code == 400
    assert "0" in answer.content.decode() and "60" in answer.content.decode()
    rule.refresh_from_db()
    assert rule.params == {"days_before": 3} and rule.enabled


def test_the_editor_previews_unsaved_settings(hospital, client_as):
    training(hospital.nurse_wang, TODAY - timedelta(days=20))
    rule = rule_of(hospital.organisation, NudgeKind.TRAINING_FINISHED)
    client = client_as(hospital.hr_partner)

    shown = client.get(reverse("web:nudge_rule", args=[rule.pk]))
    previewed = client.post(
        reverse("web:nudge_rule", args=[rule.pk]), {"op": "preview", "days": "30"}
    )

    assert shown.context["preview"] == 0
    assert previewed.status_code == 200 and previewed.context["preview"] == 1
    rule.refresh_from_db()
    assert rule.params == {"days": 14}


def test_the_switch_turns_a_rule_off(hospital, client_as):
    rule = rule_of(hospital.organisation, NudgeKind.NO_TALK_FOR)

    answer = client_as(hospital.hr_partner).post(
        reverse("web:nudge_rule_switch", args=[rule.pk]), {"enabled": "0"}
    )

    assert answer.status_code == 302
    rule.refresh_from_db()
    assert not rule.enabled


def test_a_foreign_rule_is_not_found(hospital, other_org, client_as):
    foreign = rule_of(other_org.organisation, NudgeKind.NO_TALK_FOR)

    answer = client_as(hospital.hr_partner).get(reverse("web:nudge_rule", args=[foreign.pk]))

    assert answer.status_code == 404


def test_the_list_takes_the_same_queries_with_few_and_many_runs(hospital, client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_as(hospital.hr_partner)
    client.get(reverse("web:nudge_rules"))
    with CaptureQueriesContext(connection) as before:
        client.get(reverse("web:nudge_rules"))
    training(hospital.nurse_wang, TODAY)
    scan(hospital.organisation)
    with CaptureQueriesContext(connection) as after:
        client.get(reverse("web:nudge_rules"))

    assert len(after) == len(before)


# --- the API ------------------------------------------------------------------------------------


def test_api_lists_the_rules_with_their_settings(hospital, client_as):
    answer = client_as(hospital.hr_cardiology).get("/api/v1/nudge-rules")

    assert answer.status_code == 200
    kinds = {rule["kind"]: rule for rule in answer.json()}
    assert set(kinds) == set(NudgeKind.values)
    assert kinds["period_end_low_kpi"]["params"] == {
        "period_kind": "quarter",
        "days_before": 15,
        "threshold": 80,
    }


def test_api_updates_a_rule(hospital, client_as):
    rule = rule_of(hospital.organisation, NudgeKind.PLAN_MILESTONE)

    answer = client_as(hospital.hr_partner).put(
        f"/api/v1/nudge-rules/{rule.pk}",
        json.dumps({"params": {"days_before": 7}, "enabled": False}),
        content_type="application/json",
    )

    assert answer.status_code == 200
    assert answer.json()["params"] == {"days_before": 7} and not answer.json()["enabled"]


def test_api_refuses_bad_settings_by_field(hospital, client_as):
    rule = rule_of(hospital.organisation, NudgeKind.PLAN_MILESTONE)

    answer = client_as(hospital.hr_partner).put(
        f"/api/v1/nudge-rules/{rule.pk}",
        json.dumps({"params": {"days_before": -1}, "enabled": False}),
        content_type="application/json",
    )

    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"days_before"}
    assert NudgeRule.objects.get(pk=rule.pk).enabled


def test_api_department_hr_may_not_update(hospital, client_as):
    rule = rule_of(hospital.organisation, NudgeKind.PLAN_MILESTONE)

    answer = client_as(hospital.hr_cardiology).put(
        f"/api/v1/nudge-rules/{rule.pk}",
        json.dumps({"enabled": False}),
        content_type="application/json",
    )

    assert answer.status_code == 403


def test_api_previews_a_rule(hospital, client_as):
    training(hospital.nurse_wang, TODAY)
    rule = rule_of(hospital.organisation, NudgeKind.TRAINING_FINISHED)

    answer = client_as(hospital.hr_partner).get(f"/api/v1/nudge-rules/{rule.pk}/preview")

    assert answer.json() == {"rule": rule.pk, "people": 1}
