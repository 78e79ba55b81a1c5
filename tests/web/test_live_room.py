"""The live room of a record, spoken to as a browser would (channels' WebSocket communicator,
the project's ASGI application, the in-memory channel layer): who may join, a save reaching
the other side, a conflict, and someone whose access ends while connected."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from miantan.people.models import RoleAssignment
from miantan.records.models import Block
from tests.records.builders import TALK_AT, block_of, started_record

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 3


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=True):
        yield


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """The scenario on an event loop of its own thread (the test's thread may hold another
    one, e.g. the browser tests' in the same worker), its failure raised here."""
    failures: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(scenario())  # type: ignore[arg-type]
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(timeout=60)
    if failures:
        raise failures[0]
    assert not thread.is_alive(), "the scenario did not finish"


def connect(employee: Any, talk_id: int) -> WebsocketCommunicator:
    client = Client()
    client.force_login(employee.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return WebsocketCommunicator(
        application,
        f"/ws/talks/{talk_id}/record/?lang=en",
        headers=[(b"cookie", cookie), (b"origin", b"http://testserver")],
    )


async def joined(room: WebsocketCommunicator) -> None:
    connected, _code = await room.connect(timeout=TIMEOUT)
    assert connected


async def next_of(room: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    """The next message of this kind (presence news in between is skipped)."""
    while True:
        message = await room.receive_json_from(timeout=TIMEOUT)
        if message["type"] == kind:
            return message


async def outcome_of(room: WebsocketCommunicator) -> dict[str, Any]:
    """The answer to a save: "saved" or "conflict"."""
    while True:
        message = await room.receive_json_from(timeout=TIMEOUT)
        if message["type"] in ("saved", "conflict"):
            return message


def save(block: Block, text: str, version: int) -> dict[str, Any]:
    return {
        "type": "save",
        "block": block.pk,
        "version": version,
        "fields": [["version", str(version)], ["f-agreements", text]],
    }


def test_only_those_who_may_see_the_record_join(hospital):
    record = started_record(hospital)

    async def scenario() -> None:
        outsider = connect(hospital.zhao, record.talk_id)
        connected, code = await outsider.connect(timeout=TIMEOUT)
        assert not connected and code == 4403
        for person in (hospital.nurse_wang, hospital.head_nurse, hospital.hr_partner):
            room = connect(person, record.talk_id)
            await joined(room)
            await room.disconnect()

    run(scenario)


def test_what_one_side_saves_reaches_the_other(hospital):
    record = started_record(hospital)
    block = block_of(record, "agreement")

    async def scenario() -> None:
        manager, employee = (
            connect(hospital.head_nurse, record.talk_id),
            connect(hospital.nurse_wang, record.talk_id),
        )
        await joined(manager)
        await joined(employee)
        here = await next_of(manager, "presence")
        assert here["name"] == "王芳"
        await manager.send_json_to(save(block, "下季度带教两名新护士", 0))
        assert (await next_of(manager, "saved"))["version"] == 1
        section = await next_of(employee, "section")
        assert section["section"] == "agreement"
        assert "下季度带教两名新护士" in section["html"]
        assert section["blocks"][str(block.pk)]["version"] == 1
        await manager.disconnect()
        await employee.disconnect()

    run(scenario)


def test_two_saves_on_one_version_give_the_later_a_conflict_not_a_lost_edit(hospital):
    record = started_record(hospital)
    block = block_of(record, "agreement")

    async def scenario() -> None:
        manager, employee = (
            connect(hospital.head_nurse, record.talk_id),
            connect(hospital.nurse_wang, record.talk_id),
        )
        await joined(manager)
        await joined(employee)
        texts = {"manager": "周敏的文字", "employee": "王芳的文字"}
        await manager.send_json_to(save(block, texts["manager"], 0))
        await employee.send_json_to(save(block, texts["employee"], 0))
        # Which of the two saves is first is up to the database; the other is refused.
        answers = {
            "manager": await outcome_of(manager),
            "employee": await outcome_of(employee),
        }
        kinds = sorted(answer["type"] for answer in answers.values())
        assert kinds == ["conflict", "saved"]
        winner = next(side for side, answer in answers.items() if answer["type"] == "saved")
        loser = "employee" if winner == "manager" else "manager"
        assert answers[winner]["version"] == 1
        assert answers[loser]["version"] == 1
        assert any(texts[winner] in line for line in answers[loser]["theirs"])
        outcome["kept"] = texts[winner]
        await manager.disconnect()
        await employee.disconnect()

    outcome: dict[str, str] = {}
    run(scenario)
    block.refresh_from_db()
    assert block.values == {"agreements": outcome["kept"]}


def test_someone_whose_access_ends_while_connected_receives_nothing_more(hospital):
    record = started_record(hospital)
    block = block_of(record, "agreement")

    async def scenario() -> None:
        manager, hr = (
            connect(hospital.head_nurse, record.talk_id),
            connect(hospital.hr_partner, record.talk_id),
        )
        await joined(manager)
        await joined(hr)
        await manager.send_json_to(save(block, "第一次", 0))
        assert "第一次" in (await next_of(hr, "section"))["html"]

        await revoke_hr(hospital)
        await manager.send_json_to(save(block, "HR 不该看到这句", 1))
        await next_of(manager, "saved")
        closed = await hr.receive_output(timeout=TIMEOUT)
        assert closed == {"type": "websocket.close", "code": 4403}
        assert await hr.receive_nothing(timeout=0.5)
        await manager.disconnect()

    run(scenario)


async def revoke_hr(hospital) -> None:
    from channels.db import database_sync_to_async

    await database_sync_to_async(
        lambda: RoleAssignment.objects.filter(employee=hospital.hr_partner).delete()
    )()


def test_the_interviewer_alone_gets_a_cue_and_nothing_of_it_is_kept(hospital):
    from miantan.audit.models import AuditEvent

    record = started_record(hospital)
    block = block_of(record, "went_well")
    frustrated = "我真的受够了，每次出问题都怪我"

    async def scenario() -> None:
        manager, employee = (
            connect(hospital.head_nurse, record.talk_id),
            connect(hospital.nurse_wang, record.talk_id),
        )
        await joined(manager)
        await joined(employee)
        await employee.send_json_to(
            {
                "type": "save",
                "block": block.pk,
                "version": 0,
                "fields": [["entries", "1"], ["f-0-project", frustrated]],
            }
        )
        await next_of(employee, "saved")
        cue = await next_of(manager, "cue")
        assert cue["label"] in ("frustration", "defensiveness")
        assert cue["message"]
        # The employee's own page never hears of it.
        while not await employee.receive_nothing(timeout=0.5):
            assert (await employee.receive_json_from())["type"] != "cue"
        await manager.disconnect()
        await employee.disconnect()

    run(scenario)
    kept = " ".join(str(data) for data in AuditEvent.objects.values_list("data", flat=True))
    assert "frustration" not in kept and "defensiveness" not in kept


def test_no_cue_where_the_organisation_switched_them_off(hospital):
    record = started_record(hospital)
    block = block_of(record, "went_well")
    type(hospital.organisation).objects.filter(pk=hospital.organisation.pk).update(
        talk_cues_enabled=False
    )

    async def scenario() -> None:
        manager, employee = (
            connect(hospital.head_nurse, record.talk_id),
            connect(hospital.nurse_wang, record.talk_id),
        )
        await joined(manager)
        await joined(employee)
        await employee.send_json_to(
            {
                "type": "save",
                "block": block.pk,
                "version": 0,
                "fields": [["entries", "1"], ["f-0-project", "我真的受够了，每次出问题都怪我"]],
            }
        )
        await next_of(manager, "section")
        while not await manager.receive_nothing(timeout=0.5):
            assert (await manager.receive_json_from())["type"] != "cue"
        await manager.disconnect()
        await employee.disconnect()

    run(scenario)
