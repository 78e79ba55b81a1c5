"""The API's interactive documentation and OpenAPI document need a sign-in or a token."""

from __future__ import annotations

from django.test import Client

from miantan.people.services import mark_left
from tests.factories import api_token_for

DOCS = "/api/v1/docs"
DOCUMENT = "/api/v1/openapi.json"


def test_api_docs_send_anonymous_visitors_to_sign_in(db):
    response = Client().get(DOCS)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={DOCS}"


def test_api_document_answers_anonymous_requests_with_401(db):
    response = Client().get(DOCUMENT)

    assert response.status_code == 401
    assert "paths" not in response.json()


def test_api_docs_open_for_a_signed_in_employee(hospital, client_as):
    response = client_as(hospital.zhao).get(DOCS)

    assert response.status_code == 200
    assert "swagger-ui" in response.content.decode()


def test_api_document_opens_with_a_personal_token(hospital):
    _token, secret = api_token_for(hospital.zhao)

    response = Client(headers={"authorization": f"Bearer {secret}"}).get(DOCUMENT)

    assert response.status_code == 200
    assert "/api/v1/talks" in response.json()["paths"]


def test_api_document_refuses_a_revoked_token(hospital, client_as):
    token, secret = api_token_for(hospital.zhao)
    client_as(hospital.zhao).post(f"/accounts/tokens/{token.pk}/revoke/")

    response = Client(headers={"authorization": f"Bearer {secret}"}).get(DOCUMENT)

    assert response.status_code == 401


def test_api_docs_refuse_someone_who_left(hospital, client_as):
    client = client_as(hospital.zhao)
    mark_left(hospital.zhao, actor=None)

    assert client.get(DOCUMENT).status_code == 401
