"""The sealed model fields (core/fields.py) as the project uses them: values read back through
the ORM, the columns hold `mt1:` tokens only (read with a raw cursor), a changed byte or a
value moved elsewhere fails loudly, searches are refused, and the migrations seal the rows
stored before and open them again when reversed."""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import date
from typing import Any

import pytest
from django.core import serializers
from django.core.exceptions import FieldError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from miantan.core import crypto
from miantan.core.crypto import DecryptionError
from miantan.core.fields import EncryptedJSONField, EncryptedTextField, seal_existing
from miantan.core.management.commands.rotate_keys import discover
from miantan.interviews.models import Talk, TalkActivity
from miantan.metrics.models import EvidenceEntry, PeerFeedback, ProjectContribution
from miantan.notifications.models import Notification
from tests.notifications.builders import talk_between
from tests.personas import Hospital

MESSAGE = "想聊聊本季度的夜班安排"
REASON = "下周再约，科里人手不够"
AGENDA = [
    {"text": "夜班后的休息安排", "source": "own", "data": {}},
    {"text": "护理质量指标", "source": "topic", "data": {"kpi": "N-01", "value": 0.93}},
]
NOTE = "王芳这周主动带教两名新护士"


def raw(table: str, column: str, pk: Any) -> Any:
    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT {quote(column)} FROM {quote(table)} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def write_raw(table: str, column: str, pk: Any, value: Any) -> None:
    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",  # noqa: S608
            [value, pk],
        )


def flip_one_byte(token: str) -> str:
    prefix, key_id, payload = token.split(":")
    data = bytearray(base64.b64decode(payload))
    data[len(data) // 2] ^= 0x01
    return f"{prefix}:{key_id}:{base64.b64encode(bytes(data)).decode()}"


def everything(hospital: Hospital) -> dict[str, Any]:
    """One row with typed text in every sealed column of the project."""
    talk = talk_between(hospital, message=MESSAGE, closing_reason=REASON, agenda=AGENDA)
    activity = TalkActivity.objects.create(talk=talk, event="declined", note=REASON)
    evidence = EvidenceEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        author=hospital.head_nurse,
        kind="positive",
        happened_on=date(2026, 3, 2),
        text=NOTE,
    )
    feedback = PeerFeedback.objects.create(
        organisation=hospital.organisation, employee=hospital.nurse_wang, text="沟通耐心，值得学习"
    )
    project = ProjectContribution.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        project="静脉输液规范",
        result="培训覆盖全科室 95% 护士",
    )
    notification = Notification.objects.create(
        organisation=hospital.organisation,
        recipient=hospital.head_nurse,
        kind="talk.requested",
        channel="inbox",
        key="fields-test",
        due_at=timezone.now(),
        body=f"王芳请你面谈：{MESSAGE}",
        ics="BEGIN:VCALENDAR\nDESCRIPTION:议程 夜班后的休息安排\nEND:VCALENDAR",
    )
    return {
        "talk": talk,
        "activity": activity,
        "evidence": evidence,
        "feedback": feedback,
        "project": project,
        "notification": notification,
    }


# --- reading and writing through the ORM ------------------------------------------------------


def test_free_text_and_json_round_trip_through_the_orm(hospital: Hospital):
    rows = everything(hospital)

    talk = Talk.objects.get(pk=rows["talk"].pk)
    assert (talk.message, talk.closing_reason, talk.agenda) == (MESSAGE, REASON, AGENDA)
    assert TalkActivity.objects.get(pk=rows["activity"].pk).note == REASON
    assert EvidenceEntry.objects.get(pk=rows["evidence"].pk).text == NOTE
    assert Notification.objects.values_list("body", flat=True).get() == f"王芳请你面谈：{MESSAGE}"


def test_every_sealed_column_holds_tokens_only(hospital: Hospital):
    everything(hospital)
    columns, _files = discover()
    filled = set()

    with connection.cursor() as cursor:
        for column in columns:
            quote = connection.ops.quote_name
            table, name = column.model._meta.db_table, column.field.column
            cursor.execute(f"SELECT {quote(name)} FROM {quote(table)}")  # noqa: S608
            for (value,) in cursor.fetchall():
                if value in ("", None):
                    continue
                filled.add(column.label)
                assert value.startswith("mt1:test:"), (column.label, value)
                assert not any(text in value for text in (MESSAGE, REASON, NOTE, "夜班"))

    assert filled >= {
        "interviews.talk.message",
        "interviews.talk.closing_reason",
        "interviews.talk.agenda",
        "interviews.talkactivity.note",
        "metrics.evidenceentry.text",
        "metrics.peerfeedback.text",
        "metrics.projectcontribution.result",
        "notifications.notification.body",
        "notifications.notification.ics",
    }


