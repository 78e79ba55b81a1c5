"""Several processes, one result: two web processes (`deploy/serve`, granian), two task workers
(`manage.py db_worker`) and two delivery workers (`manage.py deliver_notifications --loop`) on
one PostgreSQL database of their own, with Redis for the channel layer and a real SMTP server,
all on loopback.

Through HTTP, alternating between the two web processes:
- eight nurses accept, two at a time and at the same moment on both processes, proposals of
  their head nurse for the same time: one of each two gets the talk, the other 409;
- two HR partners launch two review cycles of the same department, each cycle from both
  processes at the same moment: each cycle is launched once.
Then, once the workers have delivered what is due: no person has two overlapping talks (booked,
or proposed by a launch), every mail arrives once (one per idempotency key, as many as the
database sent), the audit chain verifies, no request answered 5xx and every process still runs.
Runs on PostgreSQL only, with `redis-server` installed; skipped otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import urllib3
from aiosmtpd.controller import Controller
from django.db import connection

from tests.factories import PASSWORD
from tests.processes import free_port, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent.parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]
CONTESTED = 4  # times each offered to two nurses at once
TEMPLATE_PREFIX = "miantan_cluster_template_"

# The organisation, committed to the cluster's database: the hospital of the tests, sixteen more
# nurses under head nurse 周敏, working hours on every day (so that the weekday does not matter),
# the contested proposals and two draft cycles of 心内科.
SETUP = """
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
from django.utils import timezone
from miantan.interviews.cycles import create_cycle
from miantan.interviews.services import TalkRequest, request_talk
from miantan.scheduling.models import WorkingHours
from tests.factories import EmployeeFactory
from tests.personas import build_hospital
h = build_hospital()
org = h.organisation
WorkingHours.objects.bulk_create(
    WorkingHours(organisation=org, weekday=day, start=a, end=b)
    for day in range(7) for a, b in ((time(8), time(12)), (time(14), time(17, 30))))
nurses = [EmployeeFactory(department=h.cardiology_nursing, manager=h.head_nurse,
                          employee_number=f"HC{n:03d}", name=f"护士{n}", username=f"nurse.c{n}")
          for n in range(16)]
zone = ZoneInfo(org.time_zone)
today = timezone.now().astimezone(zone).date()
contested = []
for k in range(%(contested)d):
    start = datetime.combine(today + timedelta(days=2 + k), time(10), tzinfo=zone)
    talks = []
    for nurse in nurses[2 * k: 2 * k + 2]:
        details = TalkRequest(topic="quarterly_review", duration_minutes=30)
        talk = request_talk(nurse, requester=h.head_nurse.user, details=details,
                            slot=(start, start + timedelta(minutes=30)), accept_conflicts=True)
        talks.append({"talk": talk.pk, "nurse": nurse.user.username})
    contested.append(talks)
cycles = [create_cycle(actor=who.user, name=name, topic="quarterly_review", period="Q4",
                       departments=[h.cardiology], window_start=today + timedelta(days=1),
                       window_end=today + timedelta(days=14), duration_minutes=30).pk
          for who, name in ((h.hr_partner, "心内科季度面谈"), (h.hr_cardiology, "心内科复盘"))]
print(json.dumps({"contested": contested, "cycles": cycles,
                  "hr": [h.hr_partner.user.username, h.hr_cardiology.user.username]}))
