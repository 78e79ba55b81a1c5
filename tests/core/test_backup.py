"""`manage.py backup` and `manage.py restore` (PRODUCT.md I4), on the database the suite runs
on: a restored copy matches the backup table by table, a damaged backup and a non-empty
database are refused loudly, and no key is ever in a backup."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import closing
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from miantan.audit import keys
from miantan.audit.models import AuditChainHead, AuditEvent
from miantan.audit.services import record
from miantan.core import crypto
from miantan.core.backup import FILES, MANIFEST
from miantan.people.models import Employee
from tests.personas import build_hospital

pytestmark = pytest.mark.django_db(transaction=True)

MEDIA_FILE = "avatars/王.png"
ATTACHMENT_FILE = "ab/cdef.sealed"


@pytest.fixture
def seeded(transactional_db: None, tmp_path: Path, settings: Any) -> None:
    """A small organisation with audit events and uploaded files."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "attachments"
    (settings.MEDIA_ROOT / "avatars").mkdir(parents=True)
    (settings.MEDIA_ROOT / MEDIA_FILE).write_bytes(b"\x89PNG picture")
    (settings.MIANTAN_ATTACHMENT_ROOT / "ab").mkdir(parents=True)
    (settings.MIANTAN_ATTACHMENT_ROOT / ATTACHMENT_FILE).write_bytes(os.urandom(64))
    hospital = build_hospital()
    for number in range(5):
        record(
            "tests.backup", actor=None, organisation_id=hospital.organisation.pk, data={"n": number}
        )
    record("tests.backup", actor=None, data={"global": True})


@pytest.fixture
def target(tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database on the server the suite runs on."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    import psycopg

    source = connection.settings_dict
    name = f"miantan_restore_{uuid.uuid4().hex[:10]}"
    user, password = source.get("USER") or "postgres", source.get("PASSWORD") or ""
    host, port = source.get("HOST") or "127.0.0.1", source.get("PORT") or 5432
    credentials = f"{user}:{password}" if password else user
    server = f"postgres://{credentials}@{host}:{port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backup(output: Path) -> Path:
    out = StringIO()
    call_command("backup", "--output", str(output), stdout=out, stderr=StringIO())
    return Path(out.getvalue().strip())


def restore(path: Path, url: str, tmp_path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "restore",
        str(path),
        "--database-url",
        url,
        "--media-root",
        str(tmp_path / "restored-media"),
        "--attachment-root",
        str(tmp_path / "restored-attachments"),
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def restore_failing(path: Path, url: str, tmp_path: Path, *args: str) -> tuple[str, str]:
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        restore_into = [str(path), "--database-url", url, *args]
        call_command(
            "restore",
            *restore_into,
            "--media-root",
            str(tmp_path / "restored-media"),
            stdout=StringIO(),
            stderr=err,
        )
    return str(failure.value), err.getvalue()


def count_in(url: str, table: str) -> int:
    if url.startswith("sqlite:"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as database:
            return int(database.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
    import psycopg

    with psycopg.connect(url) as database:
        row = database.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # noqa: S608
        assert row is not None
        return int(row[0])


def tables_in(url: str) -> int:
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return 0
        with closing(sqlite3.connect(path)) as database:
            return len(
                database.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            )
    import psycopg

    with psycopg.connect(url) as database:
        row = database.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_a_restored_copy_matches_the_backup(seeded: None, target: str, tmp_path: Path) -> None:
    path = backup(tmp_path / "backups")
    assert path.parent == tmp_path / "backups"
    assert path.name.startswith("miantan-backup-")
    # Only the complete backup is there: the partial directory was renamed.
    assert [item.name for item in path.parent.iterdir()] == [path.name]
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["vendor"] == connection.vendor
    employees = Employee.objects.count()
    assert manifest["tables"]["people_employee"]["rows"] == employees > 0
    events = AuditEvent.objects.count()
    assert manifest["tables"]["audit_auditevent"]["rows"] == events >= 6
    assert manifest["audit_chain_heads"] == [
        [head.chain, head.seq, head.hash] for head in AuditChainHead.objects.order_by("chain")
    ]
    assert manifest["migrations"]["audit"].startswith("0003_")
    assert manifest["data_key_ids"] == ["test"]
    assert manifest["audit_key_ids"] == list(keys.ring().keys)
    assert set(manifest["files"]["media"]) == {MEDIA_FILE}
    assert set(manifest["files"]["attachments"]) == {ATTACHMENT_FILE}

    out, err = restore(path, target, tmp_path)

    assert "tables match the backup" in out
    assert "audit chains intact" in out
    assert "warning" not in err
    assert count_in(target, "people_employee") == employees
    assert count_in(target, "audit_auditevent") == events
    assert (tmp_path / "restored-media" / MEDIA_FILE).read_bytes() == (
        settings.MEDIA_ROOT / MEDIA_FILE
    ).read_bytes()
    assert (tmp_path / "restored-attachments" / ATTACHMENT_FILE).read_bytes() == (
        settings.MIANTAN_ATTACHMENT_ROOT / ATTACHMENT_FILE
    ).read_bytes()


def test_one_changed_byte_in_the_dump_is_refused(seeded: None, target: str, tmp_path: Path) -> None:
    path = backup(tmp_path / "backups")
    dump = path / json.loads((path / MANIFEST).read_text())["database"]["file"]
    content = bytearray(dump.read_bytes())
    content[len(content) // 2] ^= 0x01
    dump.write_bytes(bytes(content))

    message, _ = restore_failing(path, target, tmp_path)

    assert "the backup is damaged" in message
    assert f"{dump.name} was changed" in message
    assert tables_in(target) == 0  # nothing was loaded


def test_a_changed_file_in_the_backup_is_refused(seeded: None, target: str, tmp_path: Path) -> None:
    path = backup(tmp_path / "backups")
    (path / FILES / "media" / MEDIA_FILE).write_bytes(b"another picture")

    message, _ = restore_failing(path, target, tmp_path)

    assert f"files/media/{MEDIA_FILE} was changed" in message


def test_a_changed_checksum_in_the_manifest_fails_the_restore(
    seeded: None, target: str, tmp_path: Path
) -> None:
    path = backup(tmp_path / "backups")
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["tables"]["people_employee"]["sha256"] = "0" * 64
    manifest["tables"]["audit_auditevent"]["rows"] += 1
    (path / MANIFEST).write_text(json.dumps(manifest))

    message, err = restore_failing(path, target, tmp_path)

    assert "restore check failed: 2 difference(s)" in message
    assert "table people_employee: its content differs from the backup's (checksum)" in err
    events = AuditEvent.objects.count()
    assert f"table audit_auditevent: {events} rows, the backup has {events + 1}" in err


def test_a_database_with_miantan_tables_is_refused_unless_forced(
    seeded: None, target: str, tmp_path: Path
) -> None:
    path = backup(tmp_path / "backups")
    restore(path, target, tmp_path)

    message, _ = restore_failing(path, target, tmp_path)

    assert "is not empty" in message
    assert "--force" in message
    out, _ = restore(path, target, tmp_path, "--force")
    assert "tables match the backup" in out


def test_a_directory_without_manifest_is_not_a_backup(
    seeded: None, target: str, tmp_path: Path
) -> None:
    path = backup(tmp_path / "backups")
    (path / MANIFEST).unlink()

    message, _ = restore_failing(path, target, tmp_path)

    assert "it is not a complete backup" in message
    assert tables_in(target) == 0


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="pg_dump runs on PostgreSQL only",
)
def test_a_failed_backup_leaves_nothing_that_looks_like_a_backup(
    seeded: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))

    with pytest.raises(CommandError, match="pg_dump is not installed"):
        backup(tmp_path / "backups")

    assert list((tmp_path / "backups").iterdir()) == []


def test_a_missing_key_id_is_warned_about(
    seeded: None, target: str, tmp_path: Path, settings: Any
) -> None:
    path = backup(tmp_path / "backups")
    settings.MIANTAN_DATA_KEYS = "next:" + base64.b64encode(b"n" * 32).decode()

    _, err = restore(path, target, tmp_path)

    assert "warning: MIANTAN_DATA_KEYS lacks key id(s) test named in the backup" in err


def test_no_key_is_ever_in_a_backup(seeded: None, tmp_path: Path) -> None:
    path = backup(tmp_path / "backups")
    secrets = [settings.SECRET_KEY.encode(), settings.MIANTAN_DATA_KEYS.encode()]
    for ring in (crypto.data_ring(), keys.ring()):
        for key in ring.keys.values():
            secrets += [key, key.hex().encode(), base64.b64encode(key).rstrip(b"=")]
    contents = [item.read_bytes() for item in path.rglob("*") if item.is_file()]
    if connection.vendor == "postgresql":
        # The custom format is compressed: read the dump as the SQL it restores.
        dump = path / "database.dump"
        sql = subprocess.run(
            ["pg_restore", "--file=-", str(dump)],
            capture_output=True,
            check=True,
        ).stdout
        assert b"people_employee" in sql
        contents.append(sql)
    assert len(contents) >= 4
    for content in contents:
        for secret in secrets:
            assert secret not in content


def test_backups_written_under_a_file_root_are_not_backed_up(seeded: None) -> None:
    output = Path(settings.MEDIA_ROOT) / "backups"
    backup(output)

    second = backup(output)

    manifest = json.loads((second / MANIFEST).read_text())
    assert set(manifest["files"]["media"]) == {MEDIA_FILE}
