"""/healthz, /readyz and /metrics: what a load balancer, an orchestrator and a Prometheus
scraper get, on the database in use, with a real Redis server on loopback for the Redis check."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.db import connections
from django.test import Client, override_settings
from django.urls import reverse
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from miantan.metrics.uploads import start_metrics_import
from miantan.notifications.models import Notification
from miantan.nudges.models import ScanMark
from miantan.web.health import run_checks, worker_limit
from tests.personas import Hospital

# A Tuesday morning in Beijing; every time below is relative to it.
NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def worker_seen(ago: timedelta) -> None:
    ScanMark.objects.update_or_create(name="scan", defaults={"started_at": NOW - ago})


def notification(hospital: Hospital, key: str, **fields: Any) -> Notification:
    values: dict[str, Any] = {
        "organisation_id": hospital.organisation.pk,
        "recipient": hospital.nurse_wang,
        "kind": "talk.requested",
        "channel": "email",
        "key": f"ops:{key}",
        "due_at": NOW,
        "subject": "王芳的面谈申请",
    }
    return Notification.objects.create(**(values | fields))


def waiting_task(enqueued: datetime) -> DBTaskResult:
    task = DBTaskResult.objects.create(
        task_path="miantan.metrics.tasks.run_metrics_import_task",
        args_kwargs={"args": [1], "kwargs": {}},
        backend_name="default",
        queue_name="default",
        run_after=get_date_max(),
    )
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=enqueued)
    return task


def checks_of(response: Any) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in response.json()["checks"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- /healthz ------------------------------------------------------------------------------


@override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["miantan.example.com"])
def test_healthz_answers_without_the_database_a_session_or_a_redirect(
    client_as: Any, hospital: Hospital, django_assert_num_queries: Any
) -> None:
    """Plain HTTP, the machine's address as host and a session cookie: still 200, no query."""
    client = client_as(hospital.nurse_wang)

    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    assert reverse("web:healthz") == "/healthz"
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers
    assert "no-cache" in response["Cache-Control"]


# --- /readyz -------------------------------------------------------------------------------


def test_readyz_is_ready_with_a_live_worker_and_short_queues(
    client: Client, hospital: Hospital
) -> None:
    worker_seen(timedelta(minutes=2))
    notification(hospital, "due", due_at=NOW - timedelta(minutes=3))
    waiting_task(NOW - timedelta(minutes=1))

    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    checks = checks_of(response)
    assert response.json()["status"] == "ok"
    assert checks["database"]["status"] == "ok"
    assert checks["redis"] == {
        "name": "redis",
        "status": "skipped",
        "reason": "REDIS_URL is not set",
    }
    assert checks["notification_worker"]["status"] == "ok"
    assert checks["notification_worker"]["reason"] == "last sign of life 120 s ago (limit 480 s)"
    assert checks["queue_age"]["reason"] == (
        "oldest due notification 180 s, oldest waiting task 60 s (limit 900 s)"
    )


def test_readyz_fails_when_the_workers_last_sign_of_life_is_stale(
    client: Client, hospital: Hospital
) -> None:
    worker_seen(worker_limit() + timedelta(seconds=1))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert checks_of(response)["notification_worker"] == {
        "name": "notification_worker",
        "status": "fail",
        "reason": "last sign of life 481 s ago (limit 480 s)",
    }
    assert checks_of(response)["queue_age"]["status"] == "ok"


def test_readyz_fails_when_no_worker_ever_ran(client: Client, db: None) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response)["notification_worker"]["reason"] == (
        "no delivery worker round has been recorded"
    )


def test_a_lease_the_heartbeat_renews_counts_as_a_sign_of_life(
    client: Client, hospital: Hospital
) -> None:
    """A worker busy with one long batch has not moved the scan mark, but its heartbeat keeps
    moving the lease of the rows it holds."""
    worker_seen(timedelta(hours=1))
    notification(hospital, "held", claimed_by="w" * 32, claimed_until=NOW + timedelta(seconds=50))

    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    assert checks_of(response)["notification_worker"]["reason"].startswith(
        "last sign of life 10 s ago"
    )


