"""The whole API, fuzzed from its own OpenAPI document: whatever the body, query or path, the
answer is never a server error.

Schemathesis generates requests for every operation (valid ones and deliberately odd ones:
huge page numbers, dates in year 1 or 9999, long strings, wrong types) and sends them to the
project's WSGI application in-process, signed in with an HR partner's personal token so that
the operations reach their services rather than stopping at 401. Each operation runs as its own
test inside one database transaction, with the hospital personas and a talk to act on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
import time_machine
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from miantan.api.v1 import api
from miantan.interviews.enums import TalkState
from miantan.interviews.models import Proposal, Talk
from miantan.people.models import Employee
from tests.factories import api_token_for
from tests.personas import build_hospital

NOW = "2026-11-16 09:00:00+08:00"

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()


def _talk_between(employee: Any, counterpart: Any) -> Talk:
    start = timezone.now() + timedelta(days=2)
    talk = Talk.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        counterpart=counterpart,
        requested_by=employee,
        topic="quarterly_review",
        state=TalkState.NEGOTIATING,
        awaiting=counterpart,
        expires_at=start + timedelta(days=1),
    )
    Proposal.objects.create(
        talk=talk, proposed_by=employee, start=start, end=start + timedelta(minutes=45)
    )
    return talk


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """Requests go to the WSGI handler itself, whose request signals would close the database
    connection after each answer (and with it the test's transaction on PostgreSQL); Django's
    own test client disconnects the same receiver."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token(db: None, in_test_transaction: None) -> Any:
    """An HR partner's token; the clock stays at NOW for the whole test."""
    with time_machine.travel(NOW, tick=False):
        hospital = build_hospital()
        _talk_between(hospital.nurse_wang, hospital.head_nurse)
        _talk_between(hospital.doctor_li, hospital.head)
        yield api_token_for(hospital.hr_partner)[1]


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_fuzz_answers_without_server_errors(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error])


# The cases the fuzzer is not sure to draw, asked for by name.

LISTS = (
    "/api/v1/people",
    "/api/v1/departments",
    "/api/v1/talks",
    "/api/v1/talks/inbox",
    "/api/v1/metrics/kpis/assignments",
)


@pytest.mark.parametrize("url", LISTS)
def test_api_list_refuses_a_page_number_beyond_reach(client: Any, token: str, url: str) -> None:
    response = client.get(f"{url}?page=99999999999999999999", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 422


@pytest.mark.parametrize("url", LISTS)
def test_api_list_answers_an_empty_page_past_the_end(client: Any, token: str, url: str) -> None:
    response = client.get(f"{url}?page=1000000", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["items"] == []


@pytest.mark.parametrize("url", ["/api/v1/talks", "/api/v1/talks/slots"])
@pytest.mark.parametrize(
    ("first", "last"), [("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")]
)
def test_api_talk_refuses_days_out_of_reach(
    client: Any, token: str, url: str, first: str, last: str
) -> None:
    other = Employee.objects.get(user__username="doctor.li")
    body = {
        "with_employee_id": other.pk,
        "topic": "quarterly_review",
        "not_before": first,
        "not_after": last,
    }

    response = client.post(
        url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"not_before", "not_after"}


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:00+00:00"])
def test_api_talk_refuses_a_slot_out_of_reach(client: Any, token: str, start: str) -> None:
    other = Employee.objects.get(user__username="doctor.li")
    body = {"with_employee_id": other.pk, "topic": "quarterly_review", "slot": {"start": start}}

    response = client.post(
        "/api/v1/talks", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code in (400, 422)
