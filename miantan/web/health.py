"""Probes and metrics for operators: /healthz, /readyz and /metrics.

/healthz answers that the process is up, without the database. /readyz runs the checks below
and answers 503 when one fails. /metrics is the Prometheus text format; it is for the
operator's scraper only: a bearer token (MIANTAN_METRICS_TOKEN) or a loopback address that
came through no proxy, anyone else gets 404. The three are answered by OpsMiddleware
(web/middleware.py) before sessions, sign-in, the language or the HTTPS redirect, so they
never touch a session and never redirect; the URL patterns name them for `reverse`.

Nothing here names a person: counts, ages in seconds and exception class names only.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Min, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from miantan.core import observability
from miantan.notifications import queries as notification_queries
from miantan.nudges import queries as nudge_queries

OK, FAIL, SKIPPED = "ok", "fail", "skipped"
# Headers a reverse proxy adds: a request that carries one came from elsewhere, whatever the
# address it arrived from.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    reason: str


# --- /healthz ----------------------------------------------------------------------------


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


# --- /readyz -----------------------------------------------------------------------------


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    checks = run_checks()
    ready = all(check.status != FAIL for check in checks)
    response = JsonResponse(
        {"status": OK if ready else FAIL, "checks": [asdict(check) for check in checks]},
        status=200 if ready else 503,
    )
    # A probe asks every few seconds: an unready answer is not logged as a server error.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def run_checks(now: datetime | None = None, db: BaseDatabaseWrapper | None = None) -> list[Check]:
    """Every readiness check, in order; the ones that read tables are skipped when the
    database does not answer."""
    now = now or timezone.now()
    database = _guarded("database", lambda: _database(db or default_connection))
    checks = [database, _guarded("redis", _redis)]
    if database.status != OK:
        return [
            *checks,
            *(
                Check(name, SKIPPED, "the database does not answer")
                for name in ("notification_worker", "queue_age")
            ),
        ]
    checks.append(_guarded("notification_worker", lambda: _worker(now)))
    checks.append(_guarded("queue_age", lambda: _queue_age(now)))
    return checks


def _guarded(name: str, check: Any) -> Check:
    try:
        status, reason = check()
    except Exception as error:  # a probe answers, whatever went wrong
        status, reason = FAIL, f"{type(error).__name__}"
    return Check(name, status, reason)


def _database(db: BaseDatabaseWrapper) -> tuple[str, str]:
    started = time.perf_counter()
    with db.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK, f"SELECT 1 answered in {(time.perf_counter() - started) * 1000:.0f} ms"


def _redis() -> tuple[str, str]:
    url = settings.REDIS_URL
    if not url:
        return SKIPPED, "REDIS_URL is not set"
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return OK, "PING answered"


def worker_limit() -> timedelta:
    """How old the workers' last sign of life may be: one nudge scan interval (an idle worker
    moves the scan mark that often) and three notification leases."""
    return timedelta(
        minutes=settings.MIANTAN_NUDGE_SCAN_MINUTES,
        seconds=3 * settings.MIANTAN_NOTIFICATION_LEASE_SECONDS,
    )


def worker_last_seen() -> datetime | None:
    """The latest sign of life of a delivery worker: the start of the last nudge scan (each
    round asks for one; one worker moves the mark every few minutes) or the last renewal of a
    lease that a worker's heartbeat keeps on rows it holds."""
    seen = [nudge_queries.last_scan_started()]
    lease_end = notification_queries.latest_lease_end()
    if lease_end is not None:
        seen.append(lease_end - timedelta(seconds=settings.MIANTAN_NOTIFICATION_LEASE_SECONDS))
    known = [moment for moment in seen if moment is not None]
    return max(known) if known else None


def _worker(now: datetime) -> tuple[str, str]:
    limit = worker_limit().total_seconds()
    seen = worker_last_seen()
    if seen is None:
        return FAIL, "no delivery worker round has been recorded"
    age = max(0.0, (now - seen).total_seconds())
    verdict = OK if age <= limit else FAIL
    return verdict, f"last sign of life {age:.0f} s ago (limit {limit:.0f} s)"