def test_empty_values_are_stored_empty_and_read_back_empty(hospital: Hospital):
    talk = talk_between(hospital, message="", agenda=[])

    assert raw("interviews_talk", "message", talk.pk) == ""
    assert raw("interviews_talk", "agenda", talk.pk) == ""
    fresh = Talk.objects.get(pk=talk.pk)
    assert (fresh.message, fresh.closing_reason, fresh.agenda) == ("", "", [])


def test_text_that_looks_like_a_token_is_sealed_like_any_other(hospital: Hospital):
    typed = "mt1:test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    talk = talk_between(hospital, message=typed)

    stored = raw("interviews_talk", "message", talk.pk)
    assert stored != typed and stored.startswith("mt1:test:")
    assert Talk.objects.get(pk=talk.pk).message == typed


def test_update_and_bulk_update_seal_too(hospital: Hospital):
    first, second = talk_between(hospital), talk_between(hospital)

    Talk.objects.filter(pk=first.pk).update(message=MESSAGE)
    second.closing_reason = REASON
    Talk.objects.bulk_update([second], ["closing_reason"])

    assert raw("interviews_talk", "message", first.pk).startswith("mt1:test:")
    assert raw("interviews_talk", "closing_reason", second.pk).startswith("mt1:test:")
    assert Talk.objects.get(pk=first.pk).message == MESSAGE
    assert Talk.objects.get(pk=second.pk).closing_reason == REASON


def test_serializing_a_talk_writes_its_agenda_as_json(hospital: Hospital):
    talk = talk_between(hospital, agenda=AGENDA)

    dumped = serializers.serialize("json", [talk])
    [loaded] = serializers.deserialize("json", dumped)

    assert json.loads(dumped)[0]["fields"]["agenda"] == AGENDA
    assert loaded.object.agenda == AGENDA and loaded.object.message == talk.message


# --- failing loudly ---------------------------------------------------------------------------


def test_one_changed_byte_makes_reading_fail_through_the_orm(hospital: Hospital):
    talk = talk_between(hospital, message=MESSAGE)
    write_raw(
        "interviews_talk",
        "message",
        talk.pk,
        flip_one_byte(raw("interviews_talk", "message", talk.pk)),
    )

    with pytest.raises(DecryptionError, match="was changed or belongs elsewhere"):
        Talk.objects.get(pk=talk.pk)
    with pytest.raises(DecryptionError):
        list(Talk.objects.filter(pk=talk.pk).values_list("message", flat=True))


def test_one_changed_byte_of_a_json_value_makes_reading_fail(hospital: Hospital):
    talk = talk_between(hospital, agenda=AGENDA)
    write_raw(
        "interviews_talk",
        "agenda",
        talk.pk,
        flip_one_byte(raw("interviews_talk", "agenda", talk.pk)),
    )

    with pytest.raises(DecryptionError):
        Talk.objects.get(pk=talk.pk)


def test_a_value_moved_to_another_column_fails(hospital: Hospital):
    rows = everything(hospital)
    token = raw("interviews_talk", "message", rows["talk"].pk)
    other = talk_between(hospital)
    write_raw("interviews_talk", "closing_reason", other.pk, token)
    write_raw("metrics_evidenceentry", "text", rows["evidence"].pk, token)

    with pytest.raises(DecryptionError, match=re.escape("interviews.talk.closing_reason")):
        Talk.objects.get(pk=other.pk)
    with pytest.raises(DecryptionError, match=re.escape("metrics.evidenceentry.text")):
        EvidenceEntry.objects.get(pk=rows["evidence"].pk)


def test_a_value_moved_to_another_row_of_the_same_column_still_opens(hospital: Hospital):
    # The context is the column, not the row: moving a value between rows is not detected
    # by the sealing (row-level contexts, like a private note's author, are for that).
    first, second = talk_between(hospital, message=MESSAGE), talk_between(hospital, message="")
    write_raw("interviews_talk", "message", second.pk, raw("interviews_talk", "message", first.pk))

    assert Talk.objects.get(pk=second.pk).message == MESSAGE


def test_a_key_the_ring_no_longer_holds_fails_with_a_clear_message(settings, hospital: Hospital):
    settings.MIANTAN_DATA_KEYS = f"k0:{base64.b64encode(os.urandom(32)).decode()}"
    talk = talk_between(hospital, message=MESSAGE)
    settings.MIANTAN_DATA_KEYS = f"k9:{base64.b64encode(os.urandom(32)).decode()}"

    with pytest.raises(DecryptionError) as failure:
        Talk.objects.get(pk=talk.pk)

    assert "sealed with key 'k0', which MIANTAN_DATA_KEYS no longer holds" in str(failure.value)


@pytest.mark.parametrize(
    "lookup",
    [
        {"message": MESSAGE},
        {"message__icontains": "夜班"},
        {"message__startswith": "想"},
        {"message__in": [MESSAGE]},
        {"agenda": AGENDA},
        {"agenda__contains": "夜班"},
        {"closing_reason__lower": "x"},
    ],
    ids=["exact", "icontains", "startswith", "in", "json-exact", "json-contains", "transform"],
)
def test_searching_sealed_text_is_refused(hospital: Hospital, lookup: dict[str, Any]):
    with pytest.raises(FieldError, match="is stored sealed and cannot be searched"):
        list(Talk.objects.filter(**lookup))


