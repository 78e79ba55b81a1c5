"""Personal API tokens: shown once, stored as a digest, listed and revoked by their owner only."""

from __future__ import annotations

import hashlib

from miantan.accounts.models import ApiToken
from miantan.audit.models import AuditEvent
from tests.factories import api_token_for


def test_tokens_page_lists_only_the_users_own_tokens(hospital, client_as):
    api_token_for(hospital.doctor_li)
    api_token_for(hospital.zhao)

    response = client_as(hospital.zhao).get("/accounts/tokens/")

    assert response.status_code == 200
    assert [token.user_id for token in response.context["tokens"]] == [hospital.zhao.user.pk]


def test_creating_a_token_shows_the_secret_once(hospital, client_as):
    client = client_as(hospital.zhao)

    response = client.post("/accounts/tokens/", {"name": "报表系统", "days": 90})

    secret = response.context["new_secret"]
    assert secret.startswith("mt_")
    assert secret in response.content.decode()
    assert secret not in client.get("/accounts/tokens/").content.decode()


def test_creating_a_token_stores_only_a_digest(hospital, client_as):
    response = client_as(hospital.zhao).post("/accounts/tokens/", {"name": "报表", "days": 30})

    secret = response.context["new_secret"]
    token = ApiToken.objects.get(user=hospital.zhao.user)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (token.prefix, token.digest, token.name)
    assert AuditEvent.objects.filter(action="accounts.token.created").exists()


def test_creating_a_token_without_a_name_shows_an_error(hospital, client_as):
    response = client_as(hospital.zhao).post("/accounts/tokens/", {"name": "", "days": 30})

    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_revoking_an_own_token_marks_it_revoked(hospital, client_as):
    token, _secret = api_token_for(hospital.zhao)

    response = client_as(hospital.zhao).post(f"/accounts/tokens/{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="accounts.token.revoked").exists()


def test_revoking_someone_elses_token_is_not_found(hospital, client_as):
    token, _secret = api_token_for(hospital.doctor_li)

    response = client_as(hospital.hr_partner).post(f"/accounts/tokens/{token.pk}/revoke/")

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_a_token_by_get_is_refused(hospital, client_as):
    token, _secret = api_token_for(hospital.zhao)

    assert client_as(hospital.zhao).get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
