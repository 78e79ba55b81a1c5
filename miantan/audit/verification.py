"""Walks the audit chain and names every event that was altered, removed or reordered."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .hashing import GENESIS, chain_hash, event_fields
from .models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # altered | removed | reordered
    detail: str

    def __str__(self) -> str:
        return f"event #{self.seq}: {self.kind} ({self.detail})"


def verify_chain(batch_size: int = 5000) -> Iterator[Problem]:
    """Yields problems in sequence order; an intact chain yields nothing.

    Events are read in sequence order. A recomputed hash that differs means the row was edited;
    a gap in the sequence or a broken link to the predecessor means rows were removed. Rows are
    inserted in sequence order, so the n-th event by sequence must also be the n-th row by
    primary key; one that is not was moved (two swapped rows are both named).
    """
    # Read the head and the last row first: events appended while we walk are left out.
    head = AuditChainHead.objects.filter(pk=1).first()
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    events = AuditEvent.objects.filter(pk__lte=last)
    keys_in_order = (
        events.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=batch_size)
    )
    prev_hash = GENESIS
    prev_seq = 0
    for event in events.order_by("seq").iterator(chunk_size=batch_size):
        if event.seq != prev_seq + 1:
            missing = (
                f"#{prev_seq + 1}"
                if event.seq == prev_seq + 2
                else f"#{prev_seq + 1}–#{event.seq - 1}"
            )
            yield Problem(event.seq, "removed", f"missing before it: {missing}")
        elif event.prev_hash != prev_hash:
            yield Problem(event.seq, "removed", "does not link to the event before it")
        if chain_hash(event.prev_hash, event_fields(event)) != event.hash:
            yield Problem(event.seq, "altered", "stored hash does not match its contents")
        if event.pk != next(keys_in_order, None):
            yield Problem(event.seq, "reordered", "not stored in sequence order")
        prev_hash, prev_seq = event.hash, event.seq
    if head is not None and head.seq > prev_seq:
        yield Problem(
            head.seq, "removed", f"the chain ends at #{prev_seq}, the head says #{head.seq}"
        )
    elif head is not None and head.seq == prev_seq and prev_seq and head.hash != prev_hash:
        yield Problem(head.seq, "altered", "the last event does not match the chain head")
