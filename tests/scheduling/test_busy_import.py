"""Busy time from ICS files and calendar feeds: times only, recurrences expanded, free and
cancelled events skipped, a re-import changes nothing, a broken file changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine

from miantan.audit.models import AuditEvent
from miantan.scheduling.busy_import import CalendarImportError, import_busy_feed, import_busy_ics
from miantan.scheduling.models import BusyBlock
from tests.personas import Hospital

from .builders import at

NOW = at(date(2026, 12, 7), 7)

CALENDAR = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:ward-meeting
DTSTART;TZID=Asia/Shanghai:20261208T150000
DTEND;TZID=Asia/Shanghai:20261208T160000
RRULE:FREQ=WEEKLY;COUNT=3
SUMMARY:Secret project review
END:VEVENT
BEGIN:VEVENT
UID:lunch
DTSTART:20261209T040000Z
DTEND:20261209T050000Z
TRANSP:TRANSPARENT
SUMMARY:Lunch (free)
END:VEVENT
BEGIN:VEVENT
UID:dropped
DTSTART:20261210T020000Z
DTEND:20261210T030000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:conference
DTSTART;VALUE=DATE:20261211
DTEND;VALUE=DATE:20261212
SUMMARY:Conference
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def test_import_busy_ics_keeps_times_only_and_expands_recurrences(
    hospital: Hospital, frozen: None
) -> None:
    result = import_busy_ics(hospital.head, CALENDAR, actor=hospital.head.user)

    assert (result.created, result.removed, result.skipped) == (4, 0, 2)
    blocks = list(BusyBlock.objects.filter(employee=hospital.head).order_by("start"))
    assert [(b.start, b.end) for b in blocks] == [
        (at(date(2026, 12, 8), 15), at(date(2026, 12, 8), 16)),
        (at(date(2026, 12, 11), 0), at(date(2026, 12, 12), 0)),
        (at(date(2026, 12, 15), 15), at(date(2026, 12, 15), 16)),
        (at(date(2026, 12, 22), 15), at(date(2026, 12, 22), 16)),
    ]
    stored = " ".join(f"{b.uid} {b.source}" for b in blocks)
    assert "Secret" not in stored and "Conference" not in stored
    [event] = AuditEvent.objects.filter(action="scheduling.busy_blocks.imported")
    assert event.subject_id == hospital.head.pk and event.data["created"] == 4


def test_import_busy_ics_again_changes_nothing_and_follows_deletions(
    hospital: Hospital, frozen: None
) -> None:
    import_busy_ics(hospital.head, CALENDAR, actor=None)

    again = import_busy_ics(hospital.head, CALENDAR, actor=None)
    assert not again.changed
    without_conference = CALENDAR.replace(
        CALENDAR[
            CALENDAR.index(b"BEGIN:VEVENT\nUID:conference") : CALENDAR.index(b"END:VCALENDAR")
        ],
        b"",
    )
    shorter = import_busy_ics(hospital.head, without_conference, actor=None)
    assert (shorter.created, shorter.removed) == (0, 1)
    assert BusyBlock.objects.filter(employee=hospital.head).count() == 3


def test_import_busy_ics_refuses_a_file_that_is_not_a_calendar(
    hospital: Hospital, frozen: None
) -> None:
    import_busy_ics(hospital.head, CALENDAR, actor=None)

    with pytest.raises(CalendarImportError):
        import_busy_ics(hospital.head, b"\x89PNG not a calendar", actor=None)
    assert BusyBlock.objects.filter(employee=hospital.head).count() == 4


class _Feed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = CALENDAR if self.path == "/calendar.ics" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_busy_feed_reads_a_calendar_url(
    hospital: Hospital, frozen: None, feed_server: str
) -> None:
    result = import_busy_feed(hospital.head, f"{feed_server}/calendar.ics", actor=None)

    assert result.created == 4
    assert set(BusyBlock.objects.values_list("source", flat=True)) == {"feed"}
    with pytest.raises(CalendarImportError):
        import_busy_feed(hospital.head, f"{feed_server}/missing.ics", actor=None)
    with pytest.raises(CalendarImportError):
        import_busy_feed(hospital.head, "file:///etc/passwd", actor=None)
    assert BusyBlock.objects.count() == 4


def test_imported_busy_time_is_busy_for_the_slot_search(hospital: Hospital, frozen: None) -> None:
    from miantan.scheduling.availability import load_availability

    import_busy_ics(hospital.head, CALENDAR, actor=None)
    loaded = load_availability([hospital.head], NOW, NOW + timedelta(days=7))[hospital.head.pk]

    assert any(b.reason == "busy" and b.start == at(date(2026, 12, 8), 15) for b in loaded.busy)


def test_the_calendar_page_reads_an_uploaded_calendar_file(
    hospital: Hospital, frozen: None, client_as: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_as(hospital.head)

    done = client.post(
        "/me/calendar/busy/", {"file": SimpleUploadedFile("work.ics", CALENDAR, "text/calendar")}
    )
    refused = client.post(
        "/me/calendar/busy/", {"file": SimpleUploadedFile("photo.ics", b"GIF89a", "image/gif")}
    )
    missing = client.post("/me/calendar/busy/", {})

    assert done.status_code == 302
    assert BusyBlock.objects.filter(employee=hospital.head, source="ics").count() == 4
    assert refused.status_code == 400 and missing.status_code == 400
    assert b'data-testid="busy-import-error"' in refused.content
    assert BusyBlock.objects.filter(employee=hospital.head).count() == 4
    page = client.get("/me/calendar/").content.decode()
    assert 'data-testid="busy-count"' in page and "4" in page
