"""Signing in and out, the lockout after repeated failures, and how long a session lasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from miantan.accounts.forms import SignInForm
from miantan.accounts.models import SignInLimit
from miantan.audit.enums import Outcome
from miantan.audit.models import AuditEvent
from miantan.people.services import mark_left, set_language
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"
MORNING = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra: str):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_sign_in_with_the_right_password_opens_the_home_page(hospital):
    client = Client()

    response = sign_in(client, "doctor.li")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/me/").status_code == 200


def test_sign_in_follows_a_safe_next_address(hospital):
    response = sign_in(Client(), "doctor.li", next="/departments/")

    assert response["Location"] == "/departments/"


def test_sign_in_ignores_a_next_address_on_another_host(hospital):
    response = sign_in(Client(), "doctor.li", next="https://evil.example/")

    assert response["Location"] == "/"


def test_sign_in_is_audited(hospital):
    sign_in(Client(), "doctor.li")

    event = AuditEvent.objects.filter(action="accounts.login.succeeded").get()
    assert event.actor_id == hospital.doctor_li.user.pk


def test_sign_in_sets_the_language_cookie_from_the_profile(hospital):
    set_language(hospital.doctor_li, language="en", actor=None)

    response = sign_in(Client(), "doctor.li")

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_sign_in_with_a_wrong_password_shows_a_translated_error(hospital):
    response = sign_in(Client(), "doctor.li", password="not-the-password")

    with translation.override("zh-hans"):
        expected = str(SignInForm.error_messages["invalid_login"])
    assert response.status_code == 200
    assert expected == "用户名或密码不正确。"
    assert expected in response.content.decode()


def test_sign_in_error_follows_the_chosen_language(hospital):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = sign_in(client, "doctor.li", password="not-the-password")

    assert "The user name or password is not correct." in response.content.decode()


def test_failed_sign_in_is_audited_as_denied(hospital):
    sign_in(Client(), "Doctor.Li", password="not-the-password")

    event = AuditEvent.objects.filter(action="accounts.login.failed").get()
    assert event.outcome == Outcome.DENIED
    assert event.actor_id is None


def test_sign_in_limits_keep_only_digests_of_names_and_addresses(hospital):
    sign_in(Client(REMOTE_ADDR="192.0.2.7"), "doctor.li", password="not-the-password")

    stored = " ".join(f"{row.key} {row}" for row in SignInLimit.objects.all())
    assert SignInLimit.objects.count() == 2
    assert "doctor.li" not in stored
    assert "192.0.2.7" not in stored


def test_sign_in_locks_out_after_the_maximum_failures_even_with_the_right_password(
    hospital, settings
):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 3
    client = Client()
    with time_machine.travel(MORNING, tick=False):
        for _attempt in range(3):
            sign_in(client, "doctor.li", password="not-the-password")

        response = sign_in(client, "doctor.li")

    assert response.status_code == 200
    assert "尝试次数过多。请在 09:15（15 分钟后）再试。" in response.content.decode()
    assert client.get("/me/").status_code == 302


def test_sign_in_lockout_message_follows_the_chosen_language(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 1
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with time_machine.travel(MORNING, tick=False):
        sign_in(client, "doctor.li", password="not-the-password")
    with time_machine.travel(MORNING + timedelta(minutes=14, seconds=30), tick=False):
        response = sign_in(client, "doctor.li")

    assert "Too many sign-in attempts. Try again at 09:15, in 1 minute." in (
        response.content.decode()
    )


def test_sign_in_refused_during_a_lockout_is_audited(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 1
    sign_in(Client(), "doctor.li", password="not-the-password")

    sign_in(Client(), "doctor.li")

    event = AuditEvent.objects.filter(action="accounts.login.locked_out").get()
    assert event.outcome == Outcome.DENIED
    assert event.data["username"] == "doctor.li"


def test_sign_in_is_not_locked_below_the_maximum_failures(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 3
    client = Client()
    for _attempt in range(2):
        sign_in(client, "doctor.li", password="not-the-password")

    assert sign_in(client, "doctor.li").status_code == 302


def test_sign_in_lockout_ends_after_the_lockout_period(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    with time_machine.travel(MORNING, tick=False):
        for _attempt in range(2):
            sign_in(Client(), "doctor.li", password="not-the-password")

    later = MORNING + timedelta(seconds=settings.MIANTAN_LOGIN_LOCKOUT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert sign_in(Client(), "doctor.li").status_code == 302


def test_sign_in_lockout_lasts_the_full_period_after_the_last_check(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    with time_machine.travel(MORNING, tick=False):
        sign_in(Client(), "doctor.li", password="not-the-password")
    last_check = MORNING + timedelta(minutes=10)
    with time_machine.travel(last_check, tick=False):
        sign_in(Client(), "doctor.li", password="not-the-password")

    with time_machine.travel(MORNING + timedelta(minutes=16), tick=False):
        assert sign_in(Client(), "doctor.li").status_code == 200
    with time_machine.travel(last_check + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(Client(), "doctor.li").status_code == 302


def test_sign_in_failures_outside_the_window_are_forgotten(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    with time_machine.travel(MORNING, tick=False):
        sign_in(Client(), "doctor.li", password="not-the-password")

    with time_machine.travel(MORNING + timedelta(minutes=20), tick=False):
        sign_in(Client(), "doctor.li", password="not-the-password")
        assert sign_in(Client(), "doctor.li").status_code == 302


def test_sign_in_lockout_of_one_name_leaves_others_alone(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    for _attempt in range(2):
        sign_in(Client(), "doctor.li", password="not-the-password")

    assert sign_in(Client(), "zhao").status_code == 302


def test_sign_in_lockout_counts_names_whatever_their_case(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    sign_in(Client(), "Doctor.Li", password="not-the-password")
    sign_in(Client(), "DOCTOR.LI", password="not-the-password")

    assert sign_in(Client(), "doctor.li").status_code == 200


def test_sign_in_lockout_counts_names_that_do_not_exist(db, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    for _attempt in range(2):
        sign_in(Client(), "nobody", password="not-the-password")

    response = sign_in(Client(), "nobody", password="not-the-password")

    assert "尝试次数过多" in response.content.decode()


def test_sign_in_from_one_address_is_limited_across_names(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    for name in ("doctor.li", "zhao", "nurse.wang"):
        sign_in(Client(REMOTE_ADDR="203.0.113.5"), name, password="not-the-password")

    assert sign_in(Client(REMOTE_ADDR="203.0.113.5"), "head.zhang").status_code == 200
    assert sign_in(Client(REMOTE_ADDR="203.0.113.6"), "head.zhang").status_code == 302


def test_sign_in_address_limit_leaves_successful_sign_ins_uncounted(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS = 2
    for name in ("doctor.li", "zhao", "nurse.wang", "head.zhang"):
        assert sign_in(Client(REMOTE_ADDR="203.0.113.5"), name).status_code == 302


def test_successful_sign_in_clears_earlier_failures(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    sign_in(Client(), "doctor.li", password="not-the-password")
    sign_in(Client(), "doctor.li")

    sign_in(Client(), "doctor.li", password="not-the-password")

    assert sign_in(Client(), "doctor.li").status_code == 302


def test_sign_in_of_someone_who_left_fails(hospital):
    mark_left(hospital.doctor_li, actor=None)

    response = sign_in(Client(), "doctor.li")

    assert response.status_code == 200
    assert "_auth_user_id" not in response.client.session


def test_sign_in_page_sends_a_signed_in_user_home(hospital, client_as):
    response = client_as(hospital.zhao).get(LOGIN)

    assert response.status_code == 302


def test_session_lasts_session_cookie_age(hospital):
    client = Client()
    sign_in(client, "doctor.li")

    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    just_before = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)
    with time_machine.travel(just_before):
        assert client.get("/me/").status_code == 200


def test_session_expires_after_session_cookie_age(hospital):
    client = Client()
    sign_in(client, "doctor.li")

    after = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    with time_machine.travel(after):
        response = client.get("/me/")

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_sign_out_ends_the_session(hospital, client_as):
    client = client_as(hospital.zhao)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get("/me/").status_code == 302


def test_sign_out_by_get_is_refused(hospital, client_as):
    client = client_as(hospital.zhao)

    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/me/").status_code == 200


@pytest.mark.parametrize("path", ["/", "/me/", "/people/", "/team/", "/accounts/tokens/"])
def test_pages_send_anonymous_visitors_to_sign_in(db, path):
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={path}"


def test_sign_in_limits_whose_window_ended_are_cleared(hospital, settings):
    with time_machine.travel(MORNING, tick=False):
        sign_in(Client(REMOTE_ADDR="192.0.2.7"), "doctor.li", password="not-the-password")

    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        sign_in(Client(REMOTE_ADDR="192.0.2.8"), "zhao", password="not-the-password")

    assert SignInLimit.objects.count() == 2


def test_a_window_opened_by_a_simultaneous_check_counts_this_check_too(db, monkeypatch):
    """Two first checks at once: the first update of each finds no row, one of them opens the
    window. The other is counted in it, not taken for an account that used up its checks."""
    from miantan.accounts import services

    real = services._count_in_window
    opened: list[str] = []

    def racing(key: str, limit: int, *, now: datetime) -> bool:
        if not opened:  # this check's update ran before the other check's insert
            opened.append(key)
            SignInLimit.objects.create(
                key=key, checks=1, window_ends_at=now + timedelta(minutes=15)
            )
            return False
        return real(key, limit, now=now)

    monkeypatch.setattr(services, "_count_in_window", racing)

    assert services.reserve_password_check("wang.fang", ip=None) is None
    assert SignInLimit.objects.get(key=opened[0]).checks == 2
