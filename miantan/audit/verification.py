"""Walks every audit chain and names every event that was altered, forged, removed, reordered
or re-chained, and a tail that was deleted after a checkpoint saw it (miantan.core.chain).
Each problem names its chain ("audit" is the global chain, "audit:org:<id>" an
organisation's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction

from miantan.core.chain import Checkpoint, Problem, read_checkpoints, verify_links

from . import keys
from .hashing import chain_name, event_link, parse_chain_name
from .models import AuditChainHead, AuditCheckpoint, AuditEvent
from .services import as_signed

__all__ = ["DATABASE", "Problem", "gather_checkpoints", "verify_chain"]

# Where a checkpoint read from the database is said to come from.
DATABASE = "the database"


def gather_checkpoints(
    files: Iterable[str | Path] = (), *, configured_file: bool = True
) -> tuple[list[Checkpoint], list[Problem]]:
    """The checkpoints of every chain in the database, in the configured checkpoint file (when
    it exists) and in `files`, with a problem for every unreadable line. Lines of chains that
    are not the audit trail's are left out. Raises OSError for a file in `files` that cannot
    be read."""
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
                elif parse_chain_name(item.chain) is not None:
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
    """Yields problems chain by chain (the global chain first, then by organisation id), in
    sequence order within a chain; intact chains yield nothing.

    In each chain every event's signature is checked with the key it names, and the sequence
    must run from #1 without gaps or duplicates, each event naming its predecessor's hash.
    Rows are inserted in sequence order, so the n-th event of a chain by sequence must also be
    its n-th row by primary key (two swapped rows are both named). The last event must be the
    chain's head, and every checkpoint of the chain (by default those in the database and the
    configured file) must match the event at its position; a checkpoint beyond the last event
    names the deleted tail. A chain with events and no head row is named too.
    """
    if checkpoints is None:
        checkpoints, unreadable = gather_checkpoints()
        yield from unreadable
    by_chain: dict[int, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        chain = parse_chain_name(checkpoint.chain)
        if chain is not None:
            by_chain.setdefault(chain, []).append(checkpoint)
    # Every head and the last row read together while appends wait (heads locked in chain
    # order, as appends lock them): events appended during the walk are left out instead of
    # looking forged.
    with transaction.atomic():
        heads = {
            head.chain: (head.seq, head.hash)
            for head in AuditChainHead.objects.select_for_update().order_by("chain")
        }
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    events = AuditEvent.objects.filter(pk__lte=last)
    stored = events.order_by("chain").values_list("chain", flat=True).distinct()
    for chain in sorted({*heads, *stored, *by_chain}):
        name = chain_name(chain)
        of_chain = events.filter(chain=chain)
        if chain not in heads and of_chain.exists():
            if AuditChainHead.objects.filter(chain=chain).exists():
                continue  # a chain begun during the walk: the next run verifies it
            yield Problem(
                0, "removed", "the chain head row is missing", subject="chain head", chain=name
            )
        positions = of_chain.order_by("pk").values_list("pk", flat=True)
        links = of_chain.order_by("seq", "pk").iterator(chunk_size=batch_size)
        for problem in verify_links(
            (event_link(event) for event in links),
            keys.ring(),
            head=heads.get(chain),
            checkpoints=by_chain.get(chain, []),
            positions=positions.iterator(chunk_size=batch_size),
        ):
            yield dataclasses.replace(problem, chain=name)
