"""Every read and write of a personal record leaves an append-only, chained audit event."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from miantan.audit.enums import Outcome
from miantan.audit.hashing import GENESIS
from miantan.audit.models import AppendOnlyError, AuditEvent
from miantan.audit.services import record
from miantan.audit.verification import verify_chain


def events(action: str):
    return AuditEvent.objects.filter(action=action).order_by("pk")


def test_person_page_view_writes_a_viewed_event_with_the_subject(hospital, client_as):
    client_as(hospital.head).get(f"/people/{hospital.nurse_wang.pk}/")

    event = events("people.employee.viewed").last()
    assert event.outcome == Outcome.OK
    assert event.subject_id == hospital.nurse_wang.pk
    assert event.actor_id == hospital.head.user.pk
    assert event.actor_label == "张伟 (H0010)"
    assert event.organisation_id == hospital.organisation.pk
    assert event.channel == "web"
    assert event.request_id


def test_own_profile_view_is_audited_too(hospital, client_as):
    client_as(hospital.zhao).get("/me/")

    assert events("people.employee.viewed").last().subject_id == hospital.zhao.pk


def test_denied_person_view_writes_a_denied_event_without_a_subject(hospital, client_as):
    client_as(hospital.head).get(f"/people/{hospital.zhao.pk}/")

    event = events("people.employee.viewed").last()
    assert event.outcome == Outcome.DENIED
    assert event.object_id == str(hospital.zhao.pk)
    # The subject stays empty: 赵 must not see someone who was refused in their access log.
    assert event.subject_id is None


def test_api_reads_are_audited_with_the_api_channel(hospital, client_as):
    client_as(hospital.head).get(f"/api/v1/people/{hospital.doctor_li.pk}")

    event = events("people.employee.viewed").last()
    assert (event.channel, event.subject_id) == ("api", hospital.doctor_li.pk)


def test_request_id_from_the_proxy_is_kept_when_well_formed(hospital, client_as):
    client = client_as(hospital.zhao)

    response = client.get("/me/", headers={"X-Request-ID": "req-1234abcd"})

    assert response["X-Request-ID"] == "req-1234abcd"
    assert events("people.employee.viewed").last().request_id == "req-1234abcd"


def test_request_id_from_the_proxy_is_replaced_when_malformed(hospital, client_as):
    response = client_as(hospital.zhao).get("/me/", headers={"X-Request-ID": "<script>"})

    assert response["X-Request-ID"] != "<script>"
    assert events("people.employee.viewed").last().request_id == response["X-Request-ID"]


def test_record_chains_each_event_to_the_one_before(db):
    first = record("tests.first", actor=None)
    second = record("tests.second", actor=None)

    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert AuditEvent.objects.order_by("seq").first().prev_hash == GENESIS


def test_record_rolls_back_with_the_surrounding_transaction(db):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        record("tests.rolled_back", actor=None)
        raise RuntimeError

    assert not AuditEvent.objects.filter(action="tests.rolled_back").exists()
    assert record("tests.after", actor=None).seq == 1


def test_audit_event_save_on_an_existing_row_raises(db):
    event = record("tests.event", actor=None)
    event.action = "tests.changed"

    with pytest.raises(AppendOnlyError):
        event.save()


def test_audit_event_delete_raises(db):
    event = record("tests.event", actor=None)

    with pytest.raises(AppendOnlyError):
        event.delete()


def test_audit_queryset_update_raises(db):
    record("tests.event", actor=None)

    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(action="tests.event").update(action="tests.changed")


def test_audit_queryset_delete_raises(db):
    record("tests.event", actor=None)

    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.count() == 1


def test_record_names_the_object_from_the_model_unless_told(hospital):
    event = record("tests.event", actor=None, obj=hospital.zhao)
    named = record("tests.event", actor=None, obj=hospital.zhao, object_type="x.y", object_id=7)

    assert (event.object_type, event.object_id) == ("people.employee", str(hospital.zhao.pk))
    assert (named.object_type, named.object_id) == ("x.y", "7")


def test_concurrent_appends_make_one_chain_without_gaps(transactional_db):
    if connection.vendor == "sqlite":
        # SQLite takes the write lock for the whole transaction (immediate mode), so appends
        # cannot interleave; and its in-memory test database locks tables instead of waiting.
        pytest.skip("PostgreSQL: concurrent appends queue on the chain head's row lock")

    def append(number: int) -> None:
        try:
            for step in range(5):
                record(f"tests.thread{number}.{step}", actor=None)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 31)
    )
    assert list(verify_chain()) == []