def _queue_age(now: datetime) -> tuple[str, str]:
    limit = settings.MIANTAN_READY_MAX_QUEUE_AGE_SECONDS
    _due, oldest_due = notification_queries.due_queue(now)
    _waiting, oldest_task = waiting_tasks(now)
    notification_age = _age(now, oldest_due)
    task_age = _age(now, oldest_task)
    verdict = OK if max(notification_age, task_age) <= limit else FAIL
    return verdict, (
        f"oldest due notification {notification_age:.0f} s, oldest waiting task"
        f" {task_age:.0f} s (limit {limit} s)"
    )


def _age(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())


def waiting_tasks(now: datetime) -> tuple[int, datetime | None]:
    """Background tasks (django-tasks' database backend) ready to run and not started, and
    since when the oldest of them has been waiting (its enqueueing, or its run-after time)."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    unscheduled = Q(run_after=get_date_max())
    figures = (
        DBTaskResult.objects.ready()
        .order_by()
        .aggregate(
            oldest_enqueued=Min("enqueued_at", filter=unscheduled),
            oldest_run_after=Min("run_after", filter=~unscheduled),
        )
    )
    count = DBTaskResult.objects.ready().count()
    known = [m for m in (figures["oldest_enqueued"], figures["oldest_run_after"]) if m]
    return count, min(known) if known else None


# --- /metrics ----------------------------------------------------------------------------


def may_scrape(request: HttpRequest) -> bool:
    """The bearer token, when one is set, or a loopback address that no proxy relayed."""
    token = settings.MIANTAN_METRICS_TOKEN
    if token:
        given = request.META.get("HTTP_AUTHORIZATION", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    if any(header in request.META for header in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        return HttpResponse(status=404)
    return HttpResponse(
        observability.exposition([QueueCollector()]), content_type=CONTENT_TYPE_PLAIN_0_0_4
    )


class QueueCollector(Collector):
    """Queue figures read from the database at scrape time, so they are the same whichever
    process answers."""

    def collect(self) -> Iterator[Metric]:
        try:
            figures = list(self._read())
        except DatabaseError:  # the request figures still go out; /readyz says what failed
            figures = []
        yield GaugeMetricFamily(
            "miantan_database_up",
            "1 when the queue figures below could be read from the database.",
            value=1 if figures else 0,
        )
        yield from figures

    def _read(self) -> Iterator[Metric]:
        now = timezone.now()
        due, oldest_due = notification_queries.due_queue(now)
        yield GaugeMetricFamily(
            "miantan_notification_queue_length",
            "Notifications due and not yet sent, given up or withdrawn.",
            value=due,
        )
        yield GaugeMetricFamily(
            "miantan_notification_oldest_due_age_seconds",
            "How long the oldest due notification has waited (0 when none is due).",
            value=_age(now, oldest_due),
        )
        deliveries = GaugeMetricFamily(
            "miantan_notifications",
            "Notification rows by channel and delivery status (sent; failed: waiting for"
            " another attempt after a failed one; given_up; pending).",
            labels=["channel", "status"],
        )
        for channel, status, rows in notification_queries.delivery_totals():
            deliveries.add_metric([channel, status], rows)
        yield deliveries
        waiting, oldest_task = waiting_tasks(now)
        yield GaugeMetricFamily(
            "miantan_task_queue_length",
            "Background tasks ready to run and not started.",
            value=waiting,
        )
        yield GaugeMetricFamily(
            "miantan_task_oldest_waiting_age_seconds",
            "How long the oldest waiting background task has waited (0 when none waits).",
            value=_age(now, oldest_task),
        )
        seen = worker_last_seen()
        if seen is not None:
            yield GaugeMetricFamily(
                "miantan_notification_worker_last_seen_age_seconds",
                "Seconds since a delivery worker last showed it was running.",
                value=_age(now, seen),
            )

    def describe(self) -> Iterator[Metric]:
        return iter(())
