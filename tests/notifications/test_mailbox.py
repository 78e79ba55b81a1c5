"""The local mailbox: one .eml file per mail, one log line per mail without personal data."""

from __future__ import annotations

import email
import logging
from email.mime.text import MIMEText
from pathlib import Path

import pytest
import time_machine
from django.core.mail import EmailMultiAlternatives, get_connection

from miantan.notifications.mailbox import MailboxBackend

NOW = "2026-12-07 02:00:00+00:00"


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    return tmp_path / "mail"


def invitation(to: list[str]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        "面谈邀请：李明", "查看面谈: http://127.0.0.1:8000/talks/1/", to=to
    )
    part = MIMEText("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "calendar", "utf-8")
    part.add_header("Content-Disposition", "attachment", filename="invite.ics")
    message.attach(part)
    return message


def test_mailbox_writes_each_mail_to_its_own_eml_file(mailbox):
    backend = MailboxBackend(file_path=mailbox)

    with time_machine.travel(NOW, tick=False):
        sent = backend.send_messages([invitation(["li@h.example"]), invitation(["wang@h.example"])])

    files = sorted(mailbox.glob("*.eml"))
    assert sent == 2
    assert len(files) == 2
    assert all(file.name.startswith("20261207-020000-") for file in files)
    recipients = {email.message_from_bytes(file.read_bytes())["To"] for file in files}
    assert recipients == {"li@h.example", "wang@h.example"}


def test_mailbox_keeps_the_whole_mail_with_its_invitation(mailbox):
    MailboxBackend(file_path=mailbox).send_messages([invitation(["li@h.example"])])

    [file] = mailbox.glob("*.eml")
    message = email.message_from_bytes(file.read_bytes())
    parts = {part.get_content_type(): part for part in message.walk()}
    assert parts["text/plain"].get_payload(decode=True).decode().startswith("查看面谈")
    assert parts["text/calendar"].get_filename() == "invite.ics"


def test_mailbox_logs_one_line_per_mail_without_addresses_or_subjects(mailbox, caplog):
    caplog.set_level(logging.INFO, logger="miantan.notifications.mailbox")

    MailboxBackend(file_path=mailbox).send_messages([invitation(["li@h.example", "x@h.example"])])

    [record] = caplog.records
    [file] = mailbox.glob("*.eml")
    assert record.getMessage() == f"mail to 2 recipients saved as {file}"
    assert "h.example" not in caplog.text
    assert "李明" not in caplog.text


def test_mailbox_skips_a_mail_without_recipients(mailbox):
    assert MailboxBackend(file_path=mailbox).send_messages([invitation([])]) == 0
    assert not mailbox.exists() or not list(mailbox.iterdir())


def test_mailbox_leaves_no_partial_file_behind(mailbox):
    MailboxBackend(file_path=mailbox).send_messages([invitation(["li@h.example"])])

    assert [file.suffix for file in mailbox.iterdir()] == [".eml"]


def test_mailbox_is_the_backend_django_mail_uses_when_configured(mailbox, settings):
    settings.EMAIL_BACKEND = "miantan.notifications.mailbox.MailboxBackend"
    settings.EMAIL_FILE_PATH = mailbox

    get_connection().send_messages([invitation(["li@h.example"])])

    assert len(list(mailbox.glob("*.eml"))) == 1


def test_mailbox_reports_a_folder_it_cannot_write(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")

    with pytest.raises(OSError):
        MailboxBackend(file_path=blocked / "mail").send_messages([invitation(["li@h.example"])])
    assert (
        MailboxBackend(file_path=blocked / "mail", fail_silently=True).send_messages(
            [invitation(["li@h.example"])]
        )
        == 0
    )
