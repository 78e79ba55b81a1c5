"""Text typed through the pages never reaches the disk or the logs as it was typed (PRODUCT.md
I2): a unique marker is planted through each page in PLANTS, then looked for in the database
file (SQLite: a page-for-page copy of the database, freed pages included), in a `pg_dump` of the
database (PostgreSQL) and in everything logged meanwhile, at DEBUG, by every logger, SQL
statements with their parameters included.

To cover another page, add a `Plant` to PLANTS: a function that types the marker it is given
through the pages and returns a reader, which fetches a page showing it back (so the test knows
that the marker was stored and can be read by the people who may).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from miantan.interviews.services import TalkRequest, accept_time, request_talk
from miantan.notifications.services import deliver_due
from miantan.people.models import Employee
from miantan.records.models import Block, Record
from tests.notifications.builders import booked_talk
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours

MONDAY = date(2026, 12, 7)
TUESDAY_NINE = at(MONDAY + timedelta(days=1), 9)
Signer = Callable[[Employee], Client]
Reader = Callable[[], str]


@dataclass(frozen=True)
class Plant:
    """`plant(hospital, client_as, marker)` types `marker` through the pages and returns a
    reader of a page that shows it back."""

    name: str
    plant: Callable[[Hospital, Signer, str], Reader]


def _page_of(client: Client, url: str) -> Reader:
    def read() -> str:
        response = client.get(url)
        assert response.status_code == 200, url
        return response.content.decode()

    return read


def talk_request_reason(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """王芳 asks 周敏 for a talk through the three steps of the request page, saying why."""
    client = client_as(hospital.nurse_wang)
    whom = {
        "step": "1",
        "go": "next",
        "other": hospital.head_nurse.pk,
        "topic": "career",
        "duration_minutes": "45",
        "urgency": "normal",
        "message": f"想聊聊职业发展：{marker}",
    }
    when = {**whom, "step": "2", "slot": "none"}
    assert client.post("/talks/new/", whom).status_code == 200
    assert client.post("/talks/new/", when).status_code == 200
    sent = client.post("/talks/new/", {**when, "step": "3", "go": "send"})
    assert sent.status_code == 302, sent.content.decode()[:500]
    return _page_of(client_as(hospital.head_nurse), sent["Location"])


def decline_reason(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """张伟 declines 李明's request on the talk page, with a reason."""
    talk = request_talk(
        hospital.head, requester=hospital.doctor_li.user, details=TalkRequest(topic="career")
    )
    declined = client_as(hospital.head).post(
        f"/talks/{talk.pk}/decline/", {"reason": f"下周再约：{marker}"}
    )
    assert declined.status_code == 302
    return _page_of(client_as(hospital.doctor_li), f"/talks/{talk.pk}/")


