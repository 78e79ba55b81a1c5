"""Queuing a scan's nudges in bulk: a scan over 100,000 employees may queue tens of thousands
of messages, and `notifications.services.notify` costs two queries per row. The rows are the
ones `notify` would write (the same `<key>#<channel>` keys, on the channels each person chose,
due at their digest time when they want a digest: `notifications.services.channel_plan`),
inserted by one statement that
skips a key already queued (a second scan, another worker) on the unique key, as
`bulk_create(..., ignore_conflicts=True)` does. Unlike bulk_create, only the eight columns that
differ between rows are prepared per row (bulk_create prepares every field of every row, which
took most of a scan's time), and it is one statement whatever the number of rows: on
PostgreSQL an INSERT … SELECT over arrays (unnest), on SQLite one statement executed for every
row (executemany, in process)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models.constants import OnConflict

from miantan.notifications.models import Notification
from miantan.notifications.services import channel_plan

from .finders import Nudge, nudge_key
from .models import NudgeRule

# What differs between the rows of one scan of one rule, with its array type on PostgreSQL.
VARYING = {
    "recipient_id": "bigint[]",
    "channel": "text[]",
    "object_type": "text[]",
    "object_id": "text[]",
    "key": "text[]",
    "context": "text[]",
    "due_at": "timestamptz[]",
    "digest": "boolean[]",
}


def queue_nudges(rule: NudgeRule, kind: str, nudges: Sequence[Nudge], *, now: datetime) -> int:
    """Insert the rows of these nudges, due now. Returns the number of nudges offered."""
    rows: list[tuple[Any, ...]] = []
    # Each person's chosen channels, and the digest time for those who want one.
    plan = channel_plan(
        rule.organisation_id,
        [(nudge.recipient_id, bool(nudge.email)) for nudge in nudges],
        due_at=now,
    )
    due_field = Notification._meta.get_field("due_at")
    digest_field = Notification._meta.get_field("digest")
    for nudge in nudges:
        key = nudge_key(rule, nudge.recipient_id, nudge.occasion)
        context = json.dumps(nudge.context, ensure_ascii=False)
        for channel, due, digest in plan[nudge.recipient_id]:
            rows.append(
                (
                    nudge.recipient_id,
                    str(channel),
                    nudge.object_type or NudgeRule._meta.label_lower,
                    nudge.object_id or str(rule.pk),
                    f"{key}#{channel}",
                    context,
                    due_field.get_db_prep_save(due, connection),
                    digest_field.get_db_prep_save(digest, connection),
                )
            )
    if rows:
        template = Notification(
            organisation_id=rule.organisation_id, kind=kind, created_at=now, due_at=now
        )
        _insert(template, rows)
    return len(nudges)


def _insert(template: Notification, rows: list[tuple[Any, ...]]) -> None:
    """The rows' varying columns (in VARYING's order) and every other column as `template`
    has it, prepared once by its model field."""
    fields = [f for f in Notification._meta.concrete_fields if not f.primary_key]
    constants = {
        f.attname: f.get_db_prep_save(f.pre_save(template, add=True), connection)
        for f in fields
        if f.attname not in VARYING
    }
    table = connection.ops.quote_name(Notification._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
    suffix = connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            chosen = [
                f"r.{f.attname}::jsonb"
                if f.attname == "context"
                else f"r.{f.attname}"
                if f.attname in VARYING
                else "%s"
                for f in fields
            ]
            arrays = ", ".join(f"%s::{kind}" for kind in VARYING.values())
            names = ", ".join(VARYING)
            # Names and placeholders only are formatted in; every value is a parameter.
            select = f"SELECT {', '.join(chosen)} FROM unnest({arrays}) AS r({names})"  # noqa: S608
            sql = f"{insert} {table} ({columns}) {select} {suffix}"
            values = [constants[f.attname] for f in fields if f.attname not in VARYING]
            values += [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(sql, values)
            return
        order = list(VARYING)
        marks = ", ".join(["%s"] * len(fields))
        sql = f"{insert} {table} ({columns}) VALUES ({marks}) {suffix}"
        cursor.executemany(
            sql,
            [
                [
                    row[order.index(f.attname)] if f.attname in VARYING else constants[f.attname]
                    for f in fields
                ]
                for row in rows
            ],
        )
