"""Appending to the audit trail. Every read or write of a personal record calls `record`."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from . import context
from .enums import Outcome
from .hashing import chain_hash, event_fields
from .models import AuditChainHead, AuditEvent


def record(
    action: str,
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    outcome: str = Outcome.OK,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    subject_id: int | None = None,
    organisation_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event, chained to the previous one.

    The chain head row is locked for the append, so concurrent requests queue here and the
    sequence has no gaps. Called inside the caller's transaction when there is one, so a write
    and its audit event commit or roll back together.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    ctx = context.current()
    user = actor if actor is not None and actor.is_authenticated else None
    event = AuditEvent(
        at=timezone.now(),
        organisation_id=organisation_id,
        actor_id=user.pk if user is not None else None,
        actor_label=_label(user),
        action=action,
        outcome=str(outcome),
        object_type=object_type,
        object_id=str(object_id) if object_id not in (None, "") else "",
        subject_id=subject_id,
        ip=ctx.ip,
        request_id=ctx.request_id,
        channel=ctx.channel,
        data=data or {},
    )
    batch = _batch.get()
    if batch is not None:
        batch.append(event)
        return event
    with transaction.atomic():
        head = _locked_head()
        _chain(event, head)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=head.pk).update(seq=event.seq, hash=event.hash)
    return event


def _chain(event: AuditEvent, head: AuditChainHead) -> None:
    event.seq = head.seq + 1
    event.prev_hash = head.hash
    event.hash = chain_hash(head.hash, event_fields(event))


@dataclass
class _Batch:
    head: AuditChainHead
    events: list[AuditEvent] = field(default_factory=list)

    def append(self, event: AuditEvent) -> None:
        _chain(event, self.head)
        self.events.append(event)
        self.head.seq, self.head.hash = event.seq, event.hash

    def flush(self) -> None:
        AuditEvent.objects.bulk_create(self.events, batch_size=1000)
        AuditChainHead.objects.filter(pk=self.head.pk).update(
            seq=self.head.seq, hash=self.head.hash
        )
        self.events.clear()


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("audit_batch", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Collect the events recorded inside the block and append them together at its end.

    For bulk work (an organisation import): the chain head is locked once, the events are
    chained in memory and written with one bulk insert, instead of locking and rewriting the
    head row once per event. The block is one transaction; if it fails, no event is written.
    """
    if _batch.get() is not None:
        yield
        return
    with transaction.atomic():
        batch = _Batch(head=_locked_head())
        token = _batch.set(batch)
        try:
            yield
        finally:
            _batch.reset(token)
        batch.flush()


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head, _ = AuditChainHead.objects.get_or_create(pk=1)
    return head


def _label(user: Any) -> str:
    if user is None:
        return ""
    employee = getattr(user, "employee", None)
    if employee is not None:
        return f"{employee.name} ({employee.employee_number})"
    return str(user.get_username())
