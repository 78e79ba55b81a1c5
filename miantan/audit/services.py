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
from .hashing import GENESIS, GLOBAL_CHAIN, chain_name, chain_of, event_hash
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
    """Append one event to its organisation's chain (the global chain without one), chained to
    the chain's previous event.

    The chain's head row is locked for the append, so concurrent requests of one organisation
    queue here and its sequence has no gaps, while other organisations append at the same
    time. Called inside the caller's transaction when there is one, so a write and its audit
    event commit or roll back together (the head stays locked until then). Every
    MIANTAN_AUDIT_CHECKPOINT_EVERY events of a chain its head is also checkpointed
    (`write_checkpoint`).
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    ctx = context.current()
    user = actor if actor is not None and actor.is_authenticated else None
    event = AuditEvent(
        chain=chain_of(organisation_id),
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
        batch.events.append(event)
        return event
    # No savepoint: an append that fails leaves the caller's transaction unusable, so a write
    # cannot commit without its audit event.
    with transaction.atomic(savepoint=False):
        head = _locked_head(event.chain)
        before = head.seq
        _chain(event, head)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=head.pk).update(seq=event.seq, hash=event.hash)
        _checkpoint_if_due(before, head)
    return event


def _chain(event: AuditEvent, head: AuditChainHead) -> None:
    """Link `event` after `head` and move the head (in memory) to it."""
    event.seq = head.seq + 1
    event.prev_hash = head.hash
    event.key_id = keys.ring().current_id
    event.hash = event_hash(keys.ring(), event)
    head.seq, head.hash = event.seq, event.hash


@dataclass
class _Batch:
    events: list[AuditEvent] = field(default_factory=list)

    def flush(self) -> None:
        """Lock the heads of every chain the events touch, in chain order (two batches that
        touch the same chains cannot wait for each other), chain the events in the order they
        were recorded, and write them with one bulk insert."""
        if not self.events:
            return
        heads = {chain: _locked_head(chain) for chain in sorted({e.chain for e in self.events})}
        before = {chain: head.seq for chain, head in heads.items()}
        for event in self.events:
            _chain(event, heads[event.chain])
        AuditEvent.objects.bulk_create(self.events, batch_size=1000)
        self.events.clear()
        for chain, head in heads.items():
            AuditChainHead.objects.filter(pk=head.pk).update(seq=head.seq, hash=head.hash)
            _checkpoint_if_due(before[chain], head)


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("audit_batch", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Collect the events recorded inside the block and append them together at its end.

    For bulk work (an organisation import, a cycle launch): at the end of the block the heads
    of the chains the events belong to are locked once each, in chain order, the events are
    chained in memory and written with one bulk insert, instead of locking and rewriting a
    head row once per event. Events recorded inside the block get their sequence number and
    hash only then. The block is one transaction; if it fails, no event is written.
    """
    if _batch.get() is not None:
        yield
        return
    with transaction.atomic():
        batch = _Batch()
        token = _batch.set(batch)
        try:
            yield
        finally:
            _batch.reset(token)
        batch.flush()


def _locked_head(chain: int) -> AuditChainHead:
    """The chain's head row, locked until the transaction ends; created for a new chain."""
    heads = AuditChainHead.objects.select_for_update()
    try:
        return heads.get(chain=chain)
    except AuditChainHead.DoesNotExist:
        # Two first events of a new chain at once: one insert wins, the other waits for it and
        # inserts nothing; both then lock the same row.
        AuditChainHead.objects.bulk_create([AuditChainHead(chain=chain)], ignore_conflicts=True)
        return heads.get(chain=chain)


def write_checkpoint(organisation_id: int | None = None) -> AuditCheckpoint | None:
    """Sign the current head of the organisation's chain (the global chain for None), store it
    and append it to the checkpoint file.

    Returns None when the chain is empty or its head is already checkpointed. The line is
    written to MIANTAN_AUDIT_CHECKPOINT_FILE after the commit, so the file never holds a head
    that was rolled back.
    """
    chain = chain_of(organisation_id)
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
        if head is None or head.seq == 0:
            return None
        if AuditCheckpoint.objects.filter(chain=chain, seq=head.seq).exists():
            return None
        return _write_checkpoint(head)


def organisation_of(chain: int) -> int | None:
    """The organisation whose chain this is (None for the global chain)."""
    return None if chain == GLOBAL_CHAIN else chain


def _checkpoint_if_due(before: int, head: AuditChainHead) -> None:
    every = settings.MIANTAN_AUDIT_CHECKPOINT_EVERY
    if every > 0 and head.seq // every > before // every:
        _write_checkpoint(head)


def _write_checkpoint(head: AuditChainHead) -> AuditCheckpoint:
    first = (
        AuditEvent.objects.filter(chain=head.chain, seq=1).values_list("hash", flat=True).first()
        or GENESIS
    )
    now = timezone.now()
    signed = Checkpoint.sign(
        keys.ring(),
        chain=chain_name(head.chain),
        seq=head.seq,
        hash=head.hash,
        first=first,
        at=now,
    )
    checkpoint = AuditCheckpoint.objects.create(
        chain=head.chain,
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
        chain=chain_name(checkpoint.chain),
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
