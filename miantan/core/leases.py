"""Leases for background jobs kept as rows (the imports): claimed, kept alive, taken back.

A worker claims a pending job by moving it to "running" with a lease: `lease_until` a few
minutes ahead and `attempts` one higher. While the work runs, a heartbeat thread of the same
process moves `lease_until` on. A worker that dies (killed, out of memory, its machine gone)
stops beating; once its lease has run out, whoever looks next (the next job's worker, or the
page that shows the job) takes the job back: to "pending" for another attempt, or after the
last attempt to "failed" with a reason the uploader reads. Each step is one conditional UPDATE,
so two processes never both claim, renew or take back the same job.

The model needs `status`, `attempts`, `claimed_at`, `lease_until` and `updated_at`.
On SQLite a write transaction of the import holds the whole database, so the heartbeat may
wait for it; the lease (MIANTAN_IMPORT_LEASE_SECONDS) must outlast the longest write there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

__all__ = ["claim", "kept_alive", "lease_seconds", "max_attempts", "renew", "take_back_expired"]

logger = logging.getLogger(__name__)

PENDING, RUNNING, FAILED = "pending", "running", "failed"


def lease_seconds() -> int:
    return int(getattr(settings, "MIANTAN_IMPORT_LEASE_SECONDS", 300))


def max_attempts() -> int:
    return int(getattr(settings, "MIANTAN_IMPORT_ATTEMPTS", 3))


def claim(model: type[models.Model], pk: int) -> int | None:
    """Move a pending job to running under a fresh lease; the attempt number, or None when the
    job was not pending (someone else has it, or it is finished)."""
    now = timezone.now()
    claimed = model._default_manager.filter(pk=pk, status=PENDING).update(
        status=RUNNING,
        claimed_at=now,
        lease_until=now + timedelta(seconds=lease_seconds()),
        attempts=models.F("attempts") + 1,
        updated_at=now,
    )
    if not claimed:
        return None
    return int(model._default_manager.filter(pk=pk).values_list("attempts", flat=True).get())


def renew(model: type[models.Model], pk: int, attempt: int) -> bool:
    """Move the lease on; False when this attempt no longer holds the job."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    renewed = model._default_manager.filter(pk=pk, status=RUNNING, attempts=attempt).update(
        lease_until=until
    )
    return bool(renewed)


@contextmanager
def kept_alive(model: type[models.Model], pk: int, attempt: int) -> Iterator[None]:
    """Renew the lease from a thread of its own, every third of the lease, while the body runs.

    The thread has its own database connection, so it renews while the body's transaction is
    open (on PostgreSQL; see the module note for SQLite)."""
    stop = threading.Event()
    interval = max(1.0, lease_seconds() / 3)

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    renew(model, pk, attempt)
                except DatabaseError:
                    logger.warning("could not renew the lease of %s %s", model.__name__, pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"lease-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def take_back_expired(
    jobs: models.QuerySet[Any],
    *,
    retry: Callable[[Any], None],
    fail: Callable[[Any], None],
) -> int:
    """Take back every job of `jobs` whose lease has run out; returns how many.

    A job with attempts left goes back to pending and `retry(job)` runs (to queue it again); the
    others are set failed and `fail(job)` writes why. Both happen in the transaction of the
    conditional update, so a job is taken back once however many processes look at once."""
    now = timezone.now()
    taken = 0
    for job in jobs.filter(status=RUNNING, lease_until__lt=now):
        still = jobs.model._default_manager.filter(
            pk=job.pk, status=RUNNING, attempts=job.attempts, lease_until__lt=now
        )
        with transaction.atomic():
            if job.attempts < max_attempts():
                if still.update(status=PENDING, lease_until=None, updated_at=now):
                    job.status = PENDING
                    retry(job)
                    taken += 1
            elif still.update(status=FAILED, lease_until=None, finished_at=now, updated_at=now):
                job.status, job.finished_at = FAILED, now
                fail(job)
                taken += 1
    return taken