def agenda_item(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """周敏 adds a point to the agenda of her booked talk with 张伟."""
    talk = request_talk(
        hospital.head,
        requester=hospital.head_nurse.user,
        details=TalkRequest(topic="quarterly_review"),
        slot=(TUESDAY_NINE, TUESDAY_NINE + timedelta(minutes=45)),
        accept_conflicts=True,
    )
    accept_time(talk, actor=hospital.head.user)
    edited = client_as(hospital.head_nurse).post(
        f"/talks/{talk.pk}/agenda/", {"agenda": f"本季度回顾\n{marker}"}
    )
    assert edited.status_code == 302
    return _page_of(client_as(hospital.head), f"/talks/{talk.pk}/")


def evidence_note(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """周敏 records an event in 王芳's evidence log from her profile page."""
    client = client_as(hospital.head_nurse)
    recorded = client.post(
        f"/people/{hospital.nurse_wang.pk}/evidence/",
        {"kind": "positive", "happened_on": "2026-12-04", "text": f"主动带教新护士：{marker}"},
    )
    assert recorded.status_code == 302
    return _page_of(client, recorded["Location"].split("#")[0])


def _started_record(hospital: Hospital, client_as: Signer) -> int:
    """王芳's talk with 周敏 at 07:10, started by 周敏 from the talk page: its id."""
    talk = booked_talk(hospital, start=at(MONDAY, 7) + timedelta(minutes=10))
    started = client_as(hospital.head_nurse).post(f"/talks/{talk.pk}/start/")
    assert started.status_code == 302, started.content.decode()[:300]
    return talk.pk


def record_section(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """王芳 writes what went well into the record of her talk, then revises it."""
    talk_id = _started_record(hospital, client_as)
    record = Record.objects.get(talk_id=talk_id)
    block = Block.objects.get(record=record, section="went_well")
    client = client_as(hospital.nurse_wang)
    url = f"/talks/{talk_id}/record/blocks/{block.pk}/"
    for version, text in enumerate((f"静脉输液质控 {marker}", f"静脉输液质控（修订）{marker}")):
        saved = client.post(url, {"version": str(version), "entries": "1", "f-0-project": text})
        assert saved.status_code == 302, saved.content.decode()[:300]
    return _page_of(client_as(hospital.head_nurse), f"/talks/{talk_id}/record/")


def record_comment(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """周敏 comments on 王芳's improvement plan in the record."""
    talk_id = _started_record(hospital, client_as)
    commented = client_as(hospital.head_nurse).post(
        f"/talks/{talk_id}/record/comments/", {"section": "plan", "body": f"目标再具体些：{marker}"}
    )
    assert commented.status_code == 302
    return _page_of(client_as(hospital.nurse_wang), f"/talks/{talk_id}/record/")


def private_note(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """周敏 writes a private note beside the record of her talk with 王芳."""
    talk_id = _started_record(hospital, client_as)
    client = client_as(hospital.head_nurse)
    added = client.post(
        f"/talks/{talk_id}/record/notes/", {"body": f"只给自己看：{marker}", "tier": "private"}
    )
    assert added.status_code == 302
    return _page_of(client, f"/talks/{talk_id}/record/")


def record_attachment(hospital: Hospital, client_as: Signer, marker: str) -> Reader:
    """王芳 attaches a text file, named and written with the marker, to her record; the page
    lists it by name (its content is checked absent from the database and logs too)."""
    talk_id = _started_record(hospital, client_as)
    upload = SimpleUploadedFile(
        f"质控记录{marker}.txt", f"输液核对记录：{marker}\n".encode(), "text/plain"
    )
    attached = client_as(hospital.nurse_wang).post(
        f"/talks/{talk_id}/record/attachments/", {"file": upload, "section": "went_well"}
    )
    assert attached.status_code == 302, attached.content.decode()[:300]
    return _page_of(client_as(hospital.head_nurse), f"/talks/{talk_id}/record/")


PLANTS = [
    Plant("talk request reason", talk_request_reason),
    Plant("decline reason", decline_reason),
    Plant("agenda item", agenda_item),
    Plant("evidence note", evidence_note),
    Plant("record section", record_section),
    Plant("record comment", record_comment),
    Plant("private note", private_note),
    Plant("record attachment", record_attachment),
]


def marker_for(plant: Plant) -> str:
    """A string no ciphertext, name or number of the test data contains by chance."""
    return "MTMARKER" + re.sub(r"\W", "", plant.name.title()) + os.urandom(6).hex()


@dataclass(frozen=True)
class Planted:
    markers: dict[str, str]  # plant name → marker
    readers: dict[str, Reader]
    log: list[logging.LogRecord]


@pytest.fixture
def planted(
    transactional_db: None, hospital: Hospital, client_as: Signer, caplog: pytest.LogCaptureFixture
) -> Iterator[Planted]:
    """Every plant planted, with the notifications they caused delivered (their worded text is
    a copy of what was typed), everything logged meanwhile captured, and committed: another
    connection (pg_dump) sees it."""
    Employee.objects.filter(organisation=hospital.organisation).update(language="en")
    hospital_hours(hospital.organisation)
    markers = {plant.name: marker_for(plant) for plant in PLANTS}
    with _every_logger_at_debug(caplog), time_machine.travel(at(MONDAY, 7), tick=False):
        readers = {
            plant.name: plant.plant(hospital, client_as, markers[plant.name]) for plant in PLANTS
        }
        deliver_due()
        log = list(caplog.records)
        yield Planted(markers=markers, readers=readers, log=log)


class _every_logger_at_debug:
    """Every logger at DEBUG and heard by caplog (those that do not propagate too), and the
    SQL statements logged with their parameters."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.own: list[logging.Logger] = []

    def __enter__(self) -> None:
        self.caplog.set_level(logging.DEBUG)
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            self.caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate:
                logger.addHandler(self.caplog.handler)
                self.own.append(logger)
        connection.force_debug_cursor = True

    def __exit__(self, *exc: object) -> None:
        connection.force_debug_cursor = False
        for logger in self.own:
            logger.removeHandler(self.caplog.handler)


def assert_markers_absent(image: bytes, planted: Planted, where: str) -> None:
    for name, marker in planted.markers.items():
        assert marker.encode() not in image, f"the {name} is readable in {where}"


def test_every_marker_was_stored_and_reads_back_for_those_who_may(planted: Planted):
    for name, read in planted.readers.items():
        assert planted.markers[name] in read(), name
    # The notifications carried the request's message and the reason (their worded text is a
    # copy of them, kept in the database): the copies exist and were checked, not skipped.
    mailed = "\n".join(str(message.body) for message in mail.outbox)
    assert planted.markers["talk request reason"] in mailed
    assert planted.markers["decline reason"] in mailed


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite database file")
def test_no_marker_is_in_the_sqlite_database_file(planted: Planted, tmp_path: Path):
    image = _sqlite_image(tmp_path / "image.sqlite3")

    assert b"interviews_talk" in image and "周敏".encode() in image  # the copy holds the data
    assert_markers_absent(image, planted, "the SQLite database file")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a pg_dump of PostgreSQL")
def test_no_marker_is_in_a_pg_dump(planted: Planted):
    dump = _pg_dump()

    assert b"COPY public.interviews_talk" in dump and "周敏".encode() in dump
    assert_markers_absent(dump, planted, "the pg_dump")


def test_no_marker_is_in_the_logs(planted: Planted):
    logged = "\n".join(_everything_in(record) for record in planted.log)

    # The capture heard the SQL statements with their parameters, so it would have heard the
    # text had it been written as typed.
    assert any(record.name == "django.db.backends" for record in planted.log)
    assert "INSERT INTO" in logged and "mt1:test:" in logged
    for name, marker in planted.markers.items():
        assert marker not in logged, f"the {name} is in the logs"


def test_no_marker_is_in_the_stored_files(planted: Planted):
    """Attachments are kept sealed, under names of their own, outside the web root."""
    root = Path(settings.MIANTAN_ATTACHMENT_ROOT)
    stored = [path for path in root.rglob("*") if path.is_file()]
    assert stored, "the attachment was stored"
    for path in stored:
        content = path.read_bytes()
        for name, marker in planted.markers.items():
            assert marker.encode() not in content, f"the {name} is in {path}"
            assert marker not in str(path), f"the {name} names {path}"


def _everything_in(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
    parts += [repr(value) for key, value in vars(record).items() if key not in ("args", "msg")]
    return " ".join(parts)


def _sqlite_image(target: Path) -> bytes:
    """The database, page for page (free pages too), as a file: the test database may live in
    memory, and a copy made with SQLite's backup holds exactly what its file would."""
    connection.ensure_connection()
    with sqlite3.connect(target) as copy:
        connection.connection.backup(copy)
    copy.close()
    return target.read_bytes()


def _pg_dump() -> bytes:
    settings = connection.settings_dict
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to check what PostgreSQL writes"
    command = [pg_dump, "--no-owner", "--dbname", settings["NAME"]]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings.get(key):
            command += [option, str(settings[key])]
    env = {**os.environ, "PGPASSWORD": str(settings.get("PASSWORD") or "")}
    done = subprocess.run(command, capture_output=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout
