"""`manage.py verify_audit` finds every change made to the audit table behind the ORM's back."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from miantan.audit.services import record

COLUMNS = (
    "seq, at, organisation_id, actor_id, actor_label, action, outcome, object_type, object_id,"
    " subject_id, ip, request_id, channel, data, prev_hash, hash"
)


@pytest.fixture
def five_events(db) -> None:
    for number in range(1, 6):
        record(f"tests.event{number}", actor=None, subject_id=number, data={"n": number})


def verify() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify_audit", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_failing() -> str:
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=StringIO(), stderr=err)
    return err.getvalue()


def sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def test_verify_audit_passes_on_an_intact_chain(five_events):
    out, err = verify()

    assert "intact: 5 events" in out
    assert err == ""


def test_verify_audit_passes_on_an_empty_trail(db):
    out, _err = verify()

    assert "intact: 0 events" in out


def test_verify_audit_names_an_event_edited_in_the_database(five_events):
    sql("UPDATE audit_auditevent SET action = %s WHERE seq = %s", ["tests.forged", 3])

    err = verify_failing()

    assert "event #3: altered" in err
    assert "#2" not in err
    assert "#4" not in err


def test_verify_audit_names_a_deleted_event(five_events):
    sql("DELETE FROM audit_auditevent WHERE seq = %s", [2])

    err = verify_failing()

    assert "event #3: removed (missing before it: #2)" in err


def test_verify_audit_names_the_last_event_deleted(five_events):
    sql("DELETE FROM audit_auditevent WHERE seq = %s", [5])

    assert "event #5: removed" in verify_failing()


def test_verify_audit_names_two_events_whose_contents_were_swapped(five_events):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {COLUMNS} FROM audit_auditevent WHERE seq IN (2, 4)")  # noqa: S608
        (id_a, *row_a), (id_b, *row_b) = sorted(cursor.fetchall(), key=lambda row: row[1])
    assignments = ", ".join(f"{column.strip()} = %s" for column in COLUMNS.split(","))
    update = f"UPDATE audit_auditevent SET {assignments} WHERE id = %s"  # noqa: S608
    # seq is unique: park one row out of the way while the two trade places.
    sql("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [id_a])
    sql(update, [*row_a, id_b])
    sql(update, [*row_b, id_a])

    err = verify_failing()

    assert "event #2: reordered" in err
    assert "event #4: reordered" in err
    assert "event #3" not in err


def test_verify_audit_names_two_events_whose_details_were_swapped_in_place(five_events):
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, action, data FROM audit_auditevent WHERE seq IN (2, 4)")
        (_, action_a, data_a), (_, action_b, data_b) = sorted(cursor.fetchall())
    update = "UPDATE audit_auditevent SET action = %s, data = %s WHERE seq = %s"
    sql(update, [action_b, data_b, 2])
    sql(update, [action_a, data_a, 4])

    err = verify_failing()

    assert "event #2: altered" in err
    assert "event #4: altered" in err
