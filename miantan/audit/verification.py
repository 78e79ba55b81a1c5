"""Walks the audit chain and names every event that was altered, forged, removed, reordered or
re-chained, and a tail that was deleted after a checkpoint saw it (miantan.core.chain)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction

from miantan.core.chain import Checkpoint, Problem, read_checkpoints, verify_links

from . import keys
from .hashing import CHAIN, event_link
from .models import AuditChainHead, AuditCheckpoint, AuditEvent
from .services import as_signed

__all__ = ["DATABASE", "Problem", "gather_checkpoints", "verify_chain"]

# Where a checkpoint read from the database is said to come from.
DATABASE = "the database"


def gather_checkpoints(
    files: Iterable[str | Path] = (), *, configured_file: bool = True
) -> tuple[list[Checkpoint], list[Problem]]:
    """The checkpoints in the database, in the configured checkpoint file (when it exists) and
    in `files`, with a problem for every unreadable line. Raises OSError for a file in
    `files` that cannot be read."""
    found = [as_signed(row, source=DATABASE) for row in AuditCheckpoint.objects.all()]
    problems: list[Problem] = []
    configured = settings.MIANTAN_AUDIT_CHECKPOINT_FILE
    paths = (
        [Path(configured)] if configured_file and configured and Path(configured).is_file() else []
    )
    for path in [*paths, *(Path(path) for path in files)]:
        with path.open(encoding="utf-8") as lines:
            for item in read_checkpoints(lines, source=str(path)):
                if isinstance(item, Problem):
                    problems.append(item)
                elif item.chain == CHAIN:
                    found.append(item)
    return _unique(found), problems


def _unique(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    # The same checkpoint in the database and in a file is checked once, named by its copy
    # outside the database (that copy is what survives tampering).
    by_signature: dict[str, Checkpoint] = {}
    for checkpoint in checkpoints:
        by_signature[checkpoint.signature] = checkpoint
    return list(by_signature.values())


def verify_chain(
    checkpoints: Iterable[Checkpoint] | None = None, *, batch_size: int = 5000
) -> Iterator[Problem]:
    """Yields problems in sequence order; an intact chain yields nothing.

    Every event's signature is checked with the key it names, and the sequence must run from
    #1 without gaps or duplicates, each event naming its predecessor's hash. Rows are inserted
    in sequence order, so the n-th event by sequence must also be the n-th row by primary key
    (two swapped rows are both named). The last event must be the chain head, and every
    checkpoint (by default those in the database and the configured file) must match the
    event at its position; a checkpoint beyond the last event names the deleted tail.
    """
    if checkpoints is None:
        checkpoints, unreadable = gather_checkpoints()
        yield from unreadable
    # Head and last row read together while appends wait: events appended during the walk
    # are left out instead of looking forged.
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if head is None and last:
        yield Problem(0, "removed", "the chain head row is missing", subject="chain head")
    events = AuditEvent.objects.filter(pk__lte=last)
    positions = events.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=batch_size)
    links = (
        event_link(event) for event in events.order_by("seq", "pk").iterator(chunk_size=batch_size)
    )
    yield from verify_links(
        links,
        keys.ring(),
        head=(head.seq, head.hash) if head is not None else None,
        checkpoints=checkpoints,
        positions=positions,
    )
