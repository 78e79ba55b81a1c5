"""`manage.py rotate_keys`: values sealed under k1, k2 put in front of the ring, the command run,
then k1 removed: every value still reads. Progress is printed per column, batches commit on
their own, an interrupted run resumes without touching what is done, and columns sealed row by
row and sealed files (SEALED_BY_ROW, SEALED_FILES) are re-sealed too."""

from __future__ import annotations

import base64
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test.utils import isolate_apps
from django.utils import timezone

from miantan.core import crypto
from miantan.core.management.commands import rotate_keys
from miantan.interviews.models import Talk, TalkActivity
from miantan.metrics.models import EvidenceEntry
from miantan.notifications.models import Notification
from tests.notifications.builders import talk_between
from tests.personas import Hospital

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()
ONLY_K1, BOTH, ONLY_K2 = f"k1:{K1}", f"k2:{K2},k1:{K1}", f"k2:{K2}"
AGENDA = [{"text": "夜班后的休息安排", "source": "own", "data": {}}]
NOTES = [f"第{n}次：主动带教新护士" for n in range(5)]


@dataclass(frozen=True)
class Run:
    out: str
    err: str
    error: str = ""  # the CommandError, if the command stopped with one

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def rotate(*args: str) -> Run:
    out, err = StringIO(), StringIO()
    try:
        call_command("rotate_keys", *args, stdout=out, stderr=err)
    except CommandError as failure:
        return Run(out.getvalue(), err.getvalue(), str(failure))
    return Run(out.getvalue(), err.getvalue())


