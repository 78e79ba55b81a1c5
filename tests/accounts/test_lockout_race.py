"""The sign-in lockout under simultaneous attempts, each request on its own database connection.

Attempts are counted before the password is checked, so 40 attempts fired at once at one
account get at most MIANTAN_LOGIN_MAX_FAILURES password checks, whatever their timing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connections
from django.test import Client

from tests.factories import PASSWORD
from tests.personas import build_hospital

LOGIN = "/accounts/login/"
ATTEMPTS = 40
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class CountingHasher(MD5PasswordHasher):
    """Counts password checks and makes each one slow, as a real hash is, so that
    simultaneous attempts overlap while their passwords are checked."""

    checks = 0
    _lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher._lock:
            CountingHasher.checks += 1
        threading.Event().wait(0.05)
        return super().verify(password, encoded)


@pytest.fixture
def counting_hasher(settings: Any) -> type[CountingHasher]:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.checks = 0
    return CountingHasher


@pytest.fixture
def own_connections(transactional_db: None, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Yields `use()`, a context manager giving the calling thread its own connection to the
    test database. PostgreSQL: a new connection per thread. SQLite: the in-memory test
    database is copied to a file first (WAL, busy timeout, immediate transactions, as
    `make run` uses it), since connections to a shared in-memory database lock whole tables
    instead of waiting."""
    default = connections["default"]
    if default.vendor != "sqlite":

        @contextmanager
        def use_own() -> Iterator[None]:
            try:
                yield
            finally:
                connections["default"].close()

        yield use_own
        return
    path = tmp_path / "race.sqlite3"
    settings_dict = {**default.settings_dict, "NAME": str(path)}
    copied = False

    @contextmanager
    def use_file() -> Iterator[None]:
        nonlocal copied
        if not copied:
            default.ensure_connection()
            target = sqlite3.connect(path)
            default.connection.backup(target)
            target.close()
            copied = True
        previous = connections["default"]
        own = type(default)(settings_dict, alias="default")
        connections["default"] = own
        try:
            yield
        finally:
            own.close()
            connections["default"] = previous

    yield use_file


def fire(use: Callable[[], Any], attempts: list[dict[str, str]]) -> list[int]:
    """Posts every attempt at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(attempts))

    def post(attempt: dict[str, str]) -> int:
        address = attempt.pop("address")
        with use():
            barrier.wait()
            return Client(REMOTE_ADDR=address).post(LOGIN, attempt).status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(post, attempts))


def sign_in(use: Callable[[], Any], username: str, password: str = PASSWORD) -> int:
    with use():
        return (
            Client(REMOTE_ADDR="192.0.2.200")
            .post(LOGIN, {"username": username, "password": password})
            .status_code
        )


@pytest.mark.django_db(transaction=True)
def test_sign_in_lockout_allows_5_checks_of_40_simultaneous_attempts(
    own_connections: Callable[[], Any], counting_hasher: type[CountingHasher], settings: Any
) -> None:
    with time_machine.travel(START, tick=False):
        build_hospital()
        attempts = [
            {"username": "doctor.li", "password": f"guess-{n}", "address": f"198.51.100.{n}"}
            for n in range(ATTEMPTS)
        ]

        statuses = fire(own_connections, attempts)

        assert statuses == [200] * ATTEMPTS
        assert counting_hasher.checks == settings.MIANTAN_LOGIN_MAX_FAILURES == 5


@pytest.mark.django_db(transaction=True)
def test_sign_in_after_a_raced_lockout_refuses_the_right_password_until_the_lock_ends(
    own_connections: Callable[[], Any], counting_hasher: type[CountingHasher], settings: Any
) -> None:
    with time_machine.travel(START, tick=False):
        build_hospital()
        attempts = [
            {"username": "doctor.li", "password": f"guess-{n}", "address": f"198.51.100.{n}"}
            for n in range(ATTEMPTS)
        ]
        fire(own_connections, attempts)
        checks_during_the_race = counting_hasher.checks

        assert sign_in(own_connections, "doctor.li") == 200
        assert counting_hasher.checks == checks_during_the_race

    lock = timedelta(seconds=settings.MIANTAN_LOGIN_LOCKOUT_SECONDS)
    with time_machine.travel(START + lock - timedelta(seconds=1), tick=False):
        assert sign_in(own_connections, "doctor.li") == 200
    with time_machine.travel(START + lock + timedelta(seconds=1), tick=False):
        assert sign_in(own_connections, "doctor.li") == 302


@pytest.mark.django_db(transaction=True)
def test_sign_in_lockout_per_address_holds_under_simultaneous_attempts_at_many_accounts(
    own_connections: Callable[[], Any], counting_hasher: type[CountingHasher], settings: Any
) -> None:
    settings.MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS = 8
    with time_machine.travel(START, tick=False):
        build_hospital()
        names = ["doctor.li", "nurse.wang", "zhao", "head.zhang", "hr.sun"]
        attempts = [
            {"username": names[n % len(names)], "password": f"spray-{n}", "address": "203.0.113.9"}
            for n in range(ATTEMPTS)
        ]

        fire(own_connections, attempts)

        assert counting_hasher.checks == 8
