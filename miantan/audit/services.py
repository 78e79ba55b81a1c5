"""Appending to the audit trail. Every read or write of a personal record calls `record`."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from miantan.core.chain import Checkpoint

from . import context, keys
from .enums import Outcome
from .hashing import CHAIN, GENESIS, event_hash
from .models import AuditChainHead, AuditCheckpoint, AuditEvent

logger = logging.getLogger(__name__)


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
    and its audit event commit or roll back together. Every MIANTAN_AUDIT_CHECKPOINT_EVERY
    events the head is also checkpointed (`write_checkpoint`).
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
        before = head.seq
        _chain(event, head)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=head.pk).update(seq=event.seq, hash=event.hash)
        head.seq, head.hash = event.seq, event.hash
        _checkpoint_if_due(before, head)
    return event


def _chain(event: AuditEvent, head: AuditChainHead) -> None:
    event.seq = head.seq + 1
    event.prev_hash = head.hash
    event.key_id = keys.ring().current_id
    event.hash = event_hash(keys.ring(), event)


@dataclass
class _Batch:
    head: AuditChainHead
    events: list[AuditEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started_at = self.head.seq

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
        _checkpoint_if_due(self.started_at, self.head)


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
    head, _created = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    return head


def write_checkpoint() -> AuditCheckpoint | None:
    """Sign the chain's current head, store it and append it to the checkpoint file.

    Returns None when the chain is empty or the head is already checkpointed. The line is
    written to MIANTAN_AUDIT_CHECKPOINT_FILE after the commit, so the file never holds a head
    that was rolled back.
    """
    with transaction.atomic():
        head = _locked_head()
        if head.seq == 0 or AuditCheckpoint.objects.filter(seq=head.seq).exists():
            return None
        return _write_checkpoint(head)


def _checkpoint_if_due(before: int, head: AuditChainHead) -> None:
    every = settings.MIANTAN_AUDIT_CHECKPOINT_EVERY
    if every > 0 and head.seq // every > before // every:
        _write_checkpoint(head)


def _write_checkpoint(head: AuditChainHead) -> AuditCheckpoint:
    first = AuditEvent.objects.filter(seq=1).values_list("hash", flat=True).first() or GENESIS
    now = timezone.now()
    signed = Checkpoint.sign(
        keys.ring(), chain=CHAIN, seq=head.seq, hash=head.hash, first=first, at=now
    )
    checkpoint = AuditCheckpoint.objects.create(
        seq=signed.seq,
        hash=signed.hash,
        first_hash=signed.first,
        at=now,
        key_id=signed.key_id,
        signature=signed.signature,
    )
    line = signed.to_json()
    transaction.on_commit(lambda: export_checkpoint_line(line))
    return checkpoint


def as_signed(checkpoint: AuditCheckpoint, *, source: str) -> Checkpoint:
    return Checkpoint(
        chain=CHAIN,
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        first=checkpoint.first_hash,
        at=checkpoint.at.isoformat(timespec="microseconds"),
        key_id=checkpoint.key_id,
        signature=checkpoint.signature,
        source=source,
    )


def export_checkpoint_line(line: str, path: str | Path | None = None) -> bool:
    """Append one checkpoint line to the file outside the database (the configured one unless
    `path` is given). A failure is logged, never raised: the event that triggered the
    checkpoint is already committed, and the checkpoint row stays in the database."""
    target = path if path is not None else settings.MIANTAN_AUDIT_CHECKPOINT_FILE
    if not target:
        return False
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as output:
            output.write(line + "\n")
    except OSError as error:
        logger.error("audit checkpoint not written to %s: %s", target, error)
        return False
    return True


def _label(user: Any) -> str:
    if user is None:
        return ""
    employee = getattr(user, "employee", None)
    if employee is not None:
        return f"{employee.name} ({employee.employee_number})"
    return str(user.get_username())