def key_ids(model: type[models.Model], field: str) -> Counter[str]:
    """How many values of the column are sealed under each key, read with a raw cursor."""
    quote = connection.ops.quote_name
    column, table = quote(model._meta.get_field(field).column), quote(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608
        return Counter(crypto.key_id_of(value) for (value,) in cursor.fetchall() if value)


def everywhere() -> Counter[str]:
    found: Counter[str] = Counter()
    for column in rotate_keys.discover()[0]:
        found += key_ids(column.model, column.field.name)
    return found


@pytest.fixture
def under_k1(settings, hospital: Hospital) -> dict[str, Any]:
    """A talk, its activity, five evidence entries and a notification, sealed under k1."""
    settings.MIANTAN_DATA_KEYS = ONLY_K1
    talk = talk_between(hospital, message="想聊聊夜班", closing_reason="人手不够", agenda=AGENDA)
    TalkActivity.objects.create(talk=talk, event="declined", note="人手不够")
    for text in NOTES:
        EvidenceEntry.objects.create(
            organisation=hospital.organisation,
            employee=hospital.nurse_wang,
            kind="positive",
            happened_on=date(2026, 3, 2),
            text=text,
        )
    Notification.objects.create(
        organisation=hospital.organisation,
        recipient=hospital.head_nurse,
        kind="talk.requested",
        channel="inbox",
        key="rotation",
        due_at=timezone.now(),
        body="王芳请你面谈：想聊聊夜班",
    )
    return {"talk": talk}


def everything_reads(talk: Talk) -> None:
    fresh = Talk.objects.get(pk=talk.pk)
    assert (fresh.message, fresh.closing_reason, fresh.agenda) == ("想聊聊夜班", "人手不够", AGENDA)
    assert list(TalkActivity.objects.values_list("note", flat=True)) == ["人手不够"]
    assert sorted(EvidenceEntry.objects.values_list("text", flat=True)) == sorted(NOTES)
    assert Notification.objects.get().body == "王芳请你面谈：想聊聊夜班"


def test_rotate_keys_reseals_everything_so_that_the_old_key_can_be_removed(settings, under_k1):
    assert everywhere() == Counter({"k1": 10})
    settings.MIANTAN_DATA_KEYS = BOTH

    run = rotate("--batch-size", "2")

    assert "re-sealing under key 'k2'" in run.out
    for line in (
        "interviews.talk.message: 1/1",
        "interviews.talk.agenda: 1/1",
        "interviews.talkactivity.note: 1/1",
        "metrics.evidenceentry.text: 0/5",
        "metrics.evidenceentry.text: 2/5",
        "metrics.evidenceentry.text: 4/5",
        "metrics.evidenceentry.text: 5/5",
        "notifications.notification.body: 1/1",
        "notifications.notification.ics: 0/0",
    ):
        assert line in run.lines, line
    assert "10 value(s) and 0 file(s) re-sealed" in run.out and (run.err, run.error) == ("", "")
    assert everywhere() == Counter({"k2": 10})
    settings.MIANTAN_DATA_KEYS = ONLY_K2
    everything_reads(under_k1["talk"])
    check = rotate("--check")
    assert check.error == "" and "everything is sealed under key 'k2'" in check.out


def test_rotate_keys_check_counts_what_is_left_and_changes_nothing(settings, under_k1):
    settings.MIANTAN_DATA_KEYS = BOTH

    check = rotate("--check")

    assert check.error == "10 sealed value(s) or file(s) are not under key 'k2'"
    assert "metrics.evidenceentry.text: 5 not under key 'k2'" in check.lines
    assert "interviews.talk.message: 1 not under key 'k2'" in check.lines
    assert everywhere() == Counter({"k1": 10})


def test_a_second_run_changes_nothing(settings, under_k1):
    settings.MIANTAN_DATA_KEYS = BOTH
    rotate()
    before = EvidenceEntry.objects.values_list("pk", "text")
    tokens = [(pk, _token(pk)) for pk, _text in before]

    again = rotate()

    assert "metrics.evidenceentry.text: 0/0" in again.lines
    assert "0 value(s) and 0 file(s) re-sealed" in again.out
    assert [(pk, _token(pk)) for pk, _text in before] == tokens


def _token(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM metrics_evidenceentry WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_run_resumes_where_it_stopped(settings, monkeypatch, under_k1):
    settings.MIANTAN_DATA_KEYS = BOTH
    reseal = crypto.reseal
    seen: list[str] = []

    def failing(token: str, *, context: str) -> str:
        if context == "metrics.evidenceentry.text":
            seen.append(token)
            if len(seen) == 3:
                raise RuntimeError("the machine went down")
        return reseal(token, context=context)

    monkeypatch.setattr(crypto, "reseal", failing)
    with pytest.raises(RuntimeError, match="went down"):
        rotate("--batch-size", "2")
    monkeypatch.setattr(crypto, "reseal", reseal)
    # The first batch of two was committed; the second was rolled back with the failure.
    assert key_ids(EvidenceEntry, "text") == Counter({"k2": 2, "k1": 3})
    done = {pk: _token(pk) for pk in EvidenceEntry.objects.values_list("pk", flat=True)}
    done = {pk: token for pk, token in done.items() if crypto.key_id_of(token) == "k2"}

    resumed = rotate("--batch-size", "2")

    assert "metrics.evidenceentry.text: 0/3" in resumed.lines
    assert "metrics.evidenceentry.text: 3/3" in resumed.lines
    assert all(_token(pk) == token for pk, token in done.items())
    assert everywhere() == Counter({"k2": 10})
    settings.MIANTAN_DATA_KEYS = ONLY_K2
    everything_reads(under_k1["talk"])


def test_a_value_that_does_not_open_stops_the_run_and_names_it(settings, under_k1):
    settings.MIANTAN_DATA_KEYS = BOTH
    entry = EvidenceEntry.objects.order_by("pk").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE metrics_evidenceentry SET text = %s WHERE id = %s",
            [_token(entry.pk).replace("mt1:k1:", "mt1:k0:"), entry.pk],
        )

    run = rotate("--batch-size", "2")

    assert run.error.startswith(f"metrics.evidenceentry.text #{entry.pk}: ")
    assert "sealed with key 'k0'" in run.error

    assert key_ids(EvidenceEntry, "text") == Counter({"k0": 1, "k1": 4})


def test_the_batch_size_must_be_positive(db):
    assert rotate("--batch-size", "0").error == "--batch-size must be at least 1"


# --- columns sealed row by row and sealed files -----------------------------------------------


@pytest.fixture
def private_notes(transactional_db, settings, monkeypatch, tmp_path: Path) -> Iterator[Any]:
    """A model as the records app declares them: a body sealed for its author, a file sealed
    for its row. Its table exists for the test only."""
    with isolate_apps("miantan.core"):

        class PrivateNote(models.Model):
            author = models.IntegerField()
            body = models.TextField()
            path = models.CharField(max_length=200, blank=True)

            SEALED_BY_ROW = {"body": "body_context"}
            SEALED_FILES = {"path": "file_context"}

            class Meta:
                app_label = "core"
                db_table = "core_rotation_test_note"

            def __str__(self) -> str:
                return f"note {self.pk}"

            def body_context(self) -> str:
                return f"records.note.private:{self.author}"

            def file_context(self) -> str:
                return f"records.attachment:{self.pk}"

    installed = rotate_keys.sealed_models
    monkeypatch.setattr(rotate_keys, "sealed_models", lambda: [*installed(), PrivateNote])
    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "attachments"
    with connection.schema_editor() as editor:
        editor.create_model(PrivateNote)
    try:
        yield PrivateNote
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(PrivateNote)


def add_note(model: Any, author: int, text: str, content: bytes, root: Path) -> Any:
    note = model.objects.create(
        author=author, body=crypto.encrypt(text, context=f"records.note.private:{author}")
    )
    note.path = f"{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.bin"
    (root / note.path).parent.mkdir(parents=True, exist_ok=True)
    (root / note.path).write_bytes(crypto.encrypt_bytes(content, context=note.file_context()))
    note.save(update_fields=["path"])
    return note


def test_rows_sealed_by_author_and_sealed_files_are_resealed(settings, private_notes, tmp_path):
    settings.MIANTAN_DATA_KEYS = ONLY_K1
    root = tmp_path / "attachments"
    notes = [
        add_note(private_notes, author, f"只给自己看的笔记 {n}", f"附件 {n}".encode(), root)
        for n, author in enumerate([41, 42, 42])
    ]
    settings.MIANTAN_DATA_KEYS = BOTH

    run = rotate("--batch-size", "2")

    assert "core.privatenote.body: 2/3" in run.lines and "core.privatenote.body: 3/3" in run.lines
    assert "core.privatenote.path (files): 3/3" in run.lines and (run.err, run.error) == ("", "")
    assert key_ids(private_notes, "body") == Counter({"k2": 3})
    assert sorted(p.name for p in root.rglob("*") if p.is_file() and p.suffix != ".bin") == []
    settings.MIANTAN_DATA_KEYS = ONLY_K2
    for n, note in enumerate(notes):
        stored = private_notes.objects.get(pk=note.pk)
        context = f"records.note.private:{note.author}"
        assert crypto.decrypt(stored.body, context=context) == f"只给自己看的笔记 {n}"
        blob = (root / note.path).read_bytes()
        assert blob.startswith(b"mt1:k2:")
        assert crypto.decrypt_bytes(blob, context=note.file_context()) == f"附件 {n}".encode()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(
            private_notes.objects.get(pk=notes[0].pk).body, context="records.note.private:42"
        )


def test_a_missing_sealed_file_is_reported_and_the_others_are_resealed(
    settings, private_notes, tmp_path
):
    settings.MIANTAN_DATA_KEYS = ONLY_K1
    root = tmp_path / "attachments"
    kept, gone = (add_note(private_notes, 41, "笔记", b"content", root) for _ in range(2))
    (root / gone.path).unlink()
    settings.MIANTAN_DATA_KEYS = BOTH

    run = rotate()

    assert run.error == "1 sealed file(s) are missing; the others are done"
    assert f"missing file: core.privatenote.path (files) #{gone.pk}: {gone.path}" in run.err
    assert crypto.bytes_key_id((root / kept.path).read_bytes()) == "k2"
    assert key_ids(private_notes, "body") == Counter({"k2": 2})
