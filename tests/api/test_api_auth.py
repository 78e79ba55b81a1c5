"""The API accepts the browser session or a personal bearer token, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.test import Client
from django.utils import timezone

from miantan.accounts.models import ApiToken
from miantan.accounts.services import revoke_token
from miantan.people.services import mark_left
from tests.factories import api_token_for


def bearer(secret: str) -> Client:
    return Client(headers={"authorization": f"Bearer {secret}"})


def test_api_accepts_a_bearer_token(hospital):
    _token, secret = api_token_for(hospital.doctor_li)

    response = bearer(secret).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["name"] == "李明"


def test_api_token_use_is_remembered(hospital):
    token, secret = api_token_for(hospital.doctor_li)

    bearer(secret).get("/api/v1/me")

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_api_refuses_a_revoked_token(hospital):
    token, secret = api_token_for(hospital.doctor_li)
    revoke_token(token, actor=hospital.doctor_li.user)

    assert bearer(secret).get("/api/v1/me").status_code == 401


def test_api_refuses_an_expired_token(hospital):
    _token, secret = api_token_for(hospital.doctor_li, days=30)

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert bearer(secret).get("/api/v1/me").status_code == 401


def test_api_accepts_a_token_without_expiry_for_a_long_time(hospital):
    _token, secret = api_token_for(hospital.doctor_li, days=None)

    with time_machine.travel(timezone.now() + timedelta(days=3650)):
        assert bearer(secret).get("/api/v1/me").status_code == 200


def test_api_refuses_the_token_of_someone_who_left(hospital):
    _token, secret = api_token_for(hospital.doctor_li)
    mark_left(hospital.doctor_li, actor=None)

    assert bearer(secret).get("/api/v1/me").status_code == 401


def test_api_refuses_an_unknown_token(hospital):
    _token, secret = api_token_for(hospital.doctor_li)

    assert bearer(secret[:-2] + "xx").get("/api/v1/me").status_code == 401
    assert bearer("not-a-token").get("/api/v1/me").status_code == 401


def test_api_refuses_a_request_without_credentials(db):
    response = Client().get("/api/v1/people")

    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_api_accepts_the_browser_session(hospital, client_as):
    response = client_as(hospital.doctor_li).get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["employee_number"] == "H0011"


def test_api_session_of_someone_who_left_is_refused(hospital, client_as):
    client = client_as(hospital.doctor_li)
    mark_left(hospital.doctor_li, actor=None)

    assert client.get("/api/v1/me").status_code == 401


def test_api_token_secret_is_not_stored(hospital):
    _token, secret = api_token_for(hospital.doctor_li)

    assert not ApiToken.objects.filter(digest=secret).exists()
    assert not ApiToken.objects.filter(prefix=secret).exists()


def test_a_bearer_token_writes_without_a_csrf_token(hospital):
    """Outside the test client, Django checks CSRF: a POST with a token must not need one."""
    _token, secret = api_token_for(hospital.doctor_li)
    client = Client(enforce_csrf_checks=True, headers={"authorization": f"Bearer {secret}"})

    response = client.post("/api/v1/notifications/999999/read", content_type="application/json")

    # Signed in and checked: the message is not there (not a CSRF refusal).
    assert response.status_code == 404, response.content


def test_a_session_still_needs_its_csrf_token_to_write(hospital):
    client = Client(enforce_csrf_checks=True)
    client.force_login(hospital.doctor_li.user)

    response = client.post("/api/v1/notifications/999999/read", content_type="application/json")

    assert response.status_code == 403