def test_readyz_fails_when_a_due_notification_waits_longer_than_the_limit(
    client: Client, hospital: Hospital
) -> None:
    worker_seen(timedelta(seconds=5))
    notification(hospital, "old", due_at=NOW - timedelta(seconds=901))
    # Sent, given up, withdrawn or not yet due: none of these is waiting.
    notification(hospital, "sent", due_at=NOW - timedelta(days=1), sent_at=NOW)
    notification(hospital, "given-up", due_at=NOW - timedelta(days=1), failed_at=NOW)
    notification(hospital, "later", due_at=NOW + timedelta(days=1))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response)["queue_age"] == {
        "name": "queue_age",
        "status": "fail",
        "reason": "oldest due notification 901 s, oldest waiting task 0 s (limit 900 s)",
    }
    assert "王芳" not in response.content.decode()


@override_settings(MIANTAN_READY_MAX_QUEUE_AGE_SECONDS=60)
def test_readyz_fails_when_a_background_task_waits_longer_than_the_limit(
    client: Client, db: None
) -> None:
    worker_seen(timedelta(seconds=5))
    waiting_task(NOW - timedelta(seconds=61))
    # A task scheduled for later is not waiting yet.
    later = waiting_task(NOW - timedelta(hours=1))
    DBTaskResult.objects.filter(pk=later.pk).update(run_after=NOW + timedelta(hours=1))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert checks_of(response)["queue_age"]["reason"] == (
        "oldest due notification 0 s, oldest waiting task 61 s (limit 60 s)"
    )


def test_readyz_reports_a_database_that_does_not_answer(db: None) -> None:
    """A second connection to a closed port (PostgreSQL) or to a file in a missing folder
    (SQLite): the database check fails and the checks that read tables are skipped."""
    default = connections["default"]
    closed = dict(default.settings_dict)
    if default.vendor == "postgresql":
        closed |= {"HOST": "127.0.0.1", "PORT": free_port(), "OPTIONS": {"connect_timeout": 2}}
    else:
        closed |= {"NAME": "/nonexistent-folder/miantan.sqlite3", "OPTIONS": {}}
    down = type(default)(closed, alias="down")
    try:
        checks = {check.name: check for check in run_checks(db=down)}
    finally:
        down.close()

    assert checks["database"].status == "fail"
    assert checks["database"].reason == "OperationalError"
    assert checks["notification_worker"].status == "skipped"
    assert checks["queue_age"].status == "skipped"


@pytest.fixture
def redis_server() -> Iterator[int]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_readyz_pings_redis_when_it_is_configured(
    client: Client, db: None, redis_server: int
) -> None:
    worker_seen(timedelta(seconds=5))

    with override_settings(REDIS_URL=f"redis://127.0.0.1:{redis_server}/0"):
        up = client.get("/readyz")
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        down = client.get("/readyz")

    assert up.status_code == 200
    assert checks_of(up)["redis"] == {"name": "redis", "status": "ok", "reason": "PING answered"}
    assert down.status_code == 503
    assert checks_of(down)["redis"] == {
        "name": "redis",
        "status": "fail",
        "reason": "ConnectionError",
    }


# --- /metrics ------------------------------------------------------------------------------


def scrape(client: Client, **headers: Any) -> dict[str, Any]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        family.name: family for family in text_string_to_metric_families(response.content.decode())
    }


def samples(family: Any, **labels: str) -> list[Any]:
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_label_requests_by_view_name_never_by_path(
    client_as: Any, hospital: Hospital
) -> None:
    client = client_as(hospital.nurse_wang)
    client.get(reverse("web:talk_detail", kwargs={"talk_id": 987654}))
    client.get(reverse("web:talk_detail", kwargs={"talk_id": 987655}))
    client.get("/no-such-page/")

    families = scrape(client)

    requests = families["miantan_http_request_duration_seconds"]
    counts = samples(requests, view="web:talk_detail", method="GET", status="4xx")
    assert next(s.value for s in counts if s.name.endswith("_count")) >= 2
    assert samples(requests, view="unmatched", status="4xx")
    views = {s.labels["view"] for s in requests.samples}
    assert not [view for view in views if "/" in view or "987654" in view]


