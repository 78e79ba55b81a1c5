"""The polling fallback of the live room is long polling: a page without a WebSocket asks what
changed since its stamp, and when nothing has, the request waits until the room hears of a
change and answers then. Spoken to as a browser would, over HTTP and WebSockets, to the
project's ASGI application served by uvicorn, on the in-memory channel layer."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from miantan.people.models import RoleAssignment
from tests.records.builders import TALK_AT, block_of, started_record
from tests.web.asgi_server import asgi_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=True):
        yield


def session_of(employee: Any) -> str:
    client = Client()
    client.force_login(employee.user)
    return str(client.cookies["sessionid"].value)


def poll(base: str, talk_id: int, session: str, **params: str) -> tuple[int, dict[str, Any]]:
    url = f"{base}{reverse('web:record_live', args=[talk_id])}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=40) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {"body": error.read().decode()}


def room(base: str, talk_id: int, session: str):  # type: ignore[no-untyped-def]
    from websockets.sync.client import connect

    host = base.removeprefix("http://")
    return connect(
        f"ws://{host}/ws/talks/{talk_id}/record/?lang=zh-hans",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": base},
        open_timeout=10,
    )


def save_over(socket, block_id: int, text: str, version: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    socket.send(
        json.dumps(
            {
                "type": "save",
                "block": block_id,
                "version": version,
                "fields": [["version", str(version)], ["f-agreements", text]],
            }
        )
    )
    deadline = time.monotonic() + 10
    while True:
        message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] in ("saved", "conflict", "invalid", "error"):
            return message


def test_a_waiting_poll_answers_as_soon_as_the_other_side_saves(asgi_server, hospital):  # noqa: F811
    record = started_record(hospital)
    block = block_of(record, "agreement")
    employee, manager = session_of(hospital.nurse_wang), session_of(hospital.head_nurse)
    status, first = poll(asgi_server, record.talk_id, employee, wait="20")
    # Without a stamp the page has nothing yet: everything at once, no waiting.
    assert status == 200 and first["waited"] is False
    assert {s["section"] for s in first["sections"]} >= {"agreement"}

    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(
            poll, asgi_server, record.talk_id, employee, stamp=first["stamp"], wait="20"
        )
        time.sleep(0.5)
        assert not waiting.done()  # nothing new yet: the request waits
        with room(asgi_server, record.talk_id, manager) as socket:
            assert save_over(socket, block.pk, "夜班交接单由我来改", 0)["version"] == 1
        status, answer = waiting.result(timeout=30)
    assert time.monotonic() - started < 10  # woken by the save, not by the 20 s limit
    assert status == 200 and answer["waited"] is True
    agreement = next(s for s in answer["sections"] if s["section"] == "agreement")
    assert "夜班交接单由我来改" in agreement["html"]
    assert agreement["blocks"][str(block.pk)]["version"] == 1
    assert answer["stamp"] != first["stamp"]


def test_with_nothing_new_the_poll_answers_when_its_wait_is_up(asgi_server, hospital):  # noqa: F811
    record = started_record(hospital)
    employee = session_of(hospital.nurse_wang)
    stamp = poll(asgi_server, record.talk_id, employee)[1]["stamp"]
    started = time.monotonic()
    status, answer = poll(asgi_server, record.talk_id, employee, stamp=stamp, wait="1")
    assert time.monotonic() - started >= 0.9
    assert status == 200
    assert answer == {"stamp": stamp, "state": record.state, "sections": [], "waited": True}


def test_someone_whose_access_ends_while_waiting_gets_nothing_of_the_change(
    asgi_server,  # noqa: F811
    hospital,
):
    record = started_record(hospital)
    block = block_of(record, "agreement")
    hr, manager = session_of(hospital.hr_partner), session_of(hospital.head_nurse)
    stamp = poll(asgi_server, record.talk_id, hr)[1]["stamp"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(poll, asgi_server, record.talk_id, hr, stamp=stamp, wait="20")
        time.sleep(0.3)
        RoleAssignment.objects.filter(employee=hospital.hr_partner).delete()
        with room(asgi_server, record.talk_id, manager) as socket:
            assert save_over(socket, block.pk, "HR 不该看到这句", 0)["version"] == 1
        status, answer = waiting.result(timeout=30)
    assert status == 404
    assert "HR 不该看到这句" not in json.dumps(answer, ensure_ascii=False)


def test_a_server_without_an_event_loop_answers_at_once_and_says_it_did_not_wait(
    hospital, client_as, outside_the_browser_loop
):
    record = started_record(hospital)
    client = client_as(hospital.nurse_wang)  # WSGI: no event loop to wait on
    url = reverse("web:record_live", args=[record.talk_id])
    stamp = client.get(url).json()["stamp"]
    started = time.monotonic()
    answer = client.get(url, {"stamp": stamp, "wait": "20"}).json()
    assert time.monotonic() - started < 5
    assert answer["waited"] is False and answer["sections"] == []


def test_the_wait_is_bounded(hospital):
    """A page asking for an hour waits at most LONGEST_WAIT_SECONDS (checked without waiting:
    the limit is what the view applies)."""
    from miantan.web.views import records

    assert records.LONGEST_WAIT_SECONDS <= 30


def test_waiting_polls_hold_no_database_connection(asgi_server, hospital):  # noqa: F811
    """However many pages wait for a change, none of them keeps a connection to the database
    (PostgreSQL counts them; SQLite has none to count)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("connections are counted by PostgreSQL")
    record = started_record(hospital)
    sessions = [session_of(hospital.nurse_wang), session_of(hospital.head_nurse)]
    stamp = poll(asgi_server, record.talk_id, sessions[0])[1]["stamp"]

    def others() -> int:
        pool = getattr(connection, "pool", None)  # MIANTAN_DB_POOL_SIZE: idle ones wait there
        if pool is not None:
            connection.ensure_connection()
            stats = pool.get_stats()
            return int(stats["pool_size"] - stats["pool_available"]) - 1  # less this test's
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(cursor.fetchone()[0])

    # Connections other tests' threads may still hold count the same before and after: what
    # is checked is that the waiting pages add none.
    before = others()
    with ThreadPoolExecutor(4) as pool:
        waiting = [
            pool.submit(poll, asgi_server, record.talk_id, sessions[n % 2], stamp=stamp, wait="4")
            for n in range(4)
        ]
        time.sleep(2)
        assert not any(job.done() for job in waiting)  # all four are waiting
        assert others() <= before
        answers = [job.result(timeout=30) for job in waiting]
    assert all(status == 200 and answer["waited"] for status, answer in answers)
