"""Several worker processes deliver 10,000 due notifications through a real SMTP server and
the five webhook receivers on loopback, on a database of their own (a SQLite file, or a fresh
PostgreSQL database when the suite runs on PostgreSQL).

- Two workers plus a third killed with SIGKILL in the middle of the run: 0 messages lost; a
  message is received twice only if it was in flight in the killed worker (at most one), and
  then both times with the same idempotency key.
- Two workers, one of whose clocks jumps two hours ahead (time-machine) across the due time of
  half the rows: 0 duplicates, 0 lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from tests.notifications import receivers as receiving
from tests.notifications.conftest import _free_port

ROOT = Path(__file__).resolve().parent.parent.parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]
ROBOTS = ["wecom", "dingtalk", "feishu", "slack", "teams"]

SETUP = """
import json, os, sys
from datetime import timedelta
from django.utils import timezone
from miantan.notifications.models import Endpoint, Notification, Preference
from tests.notifications.builders import talk_between
from tests.personas import build_hospital
world = json.loads(os.environ["CLUSTER_WORLD"])
hospital = build_hospital()
talk = talk_between(hospital)
for channel, url in world["robots"].items():
    Endpoint.objects.create(organisation=hospital.organisation, channel=channel, name=channel,
                            url=url, secret=world["secrets"].get(channel, ""))
people = [p for p in (hospital.nurse_wang, hospital.head_nurse, hospital.doctor_li,
          hospital.zhao, hospital.head, hospital.executive) if p.email]
for person in people:
    Preference.objects.create(employee=person, channels=["email", "inbox"], quiet_from=None,
                              quiet_until=None)
channels = ["email"] * 5 + world["robot_names"]
now = timezone.now()
later = now + timedelta(hours=1)
rows = []
for index in range(world["count"]):
    person = people[index % len(people)]
    channel = channels[index % len(channels)]
    due = later if world["half_later"] and index % 2 else now - timedelta(minutes=1)
    rows.append(Notification(organisation=hospital.organisation, recipient=person,
        kind="talk.requested", channel=channel, object_type="interviews.talk",
        object_id=str(talk.pk), key=f"cluster:{index}#{channel}",
        context={"event": "requested", "actor_name": "周敏"}, due_at=due))
Notification.objects.bulk_create(rows, batch_size=2000)
print(json.dumps({"rows": len(rows)}))
"""

# A worker whose clock runs from now and jumps two hours ahead after a few seconds.
JUMPING_WORKER = """
import threading, time
from datetime import timedelta
import time_machine
from django.core.management import call_command
traveller = time_machine.travel(time.time(), tick=True)
clock = traveller.start()
def jump():
    time.sleep(3)
    clock.shift(timedelta(hours=2))
threading.Thread(target=jump, daemon=True).start()
call_command("deliver_notifications", "--loop", "--interval", "0.2", "--limit", "50")
"""


class CountingMailbox:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
            if not line:
                break
        return "250 OK"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Receivers, a migrated database of the workers' own, and its URL."""
    mailbox = CountingMailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    robots = receiving.start()
    database_url, drop = _database(tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("MIANTAN_TEST_TODAY",)},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "MIANTAN_NOTIFICATION_LEASE_SECONDS": "6",
    }
    try:
        subprocess.run([*MANAGE, "migrate", "--no-input", "-v0"], env=env, cwd=ROOT, check=True)
        yield {"env": env, "mailbox": mailbox, "robots": robots, "url": database_url}
    finally:
        smtp.stop()
        robots.stop()
        drop()


def _database(tmp_path: Path) -> tuple[str, Any]:
    if connection.vendor != "postgresql":
        return f"sqlite:///{tmp_path / 'delivery.sqlite3'}", lambda: None
    import psycopg

    settings = connection.settings_dict
    name = f"miantan_delivery_{uuid.uuid4().hex[:8]}"
    user = settings.get("USER") or "postgres"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    admin = f"postgresql://{user}@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgres://{user}@{host}:{port}/{name}", drop


def _populate(
    cluster: dict[str, Any], count: int, *, half_later: bool = False, robots_used: Any = ROBOTS
) -> None:
    robots = cluster["robots"]
    world = {
        "robots": {channel: robots.url(channel) for channel in ROBOTS},
        "robot_names": list(robots_used),
        "secrets": receiving.SECRETS,
        "count": count,
        "half_later": half_later,
    }
    env = {**cluster["env"], "CLUSTER_WORLD": json.dumps(world)}
    subprocess.run(
        [*MANAGE, "shell", "-c", SETUP], env=env, cwd=ROOT, check=True, capture_output=True
    )


