"""Benchmark of notification delivery through the real SMTP path. See bench/README.md.

For each database: a fresh database (SQLite in var/bench/delivery.sqlite3; PostgreSQL
`miantan_bench_delivery`), `migrate`, the test hospital and ROWS due mails to its people. An
SMTP server (aiosmtpd) runs on loopback in this process; two worker processes
(`manage.py deliver_notifications --loop`, as in production) send the mails through Django's
SMTP backend. The clock runs from the workers' start until every row has `sent_at`.

Figures: `delivery.smtp_per_second` (mails accepted by the server per second, both workers
together) and `delivery.duplicates` (Message-IDs the server received more than once: 0).
Run on its own with `python bench/delivery.py`, or from bench/run.py through `run()`.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, postgres_reachable

FILES = ROOT / "var" / "bench"
PG_DATABASE = "miantan_bench_delivery"
SQLITE_FILE = FILES / "delivery.sqlite3"
ROWS = 5000
WORKERS = 2
MANAGE = [sys.executable, str(ROOT / "manage.py")]

SETUP = """
from datetime import timedelta
from django.utils import timezone
from miantan.notifications.models import Notification, Preference
from tests.notifications.builders import talk_between
from tests.personas import build_hospital
hospital = build_hospital()
talk = talk_between(hospital)
people = [p for p in (hospital.nurse_wang, hospital.head_nurse, hospital.doctor_li,
          hospital.zhao, hospital.head, hospital.executive) if p.email]
for person in people:
    Preference.objects.create(employee=person, channels=["email"], quiet_from=None,
                              quiet_until=None)
due = timezone.now() - timedelta(minutes=1)
Notification.objects.bulk_create([Notification(organisation=hospital.organisation,
    recipient=people[i % len(people)], kind="talk.requested", channel="email",
    object_type="interviews.talk", object_id=str(talk.pk), key=f"bench:{i}#email",
    context={"event": "requested", "actor_name": "周敏"}, due_at=due)
    for i in range(ROWS)], batch_size=2000)
"""


class CountingMailbox:
    def __init__(self) -> None:
        self.ids: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.ids.append(line.split(b":", 1)[1].strip())
                break
        return "250 OK"


def run(*, postgresql: bool = True, sqlite: bool = True, rows: int = ROWS) -> list[Result]:
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        results.extend(_measure(f"sqlite:///{SQLITE_FILE}", "sqlite", rows))
    if postgresql and postgres_reachable():
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        results.extend(_measure(f"{PG_SERVER}/{PG_DATABASE}", "postgresql", rows))
    elif postgresql:
        print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the delivery benchmark.")
    for entry in results:
        print(
            f"{entry['database']:<11} {entry['name']:<30} {entry['value']:>10.1f} {entry['unit']}"
        )
    return results


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _measure(url: str, database: str, rows: int) -> list[Result]:
    from aiosmtpd.controller import Controller

    mailbox = CountingMailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
    }
    env.pop("MIANTAN_TEST_TODAY", None)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        migrate = [*MANAGE, "migrate", "--no-input", "-v0"]
        subprocess.run(migrate, env=env, cwd=ROOT, check=True)  # noqa: S603
        setup = [*MANAGE, "shell", "-c", f"ROWS = {rows}\n{SETUP}"]
        subprocess.run(setup, env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
        started = time.perf_counter()
        workers = [
            subprocess.Popen(  # noqa: S603
                [*MANAGE, "deliver_notifications", "--loop", "--interval", "0.2"],
                env=env,
                cwd=ROOT,
            )
            for _ in range(WORKERS)
        ]
        while _unsent(url) > 0:
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        smtp.stop()
    received = Counter(mailbox.ids)
    dataset = f"rows={rows},workers={WORKERS}"
    return [
        {
            "name": "delivery.smtp_per_second",
            "database": database,
            "dataset": dataset,
            "value": round(len(received) / elapsed, 1),
            "unit": "mails/s",
        },
        {
            "name": "delivery.duplicates",
            "database": database,
            "dataset": dataset,
            "value": sum(seen - 1 for seen in received.values()),
            "unit": "mails",
        },
    ]


def _unsent(url: str) -> int:
    query = "SELECT count(*) FROM notifications_notification WHERE sent_at IS NULL"
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
            return int(db.execute(query).fetchone()[0])
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as db:
        row = db.execute(query).fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    chosen = set(args.databases.split(","))
    results = run(postgresql="postgresql" in chosen, sqlite="sqlite" in chosen, rows=args.rows)
    merge_results(results, RESULTS, prefix="delivery.")


if __name__ == "__main__":
    main()