"""

# A person's held times: open proposals of open talks and booked talks (as employee and as
# counterpart); two of them that overlap are a double booking. Manual requests may offer one
# person several times at once; a launch's proposals and booked talks never overlap.
HELD = """
WITH held AS (
    SELECT person, s, e, k, counted FROM (
        SELECT t.employee_id AS person, p.start AS s, p."end" AS e, p.id AS k,
               t.cycle_id IS NOT NULL AS counted
        FROM interviews_proposal p JOIN interviews_talk t ON t.id = p.talk_id
        WHERE p.state = 'open' AND t.state IN ('requested', 'negotiating')
      UNION ALL
        SELECT t.counterpart_id, p.start, p."end", p.id, t.cycle_id IS NOT NULL
        FROM interviews_proposal p JOIN interviews_talk t ON t.id = p.talk_id
        WHERE p.state = 'open' AND t.state IN ('requested', 'negotiating')
      UNION ALL
        SELECT employee_id, scheduled_start, scheduled_end, -id, true FROM interviews_talk
        WHERE state IN ('scheduled', 'in_progress')
      UNION ALL
        SELECT counterpart_id, scheduled_start, scheduled_end, -id, true FROM interviews_talk
        WHERE state IN ('scheduled', 'in_progress')
    ) everything
)
SELECT a.person, a.k, b.k FROM held a JOIN held b
ON a.person = b.person AND a.k < b.k AND a.s < b.e AND b.s < a.e AND a.counted AND b.counted
"""


class Mailbox:
    """Message-IDs of the mails received, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
            if not line:
                break
        return "250 OK"


@dataclass
class Cluster:
    env: dict[str, str]
    url: str
    ports: list[int]
    world: dict[str, Any]
    mailbox: Mailbox
    logs: Path
    processes: list[subprocess.Popen[bytes]]
    statuses: list[tuple[str, int]] = field(default_factory=list)


def _database() -> tuple[str, Callable[[], None]]:
    """A database of the cluster's own, copied from a migrated template (one per state of the
    migrations, made once: migrating takes longer than the rest of the test)."""
    import psycopg

    settings = connection.settings_dict
    user = settings.get("USER") or "postgres"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    server = f"postgresql://{user}@{host}:{port}"
    template = _template(server)
    name = f"miantan_cluster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop() -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgres://{user}@{host}:{port}/{name}", drop


