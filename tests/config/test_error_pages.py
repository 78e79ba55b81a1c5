"""The product's own error pages, in the visitor's language, never a technical page."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import server_error

TECHNICAL = ("Traceback", "DEBUG = True", "URLconf", "Request Method", "Django")


def assert_not_technical(html: str) -> None:
    for word in TECHNICAL:
        assert word not in html


@pytest.mark.parametrize(
    ("language", "title"), [("zh-CN", "<h1>未找到</h1>"), ("en-US", "<h1>Not found</h1>")]
)
def test_404_page_is_the_products_own_in_the_browsers_language(db, language, title):
    response = Client(headers={"accept-language": language}).get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert title in html
    assert_not_technical(html)


def test_404_page_follows_a_signed_in_users_saved_language(hospital, client_as):
    response = client_as(hospital.doctor_li).get("/no-such-page/")

    assert "<h1>未找到</h1>" in response.content.decode()


def test_403_page_is_the_products_own_in_the_users_language(hospital, client_as):
    hospital.doctor_li.language = "en"
    hospital.doctor_li.save(update_fields=["language"])

    response = client_as(hospital.doctor_li).get(reverse("web:roles"))

    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in html
    assert_not_technical(html)


@pytest.mark.parametrize(
    ("language", "title"),
    [("zh-hans", "<h1>出错了</h1>"), ("en", "<h1>Something went wrong</h1>")],
)
def test_500_page_is_in_the_visitors_language(language, title):
    with translation.override(language):
        response = server_error(RequestFactory().get("/"))

    html = response.content.decode()
    assert response.status_code == 500
    assert title in html
    assert_not_technical(html)


def test_csrf_failure_page_says_the_form_expired(db):
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})

    response = client.post("/accounts/login/", {"username": "a", "password": "b"})

    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>The form has expired</h1>" in html
    assert_not_technical(html)


@pytest.mark.parametrize(
    ("language", "title"), [("zh-CN", "<h1>请求无效</h1>"), ("en-GB", "<h1>Bad request</h1>")]
)
def test_400_page_for_an_unknown_host_is_in_the_browsers_language(db, settings, language, title):
    settings.ALLOWED_HOSTS = ["miantan.example.com"]
    client = Client(headers={"accept-language": language}, HTTP_HOST="intranet.example")

    response = client.get("/accounts/login/")

    html = response.content.decode()
    assert response.status_code == 400
    assert title in html
    assert_not_technical(html)
    assert "intranet.example" not in html
