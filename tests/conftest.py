"""Fixtures shared by every test: the personas, signed-in clients, the clock, the browser
set-up."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone, translation

from miantan.people.models import Employee
from tests.personas import Hospital, OtherOrganisation, build_hospital, build_other_organisation

# Playwright's sync API runs an event loop in the test thread; Django would refuse database
# access from it. The live server and the test still use the database one at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

CHROMIUM = "/usr/bin/chromium"
# Browser tests run on a clock that moves from here (a Monday morning in Beijing), so that
# what their pages show does not depend on the day the suite runs.
BROWSER_START = datetime(2026, 11, 2, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
# `MIANTAN_TEST_TODAY=2027-03-15 make test` runs the suite as if the machine's date were that
# day (the time of day is kept, the clock moves): no test may pass or fail because of it.
TODAY_VARIABLE = "MIANTAN_TEST_TODAY"
_MACHINE_DATE = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    today = os.environ.get(TODAY_VARIABLE, "").strip()
    if not today:
        return
    try:
        day = date.fromisoformat(today)
    except ValueError as error:
        raise pytest.UsageError(f"{TODAY_VARIABLE} must be a date such as 2027-03-15") from error
    now = datetime.now(UTC)
    traveller = time_machine.travel(datetime.combine(day, now.timetz()), tick=True)
    traveller.start()
    config.stash[_MACHINE_DATE] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_MACHINE_DATE, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    today = os.environ.get(TODAY_VARIABLE, "").strip()
    return f"machine date moved to {today} ({TODAY_VARIABLE})" if today else None


@pytest.fixture
def hospital(db: None) -> Hospital:
    return build_hospital()


@pytest.fixture
def other_org(db: None) -> OtherOrganisation:
    return build_other_organisation()


@pytest.fixture
def client_as(db: None) -> Callable[[Employee], Client]:
    """`client_as(hospital.head)`: a test client signed in as that persona."""

    def sign_in(employee: Employee) -> Client:
        client = Client()
        client.force_login(employee.user)
        return client

    return sign_in


@pytest.fixture(autouse=True)
def _default_language_and_time_zone() -> Iterator[None]:
    # Requests activate the signed-in user's language; do not let it leak into the next test.
    yield
    translation.deactivate()
    timezone.deactivate()


# --- browser tests (pytest-playwright with the system's chromium) ---------------------------


@pytest.fixture(autouse=True)
def _browser_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every browser test starts at BROWSER_START and the clock runs from there, in the test
    and in the live server's thread alike (a test may still freeze a moment of its own)."""
    if request.node.get_closest_marker("browser") is None:
        yield
        return
    # The live server's clock is behind the files' modification times, so a static file's
    # Last-Modified is later than its response's Date; Chromium revalidates such a file and,
    # answered "304 Not Modified", may drop it (pages then lose their stylesheet). The test
    # server therefore always answers with the file itself.
    with (
        time_machine.travel(BROWSER_START, tick=True),
        mock.patch("django.views.static.was_modified_since", return_value=True),
    ):
        yield


@pytest.fixture
def outside_the_browser_loop() -> Iterator[None]:
    """Once a browser test ran in this process, Playwright's event loop stays open in the main
    thread, and Django's test client refuses to call an async view from there. A test that
    needs to do so (as a WSGI server would) runs with the loop set aside."""
    loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(loop)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1280, "height": 800}}
