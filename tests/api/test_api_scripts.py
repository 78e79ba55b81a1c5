"""/api/v1/scripts: the talk script library, with the same services as HR's pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from miantan.audit.models import AuditEvent
from miantan.people.models import Employee
from miantan.records import scripts
from miantan.records.models import Script
from tests.factories import api_token_for
from tests.personas import Hospital, OtherOrganisation

BASE = "/api/v1/scripts"


@pytest.fixture
def installed(hospital: Hospital) -> Hospital:
    scripts.install_builtin_scripts(hospital.organisation)
    return hospital


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def send(client: Client, method: str, url: str, body: Any) -> Any:
    return client.generic(
        method, url, json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def first(hospital: Hospital, **filters: Any) -> Script:
    return (
        Script.objects.filter(organisation=hospital.organisation, **filters)
        .order_by("position", "pk")
        .first()
    )


def test_list_scripts_in_the_order_of_talks_with_both_texts(installed: Hospital) -> None:
    response = bearer(installed.hr_cardiology).get(BASE)

    assert response.status_code == 200
    listed = response.json()
    assert len(listed) == len(scripts.builtin_scripts())
    assert [row["position"] for row in listed] == sorted(row["position"] for row in listed)
    assert set(listed[0]) == {
        "id",
        "scenario",
        "stage",
        "emotion",
        "text",
        "is_active",
        "builtin",
        "position",
        "updated_at",
    }
    assert listed[0]["text"] == dict(scripts.builtin_scripts()[0].text)


def test_list_scripts_filtered(installed: Hospital) -> None:
    client = bearer(installed.hr_partner)

    response = client.get(BASE, {"scenario": "general", "stage": "empathy", "emotion": "distress"})

    assert {(r["scenario"], r["stage"], r["emotion"]) for r in response.json()} == {
        ("general", "empathy", "distress")
    }
    assert len(response.json()) == 4
    assert client.get(BASE, {"active": "false"}).json() == []


def test_list_scripts_reads_the_same_number_of_queries_for_few_and_many(
    hospital: Hospital,
) -> None:
    client = bearer(hospital.hr_partner)

    def count() -> int:
        client.get(BASE)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(BASE).status_code == 200
        return len(captured)

    scripts.create_script(
        hospital.organisation,
        actor=hospital.hr_partner.user,
        scenario="general",
        stage="opening",
        text="你好",
    )
    few = count()
    scripts.install_builtin_scripts(hospital.organisation)
    assert count() == few


@pytest.mark.parametrize("who", ["nurse_wang", "head_nurse", "executive"])
def test_the_library_is_not_for_employees_managers_or_executives(
    installed: Hospital, who: str
) -> None:
    client = bearer(getattr(installed, who))
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/{first(installed).pk}").status_code == 403


def test_get_script_of_another_organisation_is_404(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    scripts.install_builtin_scripts(other_org.organisation)
    foreign = Script.objects.filter(organisation=other_org.organisation).first()
    client = bearer(installed.hr_partner)

    assert client.get(f"{BASE}/{foreign.pk}").status_code == 404
    assert client.get(f"{BASE}/{first(installed).pk}").json()["id"] == first(installed).pk


def test_create_script(installed: Hospital) -> None:
    response = send(
        bearer(installed.admin),
        "POST",
        BASE,
        {
            "scenario": "monthly_check_in",
            "stage": "empathy",
            "emotion": "disengagement",
            "text": {"zh-hans": "这个月你好像不太有干劲，是哪里卡住了？", "en": ""},
        },
    )

    assert response.status_code == 201
    made = response.json()
    assert made["text"] == {"zh-hans": "这个月你好像不太有干劲，是哪里卡住了？"}
    assert (made["emotion"], made["builtin"], made["is_active"]) == ("disengagement", "", True)
    assert AuditEvent.objects.filter(action="records.script.created", outcome="ok").count() == 1


def test_create_script_with_problems_names_each_field_and_writes_nothing(
    installed: Hospital,
) -> None:
    before = Script.objects.count()

    response = send(
        bearer(installed.hr_partner),
        "POST",
        BASE,
        {"scenario": "fishing", "stage": "opening", "emotion": "distress", "text": ""},
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_script"
    assert set(body["errors"]) == {"scenario", "emotion", "text"}
    assert Script.objects.count() == before


def test_create_script_with_a_body_of_the_wrong_shape_is_400(installed: Hospital) -> None:
    response = send(bearer(installed.hr_partner), "POST", BASE, {"stage": "opening"})
    assert response.status_code == 400
    assert {"scenario", "text"} <= set(response.json()["errors"])


def test_create_script_refused_for_department_hr(installed: Hospital) -> None:
    before = Script.objects.count()
    response = send(
        bearer(installed.hr_cardiology),
        "POST",
        BASE,
        {"scenario": "general", "stage": "opening", "text": "你好"},
    )
    assert response.status_code == 403
    assert Script.objects.count() == before
    assert AuditEvent.objects.get(action="records.script.created").outcome == "denied"


def test_update_script_changes_only_what_is_sent(installed: Hospital) -> None:
    script = first(installed, stage="closing")
    scenario = script.scenario

    response = send(
        bearer(installed.hr_partner),
        "PUT",
        f"{BASE}/{script.pk}",
        {"text": {"zh-hans": "下周三再碰一次。", "en": "Let's meet again next Wednesday."}},
    )

    assert response.status_code == 200
    assert response.json()["scenario"] == scenario
    script.refresh_from_db()
    assert script.text == {"zh-hans": "下周三再碰一次。", "en": "Let's meet again next Wednesday."}


def test_update_script_to_another_stage_drops_its_emotion(installed: Hospital) -> None:
    script = first(installed, stage="empathy", emotion="distress")

    response = send(
        bearer(installed.hr_partner), "PUT", f"{BASE}/{script.pk}", {"stage": "closing"}
    )

    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["emotion"]) == ("closing", "")


def test_update_script_deactivates_and_all_or_nothing(installed: Hospital) -> None:
    script = first(installed)
    client = bearer(installed.admin)

    refused = send(client, "PUT", f"{BASE}/{script.pk}", {"is_active": False, "stage": "x"})
    assert refused.status_code == 400
    script.refresh_from_db()
    assert script.is_active

    done = send(client, "PUT", f"{BASE}/{script.pk}", {"is_active": False})
    assert done.status_code == 200 and done.json()["is_active"] is False
    assert AuditEvent.objects.filter(action="records.script.deactivated").count() == 1


def test_update_script_refused_for_department_hr_and_foreign_is_404(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    scripts.install_builtin_scripts(other_org.organisation)
    foreign = Script.objects.filter(organisation=other_org.organisation).first()
    script = first(installed)

    assert (
        send(bearer(installed.hr_cardiology), "PUT", f"{BASE}/{script.pk}", {"is_active": False})
    ).status_code == 403
    assert (
        send(bearer(installed.hr_partner), "PUT", f"{BASE}/{foreign.pk}", {"is_active": False})
    ).status_code == 404
    script.refresh_from_db()
    foreign.refresh_from_db()
    assert script.is_active and foreign.is_active
