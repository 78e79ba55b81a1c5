"""Prometheus instruments that the processes themselves observe, and their text exposition.

Two histograms are measured in-process: the time of each request (by the view's name, never
the path, so ids do not multiply the series) and the duration of each KPI import. Everything
about queues is read from the database when the metrics are scraped (web/health.py), so it is
the same whichever process answers.

Several server processes (gunicorn or uvicorn workers, `db_worker`s): set
PROMETHEUS_MULTIPROC_DIR to an empty directory shared by all of them, emptied at each start.
prometheus_client then keeps every process's observations in files there, and any process
answering /metrics adds them all up. Without it each process counts only its own requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.registry import Collector

REQUEST_SECONDS = Histogram(
    "miantan_http_request_duration_seconds",
    "Time to answer a request, by view name, method and status class.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
KPI_IMPORT_SECONDS = Histogram(
    "miantan_kpi_import_duration_seconds",
    "Time a KPI import took, from its claim to its outcome, by final status.",
    ["status"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The view label of a request that matched no URL (404s of unknown paths, static files).
UNMATCHED = "unmatched"


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(
        view, method if method in _METHODS else "other", f"{status // 100}xx"
    ).observe(seconds)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text format of this process's instruments (or all processes' ones in multiprocess
    mode) and of the extra collectors, read now."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
    else:
        from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

        registry = CollectorRegistry()
        own: list[Collector] = [REQUEST_SECONDS, KPI_IMPORT_SECONDS]
        # Memory, CPU and open files: of this one process, so not in multiprocess mode.
        own += [PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR]
        for collector in own:
            registry.register(collector)
    for extra_collector in extra:
        registry.register(extra_collector)
    return generate_latest(registry)
