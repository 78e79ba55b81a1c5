"""Chinese by default; the language switch is saved on the profile and used on every page."""

from __future__ import annotations

from django.conf import settings
from django.test import Client

from miantan.audit.models import AuditEvent
from miantan.people.models import Employee


def switch(client: Client, language: str, next_url: str = "/me/"):
    return client.post("/accounts/language/", {"language": language, "next": next_url})


def test_pages_are_chinese_by_default(hospital, client_as):
    html = client_as(hospital.doctor_li).get("/me/").content.decode()

    assert '<html lang="zh-Hans">' in html
    assert "我的档案" in html


def test_sign_in_page_follows_the_browsers_language(db):
    response = Client(headers={"accept-language": "en-US,en;q=0.9"}).get("/accounts/login/")

    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Sign in" in html
    assert "Accept-Language" in response["Vary"]


def test_sign_in_page_is_chinese_for_a_chinese_browser(db):
    response = Client(headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"}).get(
        "/accounts/login/"
    )

    assert '<html lang="zh-Hans">' in response.content.decode()


def test_sign_in_page_takes_the_first_language_we_have(db):
    response = Client(headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"}).get(
        "/accounts/login/"
    )

    assert '<html lang="en">' in response.content.decode()


def test_sign_in_page_is_chinese_when_the_browser_asks_for_nothing_we_have(db):
    response = Client(headers={"accept-language": "fr-FR,de;q=0.5"}).get("/accounts/login/")

    assert '<html lang="zh-Hans">' in response.content.decode()


def test_sign_in_page_follows_the_switch_before_the_browser(db):
    client = Client(headers={"accept-language": "en-US,en;q=0.9"})
    switch(client, "zh-hans", "/accounts/login/")

    assert '<html lang="zh-Hans">' in client.get("/accounts/login/").content.decode()


def test_signed_in_employee_keeps_the_saved_language_whatever_the_browser_asks(hospital):
    client = Client(headers={"accept-language": "en-US,en;q=0.9"})
    client.force_login(hospital.doctor_li.user)

    assert '<html lang="zh-Hans">' in client.get("/me/").content.decode()


def test_language_switch_saves_the_language_on_the_profile(hospital, client_as):
    client = client_as(hospital.doctor_li)

    response = switch(client, "en")

    assert response.status_code == 302
    assert response["Location"] == "/me/"
    assert Employee.objects.get(pk=hospital.doctor_li.pk).language == "en"


def test_language_switch_makes_the_next_page_english(hospital, client_as):
    client = client_as(hospital.doctor_li)
    switch(client, "en")

    html = client.get("/me/").content.decode()

    assert '<html lang="en">' in html
    assert "My profile" in html
    assert "我的档案" not in html


def test_saved_language_follows_the_employee_to_a_new_session(hospital, client_as):
    switch(client_as(hospital.doctor_li), "en")

    html = client_as(hospital.doctor_li).get("/me/").content.decode()

    assert '<html lang="en">' in html


def test_language_switch_is_audited(hospital, client_as):
    switch(client_as(hospital.doctor_li), "en")

    event = AuditEvent.objects.filter(action="people.employee.language_changed").get()
    assert event.subject_id == hospital.doctor_li.pk
    assert event.data == {"language": "en"}


def test_language_switch_for_anonymous_visitors_sets_a_cookie(db):
    client = Client()

    response = switch(client, "en", "/accounts/login/")

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert '<html lang="en">' in client.get("/accounts/login/").content.decode()


def test_language_switch_ignores_an_unknown_language(hospital, client_as):
    client = client_as(hospital.doctor_li)

    response = switch(client, "fr")

    assert response.status_code == 302
    assert Employee.objects.get(pk=hospital.doctor_li.pk).language == "zh-hans"


def test_language_switch_does_not_redirect_to_another_host(hospital, client_as):
    response = switch(client_as(hospital.doctor_li), "en", "https://evil.example/")

    assert response["Location"] == "/"


def test_language_switch_by_get_is_refused(hospital, client_as):
    assert client_as(hospital.doctor_li).get("/accounts/language/").status_code == 405