def _worker(cluster: dict[str, Any], *, jumping: bool = False) -> subprocess.Popen[bytes]:
    if jumping:
        command = [*MANAGE, "shell", "-c", JUMPING_WORKER]
    else:
        command = [
            *MANAGE,
            "deliver_notifications",
            "--loop",
            "--interval",
            "0.2",
            "--limit",
            "50",
        ]
    return subprocess.Popen(command, env=cluster["env"], cwd=ROOT)


def _state(cluster: dict[str, Any]) -> dict[str, Any]:
    query = (
        "SELECT key, attempts, sent_at IS NOT NULL FROM notifications_notification "
        "WHERE key LIKE 'cluster:%'"
    )
    url = cluster["url"]
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
            rows = db.execute(query).fetchall()
    else:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://")) as db:
            rows = db.execute(query).fetchall()
    return {key: (attempts, bool(sent)) for key, attempts, sent in rows}


def _received(cluster: dict[str, Any]) -> Counter[str]:
    return Counter(cluster["mailbox"].ids) + cluster["robots"].keys()


def _wait_until_sent(cluster: dict[str, Any], count: int, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = _state(cluster)
        if len(state) == count and all(sent for _a, sent in state.values()):
            return state
        time.sleep(1)
    raise AssertionError(f"not all sent after {seconds} s: {sum(s for _a, s in state.values())}")


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def _idempotency_keys(cluster: dict[str, Any], state: dict[str, Any]) -> dict[str, str]:
    """Receiver-side key of each row: the Message-ID for mail, the header for webhooks."""
    script = (
        "import json\nfrom miantan.notifications.models import Notification\n"
        "print(json.dumps({r.key: (r.message_id if r.channel == 'email' else r.idempotency_key)"
        " for r in Notification.objects.filter(key__startswith='cluster:')}))"
    )
    made = subprocess.run(
        [*MANAGE, "shell", "-c", script],
        env=cluster["env"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(made.stdout.strip().splitlines()[-1]))


def test_two_workers_and_one_killed_lose_nothing_and_repeat_only_what_was_in_flight(
    cluster: dict[str, Any],
) -> None:
    count = 10_000
    _populate(cluster, count)
    workers = [_worker(cluster) for _ in range(3)]
    try:
        deadline = time.monotonic() + 120
        while sum(_received(cluster).values()) < 1500 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers[2].send_signal(signal.SIGKILL)
        workers[2].wait(timeout=10)
        state = _wait_until_sent(cluster, count, 600)
    finally:
        _stop(workers)

    keys = _idempotency_keys(cluster, state)
    # Only these rows' messages count (the workers' nudge scans may queue others).
    received = Counter(
        {key: seen for key, seen in _received(cluster).items() if key in set(keys.values())}
    )
    lost = [row for row, key in keys.items() if received[key] == 0]
    repeated = {key: seen for key, seen in received.items() if seen > 1}
    print(f"\ncluster delivery: {count} rows, lost {len(lost)}, repeated {len(repeated)}")
    assert lost == []
    # Only the message in flight in the killed worker may arrive twice, with the same key.
    assert len(repeated) <= 1 and all(seen == 2 for seen in repeated.values())
    by_key = {key: row for row, key in keys.items()}
    for key in repeated:
        assert state[by_key[key]][0] == 2  # the attempt of the killed worker, and the resend


def test_a_clock_jump_across_the_due_time_sends_each_message_once(
    cluster: dict[str, Any],
) -> None:
    count = 2_000
    # DingTalk and Feishu check the signed timestamp against their own clock, so a worker whose
    # clock is two hours off is refused there (as it would be by the real platforms): this run
    # uses mail and the robots that sign nothing.
    _populate(cluster, count, half_later=True, robots_used=["wecom", "slack", "teams"])
    workers = [_worker(cluster), _worker(cluster, jumping=True)]
    try:
        state = _wait_until_sent(cluster, count, 300)
    finally:
        _stop(workers)
    keys = _idempotency_keys(cluster, state)
    ours = set(keys.values())
    received = Counter({key: seen for key, seen in _received(cluster).items() if key in ours})
    assert sorted(set(received.values())) == [1]
    assert set(received) == ours
    assert all(attempts == 1 for attempts, _sent in state.values())