def test_metrics_read_the_queues_from_the_database(
    client: Client, hospital: Hospital, django_capture_on_commit_callbacks: Any
) -> None:
    notification(hospital, "sent", due_at=NOW - timedelta(days=1), sent_at=NOW)
    notification(hospital, "given-up", failed_at=NOW, attempts=6)
    notification(hospital, "retrying", attempts=2, last_error="SMTPServerDisconnected")
    notification(hospital, "due", channel="inbox", due_at=NOW - timedelta(seconds=42))
    notification(hospital, "later", channel="wecom", due_at=NOW + timedelta(hours=1))
    waiting_task(NOW - timedelta(seconds=7))
    worker_seen(timedelta(seconds=30))

    families = scrape(client)

    assert families["miantan_database_up"].samples[0].value == 1
    assert families["miantan_notification_queue_length"].samples[0].value == 2
    assert families["miantan_notification_oldest_due_age_seconds"].samples[0].value == 42
    deliveries = {
        (s.labels["channel"], s.labels["status"]): s.value
        for s in families["miantan_notifications"].samples
    }
    assert deliveries[("email", "sent")] == 1
    assert deliveries[("email", "given_up")] == 1
    assert deliveries[("email", "failed")] == 1
    assert deliveries[("email", "pending")] == 1
    assert deliveries[("inbox", "pending")] == 1
    assert deliveries[("wecom", "pending")] == 1
    assert families["miantan_task_queue_length"].samples[0].value == 1
    assert families["miantan_task_oldest_waiting_age_seconds"].samples[0].value == 7
    assert families["miantan_notification_worker_last_seen_age_seconds"].samples[0].value == 30
    text = client.get("/metrics").content.decode()
    assert "王芳" not in text
    assert str(hospital.nurse_wang.pk) not in {
        s.labels.get("recipient") for family in families.values() for s in family.samples
    }


def test_metrics_time_each_kpi_import(
    client: Client, hospital: Hospital, django_capture_on_commit_callbacks: Any
) -> None:
    def imported(status: str) -> float:
        return (
            REGISTRY.get_sample_value(
                "miantan_kpi_import_duration_seconds_count", {"status": status}
            )
            or 0.0
        )

    before = imported("rejected")
    with django_capture_on_commit_callbacks(execute=True):
        metrics_import = start_metrics_import(
            hospital.organisation,
            upload=ContentFile("工号,指标,期间,实际值\nNOBODY,nothing,2026-02,1\n".encode()),
            original_name="kpi.csv",
            actor=hospital.hr_partner.user,
        )
    metrics_import.refresh_from_db()

    assert metrics_import.status == "rejected"
    assert imported("rejected") == before + 1
    families = scrape(client)
    assert samples(families["miantan_kpi_import_duration_seconds"], status="rejected")


# --- who may scrape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "headers", "expected"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("10.1.2.3", {}, 404),
        ("203.0.113.9", {}, 404),
        # Relayed by a proxy on the same machine: the visitor is elsewhere.
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 404),
        ("127.0.0.1", {"HTTP_X_REAL_IP": "203.0.113.9"}, 404),
        ("not an address", {}, 404),
    ],
)
def test_metrics_without_a_token_answer_loopback_only(
    db: None, address: str, headers: dict[str, str], expected: int
) -> None:
    response = Client(REMOTE_ADDR=address).get("/metrics", **headers)

    assert response.status_code == expected


@override_settings(MIANTAN_METRICS_TOKEN="s3cret-scrape-token")
@pytest.mark.parametrize(
    ("authorization", "address", "expected"),
    [
        ("Bearer s3cret-scrape-token", "203.0.113.9", 200),
        ("Bearer s3cret-scrape-token", "127.0.0.1", 200),
        ("Bearer wrong", "203.0.113.9", 404),
        ("s3cret-scrape-token", "203.0.113.9", 404),
        ("", "203.0.113.9", 404),
        ("", "127.0.0.1", 200),
    ],
)
def test_metrics_with_a_token_answer_whoever_shows_it(
    db: None, authorization: str, address: str, expected: int
) -> None:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = Client(REMOTE_ADDR=address).get("/metrics", **headers)

    assert response.status_code == expected
    assert "miantan_" not in response.content.decode() if expected == 404 else True


# --- several processes ---------------------------------------------------------------------

OBSERVE = """
from miantan.core.observability import observe_request
observe_request("web:talk_detail", "GET", 200, 0.02)
"""
EXPOSE = """
import sys
from miantan.core.observability import exposition
sys.stdout.write(exposition().decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    """Two server processes observe a request each; a third answers the scrape with both."""
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _process in range(2):
        subprocess.run([sys.executable, "-c", OBSERVE], env=environment, cwd=ROOT, check=True)

    answer = subprocess.run(
        [sys.executable, "-c", EXPOSE],
        env=environment,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    families = {family.name: family for family in text_string_to_metric_families(answer)}
    count = samples(families["miantan_http_request_duration_seconds"], view="web:talk_detail")
    assert [s.value for s in count if s.name.endswith("_count")] == [2.0]