def test_asking_for_empty_values_still_works(hospital: Hospital):
    empty = talk_between(hospital, message="", agenda=[])
    full = talk_between(hospital, message=MESSAGE, agenda=AGENDA)

    assert list(Talk.objects.filter(message="").values_list("pk", flat=True)) == [empty.pk]
    assert list(Talk.objects.filter(agenda=[]).values_list("pk", flat=True)) == [empty.pk]
    assert list(Talk.objects.exclude(message="").values_list("pk", flat=True)) == [full.pk]


def test_the_context_of_a_column_is_its_label_unless_named():
    field = Talk._meta.get_field("message")
    named = EncryptedTextField(context="records.note.body")
    json_field = EncryptedJSONField(default=list, context="records.section.value")

    assert field.sealing_context == "interviews.talk.message"
    assert named.sealing_context == "records.note.body"
    assert named.deconstruct()[3]["context"] == "records.note.body"
    assert json_field.deconstruct()[3] == {"default": list, "context": "records.section.value"}


# --- sealing what was stored before -----------------------------------------------------------


class _Editor:
    def __init__(self) -> None:
        self.connection = connection


def test_seal_existing_seals_plain_rows_in_batches_and_opens_them_again(hospital: Hospital):
    from django.apps import apps

    talks = [talk_between(hospital) for _ in range(5)]
    plain = {
        talk.pk: (f"{MESSAGE} #{n}", json.dumps(AGENDA[: n % 3])) for n, talk in enumerate(talks)
    }
    for pk, (message, agenda) in plain.items():
        write_raw("interviews_talk", "message", pk, message)
        write_raw("interviews_talk", "agenda", pk, agenda)
    operation = seal_existing("interviews", "talk", ["message", "agenda"], batch_size=2)

    operation.code(apps, _Editor())
    sealed = {pk: raw("interviews_talk", "message", pk) for pk in plain}
    operation.code(apps, _Editor())  # a second pass leaves sealed values alone

    for pk, (message, agenda) in plain.items():
        assert (
            sealed[pk].startswith("mt1:test:")
            and raw("interviews_talk", "message", pk) == sealed[pk]
        )
        talk = Talk.objects.get(pk=pk)
        assert (talk.message, talk.agenda) == (message, json.loads(agenda))
    # An empty agenda is stored empty, as the field stores it.
    assert raw("interviews_talk", "agenda", talks[0].pk) == ""

    operation.reverse_code(apps, _Editor())

    for pk, (message, agenda) in plain.items():
        assert raw("interviews_talk", "message", pk) == message
        assert json.loads(raw("interviews_talk", "agenda", pk)) == json.loads(agenda)


BEFORE = [
    ("interviews", "0003_talk_version"),
    ("metrics", "0004_import_leases"),
    ("notifications", "0001_initial"),
]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.django_db(transaction=True)
def test_the_migrations_open_the_columns_when_reversed_and_seal_them_again(hospital: Hospital):
    rows = everything(hospital)
    empty = talk_between(hospital, message="", agenda=[])
    talk, evidence, notification = rows["talk"], rows["evidence"], rows["notification"]

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    opened = {
        "message": raw("interviews_talk", "message", talk.pk),
        "agenda": _json(raw("interviews_talk", "agenda", talk.pk)),
        "empty agenda": _json(raw("interviews_talk", "agenda", empty.pk)),
        "note": raw("interviews_talkactivity", "note", rows["activity"].pk),
        "evidence": raw("metrics_evidenceentry", "text", evidence.pk),
        "body": raw("notifications_notification", "body", notification.pk),
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert opened == {
        "message": MESSAGE,
        "agenda": AGENDA,
        "empty agenda": [],
        "note": REASON,
        "evidence": NOTE,
        "body": f"王芳请你面谈：{MESSAGE}",
    }
    for table, column, pk in [
        ("interviews_talk", "message", talk.pk),
        ("interviews_talk", "agenda", talk.pk),
        ("interviews_talkactivity", "note", rows["activity"].pk),
        ("metrics_evidenceentry", "text", evidence.pk),
        ("notifications_notification", "ics", notification.pk),
    ]:
        assert raw(table, column, pk).startswith("mt1:test:"), (table, column)
    fresh = Talk.objects.get(pk=talk.pk)
    assert (fresh.message, fresh.closing_reason, fresh.agenda) == (MESSAGE, REASON, AGENDA)
    assert Talk.objects.get(pk=empty.pk).agenda == []
    assert EvidenceEntry.objects.get(pk=evidence.pk).text == NOTE
    assert crypto.key_id_of(raw("notifications_notification", "body", notification.pk)) == "test"
