"""/api/v1/templates: the talk record templates, with the same services as HR's pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from miantan.audit.models import AuditEvent
from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.people.models import Employee
from miantan.records import builtin
from miantan.records import templates as services
from miantan.records.definitions import parse
from miantan.records.models import Record, Template
from tests.factories import api_token_for
from tests.personas import Hospital, OtherOrganisation

BASE = "/api/v1/templates"


@pytest.fixture
def installed(hospital: Hospital) -> Hospital:
    services.install_builtin_templates(hospital.organisation)
    return hospital


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def send(client: Client, method: str, url: str, body: Any) -> Any:
    return client.generic(
        method, url, json.dumps(body, ensure_ascii=False), content_type="application/json"
    )


def template(hospital: Hospital, key: str) -> Template:
    return Template.objects.select_related("current").get(
        organisation=hospital.organisation, key=key
    )


def record_using(hospital: Hospital, t: Template) -> Record:
    start = timezone.now() + timedelta(days=1)
    talk = Talk.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        counterpart=hospital.head_nurse,
        requested_by=hospital.nurse_wang,
        topic=Topic.QUARTERLY_REVIEW,
        state=TalkState.SCHEDULED,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
    )
    return Record.objects.create(
        talk=talk, organisation=hospital.organisation, template_version=t.current
    )


# --- reads -------------------------------------------------------------------------------------


def test_hr_lists_the_templates(installed: Hospital) -> None:
    response = bearer(installed.hr_cardiology).get(BASE)

    assert response.status_code == 200
    rows = response.json()
    assert [row["key"] for row in rows] == sorted(spec.key for spec in builtin.BUILTINS)
    quarterly = next(row for row in rows if row["key"] == builtin.QUARTERLY)
    assert quarterly["topics"] == [Topic.QUARTERLY_REVIEW]
    assert quarterly["version"] == 1 and quarterly["records"] == 0 and quarterly["is_active"]
    assert quarterly["name"] == {"zh-hans": "季度绩效面谈", "en": "Quarterly review"}


@pytest.mark.parametrize("persona", ["doctor_li", "head", "executive"])
def test_others_may_not_list_or_read_templates(installed: Hospital, persona: str) -> None:
    client = bearer(getattr(installed, persona))
    annual = template(installed, builtin.ANNUAL)

    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/{annual.pk}").status_code == 403
    assert client.get(f"{BASE}/{annual.pk}/export").status_code == 403


def test_a_template_reads_with_its_definition_fingerprint_and_versions(installed: Hospital) -> None:
    annual = template(installed, builtin.ANNUAL)
    record_using(installed, annual)

    body = bearer(installed.admin).get(f"{BASE}/{annual.pk}").json()

    assert body["definition"] == annual.current.definition
    assert body["fingerprint"] == services.fingerprint(annual)
    assert body["versions"] == [
        {"number": 1, "created_at": body["versions"][0]["created_at"], "records": 1}
    ]
    assert body["records"] == 1


def test_templates_of_another_organisation_answer_404(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    services.install_builtin_templates(other_org.organisation)
    foreign = Template.objects.filter(organisation=other_org.organisation).first()
    assert foreign is not None
    client = bearer(installed.hr_partner)

    assert client.get(f"{BASE}/{foreign.pk}").status_code == 404
    assert send(client, "PUT", f"{BASE}/{foreign.pk}", {"is_active": False}).status_code == 404
    assert client.get(f"{BASE}/987654/export").status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_active


# --- writes ------------------------------------------------------------------------------------


def test_create_from_scratch_and_as_a_copy(installed: Hospital) -> None:
    client = bearer(installed.hr_partner)
    annual = template(installed, builtin.ANNUAL)

    scratch = send(client, "POST", BASE, {"name": {"zh-hans": "夜班沟通", "en": "Night shift"}})
    copy = send(
        client,
        "POST",
        BASE,
        {"name": "护理部年度面谈", "key": "annual_nursing", "copy_from_id": annual.pk},
    )

    assert scratch.status_code == 201, scratch.json()
    assert scratch.json()["key"] == "night_shift"
    assert scratch.json()["definition"] == parse(services.starter_definition()).as_json()
    assert copy.status_code == 201
    assert copy.json()["definition"] == annual.current.definition
    assert copy.json()["builtin"] == builtin.ANNUAL


def test_create_refuses_bad_input_with_every_place(installed: Hospital) -> None:
    count = Template.objects.count()

    response = send(
        bearer(installed.admin),
        "POST",
        BASE,
        {
            "name": "",
            "key": builtin.ANNUAL,
            "topics": ["weekly"],
            "definition": {"sections": [{"key": "x", "title": "甲", "fields": [{"key": "y"}]}]},
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_template"
    assert set(body["errors"]) == {
        "name",
        "key",
        "topics",
        "definition.sections[0].fields[0].type",
        "definition.sections[0].fields[0].label",
    }
    assert Template.objects.count() == count


def test_create_refuses_a_body_of_the_wrong_shape(installed: Hospital) -> None:
    response = send(bearer(installed.admin), "POST", BASE, {"topics": "career"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "topics"}


def test_update_changes_name_topics_questions_and_status_together(installed: Hospital) -> None:
    monthly = template(installed, builtin.MONTHLY)
    record_using(installed, monthly)
    client = bearer(installed.hr_partner)
    before = client.get(f"{BASE}/{monthly.pk}").json()
    definition = before["definition"]
    definition["sections"][0]["title"] = {"zh-hans": "本月亮点", "en": "Highlights"}

    response = send(
        client,
        "PUT",
        f"{BASE}/{monthly.pk}",
        {
            "name": {"zh-hans": "月度一对一", "en": "Monthly one-to-one"},
            "topics": [Topic.OTHER],
            "definition": definition,
            "based_on": before["fingerprint"],
            "is_active": False,
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 2 and [v["number"] for v in body["versions"]] == [2, 1]
    assert body["topics"] == [Topic.OTHER] and not body["is_active"]
    assert body["definition"]["sections"][0]["title"]["zh-hans"] == "本月亮点"
    for event in ("renamed", "topics_changed", "edited", "deactivated"):
        assert AuditEvent.objects.filter(action=f"records.template.{event}").count() == 1


def test_update_is_all_or_nothing(installed: Hospital) -> None:
    monthly = template(installed, builtin.MONTHLY)

    response = send(
        bearer(installed.admin),
        "PUT",
        f"{BASE}/{monthly.pk}",
        {"name": "新名称", "definition": {"sections": []}},
    )

    assert response.status_code == 400
    assert "definition.sections" in response.json()["errors"]
    monthly.refresh_from_db()
    assert monthly.name["zh-hans"] == "月度沟通"


def test_update_based_on_an_old_fingerprint_answers_409(installed: Hospital) -> None:
    monthly = template(installed, builtin.MONTHLY)
    client = bearer(installed.hr_partner)
    seen = client.get(f"{BASE}/{monthly.pk}").json()
    send(client, "PUT", f"{BASE}/{monthly.pk}", {"definition": services.starter_definition()})

    response = send(
        client,
        "PUT",
        f"{BASE}/{monthly.pk}",
        {"definition": seen["definition"], "based_on": seen["fingerprint"]},
    )

    assert response.status_code == 409
    assert response.json()["code"] == "stale_template"


@pytest.mark.parametrize("persona", ["hr_cardiology", "doctor_li"])
def test_writes_are_refused_to_others_and_audited(installed: Hospital, persona: str) -> None:
    client = bearer(getattr(installed, persona))
    monthly = template(installed, builtin.MONTHLY)
    document = services.export_template(monthly)

    assert send(client, "POST", BASE, {"name": "新模板"}).status_code == 403
    assert send(client, "PUT", f"{BASE}/{monthly.pk}", {"is_active": False}).status_code == 403
    assert send(client, "POST", f"{BASE}/import?replace=true", document).status_code == 403
    # Refused before the body is read: an empty body is refused the same way.
    assert send(client, "POST", BASE, {}).status_code == 403
    monthly.refresh_from_db()
    assert monthly.is_active
    denied = AuditEvent.objects.filter(action__startswith="records.template.", outcome="denied")
    # An employee is refused the template itself; a department HR partner reads it but may
    # not change it.
    update = "records.template.viewed" if persona == "doctor_li" else "records.template.edited"
    assert sorted(denied.values_list("action", flat=True)) == sorted(
        [
            "records.template.created",
            "records.template.created",
            update,
            "records.template.imported",
        ]
    )


# --- export and import -------------------------------------------------------------------------


def test_export_then_import_into_another_organisation(
    installed: Hospital, other_org: OtherOrganisation
) -> None:
    promotion = template(installed, builtin.PROMOTION)
    document = bearer(installed.hr_partner).get(f"{BASE}/{promotion.pk}/export").json()

    response = send(bearer(other_org.employee), "POST", f"{BASE}/import", document)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] and body["template"]["key"] == builtin.PROMOTION
    assert body["template"]["definition"] == promotion.current.definition
    assert document == services.export_template(promotion)


def test_import_of_an_existing_key_needs_replace(installed: Hospital) -> None:
    career = template(installed, builtin.CAREER)
    client = bearer(installed.admin)
    document = client.get(f"{BASE}/{career.pk}/export").json()
    document["name"] = {"zh-hans": "职业发展规划面谈"}

    refused = send(client, "POST", f"{BASE}/import", document)
    replaced = send(client, "POST", f"{BASE}/import?replace=true", document)

    assert refused.status_code == 400 and set(refused.json()["errors"]) == {"key"}
    assert replaced.status_code == 200
    assert not replaced.json()["created"]
    assert replaced.json()["template"]["name"] == {"zh-hans": "职业发展规划面谈"}


def test_import_names_every_problem(installed: Hospital) -> None:
    response = send(
        bearer(installed.admin),
        "POST",
        f"{BASE}/import",
        {"format": "other", "key": "x", "name": "甲", "definition": {"sections": "none"}},
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"format", "definition.sections"}


def test_import_of_a_body_that_is_not_json(installed: Hospital) -> None:
    response = bearer(installed.admin).generic(
        "POST", f"{BASE}/import", b"{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_the_openapi_document_describes_the_template_operations(installed: Hospital) -> None:
    document = bearer(installed.hr_partner).get("/api/v1/openapi.json").json()

    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/templates"])
    assert {"get", "put"} <= set(paths["/api/v1/templates/{template_id}"])
    assert "post" in paths["/api/v1/templates/import"]
    assert "get" in paths["/api/v1/templates/{template_id}/export"]
    body = paths["/api/v1/templates"]["post"]["requestBody"]["content"]["application/json"]
    assert "copy_from_id" in json.dumps(body)
    assert "TemplateDetailOut" in document["components"]["schemas"]
