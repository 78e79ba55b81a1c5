"""`manage.py deliver_notifications [--loop] [--interval S]`: the due-row worker loop.

Each round expires overdue talk requests (which queues their notifications), starts the
booked talks whose time has come (their records open for both sides), runs the nudge rules
and evaluates the improvement plans that have ended (at most every MIANTAN_NUDGE_SCAN_MINUTES,
by one worker), and then sends every notification that is due. Safe to run in several
processes at once."""

from __future__ import annotations

import signal
import time
import uuid
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from miantan.notifications.services import deliver_due, heartbeat


class Command(BaseCommand):
    help = (
        "Expire overdue talk requests, start talks whose time has come and send the "
        "notifications that are due. With --loop, "
        "repeat every --interval seconds until stopped (SIGINT or SIGTERM end the round first)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")
        parser.add_argument("--limit", type=int, default=200, help="rows sent per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        if options["loop"]:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        # One name for this process's claims; its heartbeat keeps their leases while it lives.
        worker = uuid.uuid4().hex
        with heartbeat(worker):
            self._loop(worker, options)

    def _loop(self, worker: str, options: dict[str, Any]) -> None:
        while True:
            expired, sent = run_round(limit=options["limit"], worker=worker)
            if options["verbosity"] > 1 or (not options["loop"] and (expired or sent)):
                self.stdout.write(f"expired {expired}, sent {sent}")
            if not options["loop"] or self.stopping:
                return
            close_old_connections()
            self._sleep(options["interval"])
            if self.stopping:
                return

    def _sleep(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < until:
            time.sleep(min(0.2, seconds))

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True


def run_round(*, limit: int = 200, worker: str | None = None) -> tuple[int, int]:
    """One round: (talks expired, notifications sent). Sends batches until none is due."""
    from miantan.interviews.services import expire_due_requests
    from miantan.records.services import start_due_talks

    expired = expire_due_requests()
    start_due_talks()
    # Nudge rules (miantan.nudges), at most once every few minutes across all workers.
    from miantan.nudges.services import scan_if_due
    from miantan.plans.services import evaluate_ended_plans

    if scan_if_due() is not None:
        # Improvement plans whose end has come are evaluated by the worker that scanned.
        evaluate_ended_plans()
    sent = 0
    while True:
        batch = deliver_due(limit=limit, worker=worker)
        sent += batch
        if batch < limit:
            return expired, sent
