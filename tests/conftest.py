"""Fixtures shared by every test: the personas, signed-in clients, the browser set-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from miantan.people.models import Employee
from tests.personas import Hospital, OtherOrganisation, build_hospital, build_other_organisation

# Playwright's sync API runs an event loop in the test thread; Django would refuse database
# access from it. The live server and the test still use the database one at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

CHROMIUM = "/usr/bin/chromium"


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
