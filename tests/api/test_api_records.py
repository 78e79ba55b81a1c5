"""The record over the API: read as each person may, save on the version read (409 with the
block as it is now otherwise), comment, confirm; outsiders get 404."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from miantan.records.enums import RecordState, Side
from tests.records.builders import TALK_AT, block_of, started_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


def url(record, tail: str = "") -> str:
    return f"/api/v1/talks/{record.talk_id}/record{tail}"


def put(client, path: str, body: dict):
    return client.put(path, data=json.dumps(body), content_type="application/json")


def post(client, path: str, body: dict | None = None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def test_reading_the_record(hospital, client_as):
    record = started_record(hospital)
    answer = client_as(hospital.nurse_wang).get(url(record)).json()
    assert answer["state"] == RecordState.IN_PROGRESS
    assert answer["side"] == Side.EMPLOYEE
    keys = [section["key"] for section in answer["sections"]]
    assert keys[:3] == ["went_well", "to_improve", "plan"]
    assert client_as(hospital.zhao).get(url(record)).status_code == 404


def test_saving_on_an_old_version_answers_409_with_the_block_as_it_is(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    path = url(record, f"/blocks/{block.pk}")
    first = put(
        client_as(hospital.head_nurse), path, {"version": 0, "values": {"agreements": "甲"}}
    )
    assert first.status_code == 200
    assert first.json()["version"] == 1
    late = put(client_as(hospital.nurse_wang), path, {"version": 0, "values": {"agreements": "乙"}})
    assert late.status_code == 409
    assert late.json()["code"] == "stale"
    assert late.json()["block"]["values"] == {"agreements": "甲"}


def test_bad_values_answer_400_per_field(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "went_well")
    answer = put(
        client_as(hospital.nurse_wang),
        url(record, f"/blocks/{block.pk}"),
        {"version": 0, "values": {"items": [{"project": "A", "completion": 140}]}},
    )
    assert answer.status_code == 400
    assert "items[0].completion" in answer.json()["errors"]


def test_the_employee_may_not_save_the_managers_section(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "manager")
    answer = put(
        client_as(hospital.nurse_wang),
        url(record, f"/blocks/{block.pk}"),
        {"version": 0, "values": {"assessment": "x"}},
    )
    assert answer.status_code == 403


def test_comment_and_confirm(hospital, client_as):
    record = started_record(hospital)
    answer = post(
        client_as(hospital.head_nurse),
        url(record, "/comments"),
        {"section": "plan", "body": "目标再具体些"},
    )
    assert answer.status_code == 201
    refused = post(
        client_as(hospital.nurse_wang), url(record, "/confirm"), {"version": record.version}
    )
    assert refused.status_code == 400  # her required fields are empty
    assert refused.json()["code"] == "incomplete"


def test_revisions(hospital, client_as):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    path = url(record, f"/blocks/{block.pk}")
    put(client_as(hospital.head_nurse), path, {"version": 0, "values": {"agreements": "甲"}})
    put(client_as(hospital.nurse_wang), path, {"version": 1, "values": {"agreements": "乙"}})
    revisions = client_as(hospital.nurse_wang).get(path + "/revisions").json()
    assert [r["version"] for r in revisions] == [2, 1]
    assert ["+", "Agreements: 乙"] in revisions[0]["changes"] or any(
        mark == "+" and "乙" in line for mark, line in revisions[0]["changes"]
    )