def _template(server: str) -> str:
    import psycopg

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("miantan/*/migrations/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    template = f"{TEMPLATE_PREFIX}{digest.hexdigest()[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        found = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone()
    if found:
        return template
    building = f"{TEMPLATE_PREFIX}building_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{building}"')
    try:
        env = {
            **os.environ,
            "DATABASE_URL": f"{server}/{building}".replace("postgresql:", "postgres:"),
        }
        env["DJANGO_SETTINGS_MODULE"] = "tests.ops.cluster_settings"
        subprocess.run([*MANAGE, "migrate", "--no-input", "-v0"], env=env, cwd=ROOT, check=True)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
            stale = db.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                (TEMPLATE_PREFIX.replace("_", r"\_") + "%", building),
            ).fetchall()
            for (old,) in stale:
                if "building" not in old:
                    db.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
            db.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
    except Exception:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone():
                return template  # made meanwhile by another run
        raise
    return template


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def _own_group_ended_with_us() -> None:
    """In the child: a process group of its own (stopped as a whole), sent SIGTERM when the
    test process dies without its teardown (Linux)."""
    import ctypes

    os.setsid()
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group, then SIGKILL to what is left after ten seconds."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # The whole group: granian's workers would outlive their parent otherwise.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if connection.vendor != "postgresql":
        pytest.skip("the cluster test runs on PostgreSQL (DATABASE_URL=postgres://…)")
    if shutil.which("redis-server") is None:
        pytest.skip("the cluster test needs redis-server")
    # A test run stopped with SIGTERM (a time limit) still stops the processes and drops the
    # database below.
    previous = signal.signal(signal.SIGTERM, _terminated)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    url, drop = _database()
    processes: list[subprocess.Popen[bytes]] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_own_group_ended_with_us,
            )
        processes.append(process)
        return process

    try:
        redis_port = free_port()
        redis = start(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            dict(os.environ),
        )
        wait_until_listening(redis_port, redis, 120)
        env = {
            **{k: v for k, v in os.environ.items() if k != "MIANTAN_TEST_TODAY"},
            "DJANGO_SETTINGS_MODULE": "tests.ops.cluster_settings",
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PYTHONPATH": str(ROOT),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "MIANTAN_NOTIFICATION_LEASE_SECONDS": "10",
        }
        # The servers and workers start while the organisation is written.
        ports = [free_port(), free_port()]
        webs = []
        for n, port in enumerate(ports):
            web = {
                **env,
                "PORT": str(port),
                "WEB_WORKERS": "1",
                "WEB_THREADS": "4",
                "MIANTAN_SERVE_WEBSOCKETS": "0",
            }
            webs.append(start(f"web{n}", [str(ROOT / "deploy" / "serve")], web))
        for n in range(2):
            start(f"tasks{n}", [*MANAGE, "db_worker", "--interval", "0.5"], env)
            start(
                f"notifier{n}",
                [*MANAGE, "deliver_notifications", "--loop", "--interval", "0.5"],
                env,
            )
        made = subprocess.run(
            [*MANAGE, "shell", "-c", SETUP % {"contested": CONTESTED}],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        world = json.loads(made.stdout.strip().splitlines()[-1])
        for port, process in zip(ports, webs, strict=True):
            wait_until_listening(port, process, 120)
        yield Cluster(
            env=env,
            url=url,
            ports=ports,
            world=world,
            mailbox=mailbox,
            logs=logs,
            processes=processes,
        )
    finally:
        _stop(processes)
        smtp.stop()
        drop()
        signal.signal(signal.SIGTERM, previous)


# --- HTTP ---------------------------------------------------------------------------------


class Browser:
    """A client with its own cookies, on either web process."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.http = urllib3.PoolManager(retries=False, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        port: int,
        path: str,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} | (headers or {})
        if method == "POST":
            sent["Referer"] = f"http://127.0.0.1:{port}{path}"
            sent["Origin"] = f"http://127.0.0.1:{port}"
            if "csrftoken" in self.cookies:
                sent["X-CSRFToken"] = self.cookies["csrftoken"]
        url = f"http://127.0.0.1:{port}{path}"
        if fields is None:
            response = self.http.request(method, url, headers=sent, redirect=False)
        else:
            response = self.http.request(
                method, url, fields=fields, headers=sent, redirect=False, encode_multipart=False
            )
        for header in response.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        self.cluster.statuses.append((f"{method} {path} :{port}", response.status))
        return response

    def sign_in(self, port: int, username: str) -> None:
        self.request("GET", port, "/accounts/login/")
        answer = self.request(
            "POST",
            port,
            "/accounts/login/",
            fields={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        assert answer.status == 302, answer.data[:500]
        assert "sessionid" in self.cookies


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        results[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


# --- the database, as the processes left it ----------------------------------------------------


def query(cluster: Cluster, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(cluster.url.replace("postgres://", "postgresql://")) as db:
        return list(db.execute(sql, args).fetchall())


def manage(cluster: Cluster, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MANAGE, *command],
        env=cluster.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def wait_for_delivery(cluster: Cluster, seconds: float = 60) -> None:
    """Until no mail or inbox message that is due is still pending."""
    pending = (
        "SELECT count(*) FROM notifications_notification WHERE sent_at IS NULL AND "
        "cancelled_at IS NULL AND failed_at IS NULL AND due_at <= now()"
    )
    deadline = time.monotonic() + seconds
    left = -1
    while time.monotonic() < deadline:
        left = query(cluster, pending)[0][0]
        if left == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{left} due notifications still pending after {seconds} s")


# The Message-ID of every mail the database says was sent, and the audit chain's verdict.
FINAL = """
import json
from django.core.management import CommandError, call_command
from miantan.notifications.models import Notification
sent = [r.message_id for r in Notification.objects.filter(channel="email", sent_at__isnull=False)]
try:
    call_command("verify_audit")
    verdict = "ok"
except CommandError as error:
    verdict = str(error)
print(json.dumps({"sent": sent, "audit": verdict}))
"""


def final_state(cluster: Cluster) -> dict[str, Any]:
    made = manage(cluster, "shell", "-c", FINAL)
    assert made.returncode == 0, made.stderr
    return dict(json.loads(made.stdout.strip().splitlines()[-1]))


# --- the test ------------------------------------------------------------------------------


def test_two_web_processes_and_two_worker_pairs_give_one_result(cluster: Cluster) -> None:
    first, second = cluster.ports
    world = cluster.world
    started = time.monotonic()
    laps: dict[str, float] = {}

    def lap(name: str) -> None:
        laps[name] = round(time.monotonic() - started - sum(laps.values()), 1)

    # Two nurses accept the same time with the same head nurse, at once, on both processes.
    bodies: list[bytes] = []

    def accept(talk: int, nurse: str, port: int) -> Callable[[], int]:
        client = Browser(cluster)
        client.sign_in(port, nurse)

        def call() -> int:
            answer = client.request("POST", port, f"/api/v1/talks/{talk}/accept")
            if answer.status not in (200, 409):
                bodies.append(answer.data[:300])
            return answer.status

        return call

    calls = [
        accept(entry["talk"], entry["nurse"], (first, second)[n % 2])
        for pair in world["contested"]
        for n, entry in enumerate(pair)
    ]
    lap("sign-in")
    outcomes = at_once(calls)
    lap("accepts")
    for k in range(CONTESTED):
        assert sorted(outcomes[2 * k : 2 * k + 2]) == [200, 409], (outcomes, bodies)

    # Two HR partners launch the two cycles, each cycle from both processes at once.
    partners = []
    for username, port in zip(world["hr"], (first, second), strict=True):
        browser = Browser(cluster)
        browser.sign_in(port, username)
        partners.append(browser)
    launches = [
        (partners[0], first, world["cycles"][0]),
        (partners[1], second, world["cycles"][0]),
        (partners[1], first, world["cycles"][1]),
        (partners[0], second, world["cycles"][1]),
    ]

    def launch(browser: Browser, port: int, cycle: int) -> Callable[[], int]:
        return lambda: browser.request("POST", port, f"/hr/cycles/{cycle}/launch/").status

    answers = at_once([launch(*entry) for entry in launches])
    lap("launches")
    assert answers == [302] * 4, answers
    launched = query(
        cluster,
        "SELECT c.id, c.state, count(t.id) FROM interviews_reviewcycle c "
        "LEFT JOIN interviews_talk t ON t.cycle_id = c.id GROUP BY c.id, c.state ORDER BY c.id",
    )
    # 李明 and 周敏 → 张伟, 王芳 and the sixteen nurses → 周敏: 19 pairs, once per cycle.
    assert launched == [(world["cycles"][0], "launched", 19), (world["cycles"][1], "launched", 19)]
    wait_for_delivery(cluster)
    lap("delivery")

    overlaps = query(cluster, HELD)
    booked = query(cluster, "SELECT count(*) FROM interviews_talk WHERE state = 'scheduled'")[0][0]
    assert booked == CONTESTED
    assert overlaps == [], f"double bookings: {overlaps}"

    final = final_state(cluster)
    lap("final state")
    # Every mail the database sent arrived once, and nothing else arrived.
    expected = final["sent"]
    received = Counter(cluster.mailbox.ids)
    assert len(expected) == len(set(expected)) > 0
    assert {key: n for key, n in received.items() if n > 1} == {}
    assert set(received) == set(expected)

    assert final["audit"] == "ok"

    # Every process still runs: none fell over on the way.
    assert [p.args for p in cluster.processes if p.poll() is not None] == []
    failures = [(what, status) for what, status in cluster.statuses if status >= 500]
    assert failures == []
    for log in cluster.logs.glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log.name
    print(
        f"\ncluster: {len(cluster.statuses)} requests, {booked} booked, "
        f"{sum(received.values())} mails, {len(overlaps)} overlaps; seconds {laps}"
    )
