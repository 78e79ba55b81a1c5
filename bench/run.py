"""Benchmarks of the people pages and API (`make bench`). See bench/README.md.

For each database and dataset size: a fresh database, `migrate`, `seed_demo --employees N`
(timed), then requests through django.test.Client in this process, signed in as the hospital's
HR partner (who sees the whole hospital) and as the head of 心内科. Prints a table and writes
bench/results.json. It reports figures; it never fails because a machine is slow.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib import PG_SERVER, RESULTS, ROOT, Result, percentile, postgres_reachable

SQLITE_DIR = ROOT / "var" / "bench"
PG_DATABASE = "miantan_bench"
PERSONAS = {"hr": "h.hr", "head": "h.head.cardiology"}
SEARCH = "王"
HEAT_MAP_PEOPLE = 300
TOPICS = ("quarterly_review", "career", "project_recognition", "improvement", "promotion")
# 40 months of KPI values: about 10,000,000 at 100,000 employees (DESIGN.md "Budgets").
KPI_MONTHS = 40
# Ten talks per employee: about 1,000,000 at 100,000 employees (DESIGN.md "Budgets").
TALKS_PER_EMPLOYEE = 10
# Signed (archived) records made for the archive benchmark (bench/archive.py).
ARCHIVE_RECORDS = 100_000
PAGE_SIZE = 25
WARM_UP = 10
QUERY_SAMPLES = 3
# DESIGN.md "Budgets": on PostgreSQL at 100,000 employees.
BUDGET_SIZE = 100_000
PERSON_P95_MS = 50.0
LIST_P95_MS = 100.0
ANY_P95_MS = 150.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100,100000", help="employees per dataset, e.g. 100,2000"
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the JSON results")
    parser.add_argument(
        "--skip-metrics", action="store_true", help="skip the KPI value import benchmark"
    )
    parser.add_argument("--metrics-rows", default="1000000,5000000", help="rows per KPI value file")
    parser.add_argument("--skip-slots", action="store_true", help="skip the slot search benchmark")
    parser.add_argument("--skip-cycles", action="store_true", help="skip the cycle benchmark")
    parser.add_argument("--skip-audit", action="store_true", help="skip the audit append benchmark")
    parser.add_argument(
        "--skip-nudges", action="store_true", help="skip the nudge scan benchmark (100,000)"
    )
    parser.add_argument(
        "--skip-delivery", action="store_true", help="skip the notification delivery benchmark"
    )
    parser.add_argument(
        "--skip-live", action="store_true", help="skip the live record benchmark (400 WebSockets)"
    )
    parser.add_argument(
        "--skip-archive",
        action="store_true",
        help="skip the signed archive benchmark (verify_archive, PDF, employee file)",
    )
    parser.add_argument(
        "--archive-records",
        type=int,
        default=ARCHIVE_RECORDS,
        help="archived records to make on each dataset (at most the seeded archived talks)",
    )
    parser.add_argument(
        "--skip-load",
        action="store_true",
        help="skip the load test (production server, 20 clients, 30 s per page)",
    )
    parser.add_argument(
        "--skip-backup",
        action="store_true",
        help="skip the backup drill (backup and restore of 100,000 employees)",
    )
    parser.add_argument("--worker", nargs=3, metavar=("DATABASE", "SIZE", "OUT"), help="internal")
    args = parser.parse_args()
    archive_records = 0 if args.skip_archive else args.archive_records
    if args.worker:
        database, size, out = args.worker
        measured = measure(database, int(size), args.requests, archive_records)
        Path(out).write_text(json.dumps(measured))
        return
    results: list[Result] = []
    for database in _split(args.databases):
        if database == "postgresql" and not postgres_reachable():
            print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping its benchmarks.")
            continue
        for size in (int(s) for s in _split(args.sizes)):
            results.extend(_run_worker(database, size, args.requests, archive_records))
    _print_table(results)
    _print_archive(results)
    _print_budgets(results)
    output = Path(args.output)
    # Written after every part, so that a later part that fails keeps the earlier figures.
    _write(output, results)
    if not args.skip_metrics:
        results.extend(_metrics_import(args.databases, args.metrics_rows))
        _write(output, results)
    if not args.skip_slots:
        results.extend(_slot_search(args.databases))
        _write(output, results)
    if not args.skip_cycles:
        results.extend(_cycle_scheduling(args.databases))
        _write(output, results)
    if not args.skip_audit:
        results.extend(_audit_append(args.databases))
        _write(output, results)
    if not args.skip_nudges:
        results.extend(_nudges(args.databases))
        _write(output, results)
    if not args.skip_live:
        results.extend(_live_record(args.databases))
        _write(output, results)
    if not args.skip_delivery:
        results.extend(_delivery(args.databases))
        _write(output, results)
    if not args.skip_load:
        results.extend(_load(args.databases))
        _write(output, results)
    if not args.skip_backup:
        results.extend(_backup_drill(args.databases))
        _write(output, results)
    print(f"\nWrote {len(results)} figures to {args.output}")


def _write(output: Path, results: list[Result]) -> None:
    output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


def _metrics_import(databases: str, rows: str) -> list[Result]:
    """The KPI value import (bench/metrics_import.py), after the people benchmarks."""
    import metrics_import

    chosen = set(_split(databases))
    postgresql = "postgresql" in chosen and postgres_reachable()
    if "postgresql" in chosen and not postgresql:
        print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the KPI import benchmark.")
    sizes = tuple(int(size) for size in _split(rows))
    return metrics_import.run(postgresql=postgresql, sqlite="sqlite" in chosen, rows=sizes)


def _slot_search(databases: str) -> list[Result]:
    """The two-person slot search (bench/slot_search.py), last."""
    import slot_search

    chosen = set(_split(databases))
    postgresql = "postgresql" in chosen and postgres_reachable()
    return slot_search.run(postgresql=postgresql, sqlite="sqlite" in chosen)


def _cycle_scheduling(databases: str) -> list[Result]:
    """Launching a review cycle of 2,000 pairs (bench/cycle_scheduling.py), after the slots."""
    import cycle_scheduling

    chosen = set(_split(databases))
    postgresql = "postgresql" in chosen and postgres_reachable()
    return cycle_scheduling.run(postgresql=postgresql, sqlite="sqlite" in chosen)


def _audit_append(databases: str) -> list[Result]:
    """Audited writes per second, 1 and 8 writers (bench/audit_append.py), after the cycle."""
    import audit_append

    chosen = set(_split(databases))
    postgresql = "postgresql" in chosen and postgres_reachable()
    return audit_append.run(postgresql=postgresql, sqlite="sqlite" in chosen)


def _nudges(databases: str) -> list[Result]:
    """Every nudge rule over 100,000 employees (bench/nudges.py), after the audit writes."""
    import nudges

    chosen = set(_split(databases))
    postgresql = "postgresql" in chosen and postgres_reachable()
    return nudges.run(postgresql=postgresql, sqlite="sqlite" in chosen)


def _delivery(databases: str) -> list[Result]:
    """Mails through a real SMTP server on loopback, two workers (bench/delivery.py)."""
    import delivery

    chosen = set(databases.split(","))
    return delivery.run(postgresql="postgresql" in chosen, sqlite="sqlite" in chosen)


def _load(databases: str) -> list[Result]:
    """The pages under load through the production server (bench/load.py)."""
    import load

    return load.run(databases)


def _backup_drill(databases: str) -> list[Result]:
    """Backup and restore of 100,000 employees, checked (bench/backup_drill.py), last."""
    import backup_drill

    chosen = set(_split(databases))
    return backup_drill.run(postgresql="postgresql" in chosen, sqlite="sqlite" in chosen)


def _live_record(databases: str) -> list[Result]:
    """200 talks open at once, 400 WebSocket clients (bench/live_record.py)."""
    import live_record

    return live_record.measure(databases, rooms=200, rate=10.0, seconds=30.0)


def _print_archive(results: list[Result]) -> None:
    """The signed archive's figures (bench/archive.py), measured in the workers."""
    import archive

    figures = [r for r in results if r["name"].startswith(archive.PREFIXES)]
    archive.print_results(figures, pages=False)


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _run_worker(database: str, size: int, requests: int, archive_records: int) -> list[Result]:
    """One dataset in a child process: Django settings are fixed once per process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DATABASE_URL": _database_url(database, size),
    }
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--requests", str(requests)]
        command += ["--archive-records", str(archive_records)]
        # This same script with arguments built here, not user input.
        subprocess.run([*command, "--worker", database, str(size), out.name], env=env, check=True)  # noqa: S603
        return json.loads(Path(out.name).read_text())


def _database_url(database: str, size: int) -> str:
    if database == "sqlite":
        return f"sqlite:///{SQLITE_DIR / f'bench-{size}.sqlite3'}"
    if database == "postgresql":
        return f"{PG_SERVER}/{PG_DATABASE}"
    raise SystemExit(f"unknown database {database!r}: use sqlite or postgresql")


# --- the worker: one database, one dataset ------------------------------------------------


def measure(database: str, size: int, requests: int, archive_records: int) -> list[Result]:
    _fresh_database(database, size)
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    dataset = f"employees={size}"
    results: list[Result] = []

    def add(name: str, value: float, unit: str) -> None:
        entry = {"name": name, "value": round(value, 2), "unit": unit, "dataset": dataset}
        results.append({**entry, "database": database})

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command(
        "seed_demo",
        employees=size,
        kpi_months=KPI_MONTHS,
        talks_per_employee=TALKS_PER_EMPLOYEE,
        verbosity=0,
    )
    add("seed_demo.seconds", time.perf_counter() - started, "s")
    from miantan.metrics.models import KpiValue
    from miantan.people.models import Employee

    add("seed_demo.employees", Employee.objects.count(), "employees")
    add("seed_demo.kpi_values", KpiValue.objects.count(), "values")
    from miantan.interviews.models import Talk

    add("seed_demo.talks", Talk.objects.count(), "talks")
    # Other work on the machine skews the figures; the load average says how much there was.
    add("machine.load_average", os.getloadavg()[0], "processes")
    # Like the server (config/asgi.py), the long-lived objects are frozen before requests:
    # otherwise the seeding's millions of objects, which a server process never holds, are
    # walked by every full collection during the timed requests.
    gc.collect()
    gc.freeze()
    print(f"[{database} {dataset}] seeded in {results[0]['value']} s", flush=True)
    for persona, username in PERSONAS.items():
        for endpoint, paths in _endpoints(username, requests).items():
            timings, queries = _time_requests(username, paths, requests)
            name = f"{endpoint}.{persona}"
            add(f"{name}.median", statistics.median(timings), "ms")
            add(f"{name}.p95", percentile(timings, 95), "ms")
            add(f"{name}.queries", queries, "queries")
            print(
                f"[{database} {dataset}] {name}: median {statistics.median(timings):.1f} ms, "
                f"p95 {percentile(timings, 95):.1f} ms, {queries} queries",
                flush=True,
            )
    from record_page import measure_records

    print(f"[{database} {dataset}] talk records", flush=True)
    measure_records(add, requests)
    add("machine.load_average.after", os.getloadavg()[0], "processes")
    if archive_records:
        from archive import measure_archive

        # Last: it adds archived records to the dataset the other figures were taken on.
        print(f"[{database} {dataset}] signed archive", flush=True)
        measure_archive(add, requests, records=archive_records)
    return results


def _fresh_database(database: str, size: int) -> None:
    if database == "sqlite":
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_DIR / f'bench-{size}.sqlite3'}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')


def _endpoints(username: str, requests: int) -> dict[str, Callable[[int], str]]:
    """What to request, by endpoint: the n-th timed request's path."""
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator

    from miantan.metrics.profiles import can_see_department_profile
    from miantan.people.queries import (
        PeopleFilter,
        departments_visible_to,
        employees_visible_to,
        headcount_by_department,
        search_people,
    )

    viewer = get_user_model().objects.get(username=username)
    people = search_people(viewer, PeopleFilter())
    deep_page = max(1, Paginator(people, PAGE_SIZE).num_pages // 2)
    visible = list(employees_visible_to(viewer).order_by("pk").values_list("pk", flat=True))
    rng = random.Random(7)
    ids = (
        rng.sample(visible, requests)
        if len(visible) >= requests
        else rng.choices(visible, k=requests)
    )
    # The department profile (heat map) of the visible department whose team is nearest 300.
    counted = headcount_by_department(viewer, include_subtree=True)
    headcounts = {
        d.pk: counted.get(d.pk, 0)
        for d in departments_visible_to(viewer)
        if can_see_department_profile(viewer, d)
    }
    team = min(headcounts, key=lambda d: (abs(headcounts[d] - HEAT_MAP_PEOPLE), d))
    print(f"  {username}: department profile of department {team} ({headcounts[team]} people)")
    talk_ids = _talk_sample(viewer, requests, rng)
    return {
        "people_list": lambda n: "/people/",
        "people_list_deep": lambda n: f"/people/?page={deep_page}",
        "people_search": lambda n: f"/people/?q={SEARCH}",
        "person_page": lambda n: f"/people/{ids[n % len(ids)]}/",
        "api_people_list": lambda n: "/api/v1/people",
        "api_person": lambda n: f"/api/v1/people/{ids[n % len(ids)]}",
        "profile_page": lambda n: f"/people/{ids[n % len(ids)]}/profile/",
        "api_brief": lambda n: f"/api/v1/people/{ids[n % len(ids)]}/brief?topic={TOPICS[n % 5]}",
        "department_profile": lambda n: f"/departments/{team}/profile/",
        "talks_list": lambda n: "/talks/",
        "talk_page": lambda n: f"/talks/{talk_ids[n % len(talk_ids)]}/",
        "api_talks_list": lambda n: "/api/v1/talks",
        "api_talk": lambda n: f"/api/v1/talks/{talk_ids[n % len(talk_ids)]}",
    }


def _talk_sample(viewer: Any, requests: int, rng: random.Random) -> list[int]:
    """Talks the viewer may open: all of the hospital's for HR, their own for the head."""
    from miantan.interviews.queries import talks_visible_to

    visible = list(talks_visible_to(viewer).order_by("pk").values_list("pk", flat=True))
    print(f"  {viewer.username}: {len(visible):,} talks visible")
    if len(visible) >= requests:
        return rng.sample(visible, requests)
    return rng.choices(visible, k=requests)


def _time_requests(
    username: str, path: Callable[[int], str], requests: int
) -> tuple[list[float], int]:
    """Milliseconds per request after a warm-up, and SQL queries per request."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    for n in range(WARM_UP):
        _get(client, path(n))
    timings = []
    for n in range(requests):
        started = time.perf_counter()
        _get(client, path(n))
        timings.append((time.perf_counter() - started) * 1000)
    # Counted apart from the timed requests: capturing queries slows them down a little.
    counts = []
    for n in range(QUERY_SAMPLES):
        with CaptureQueriesContext(connection) as captured:
            _get(client, path(n))
        counts.append(len(captured.captured_queries))
    return timings, max(counts)


def _get(client: Any, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}; the benchmark is broken")


# --- the report ---------------------------------------------------------------------------


def _print_table(results: list[Result]) -> None:
    columns = list(dict.fromkeys((r["database"], r["dataset"]) for r in results))
    values = {(r["database"], r["dataset"], r["name"]): r["value"] for r in results}
    rows = list(
        dict.fromkeys(
            r["name"][:-4] for r in results if r["name"].endswith(".p95") and r["unit"] == "ms"
        )
    )
    width = 34
    print("\n" + "".ljust(26) + "".join(f"{db} {ds}".ljust(width) for db, ds in columns))
    seeding = [
        f"{values[(db, ds, 'seed_demo.seconds')]:.1f} s, "
        f"{values[(db, ds, 'seed_demo.employees')]:,.0f} employees"
        for db, ds in columns
    ]
    print("seed_demo".ljust(26) + "".join(cell.ljust(width) for cell in seeding))
    load = [
        f"{values[(db, ds, 'machine.load_average')]:.1f} -> "
        f"{values[(db, ds, 'machine.load_average.after')]:.1f}"
        for db, ds in columns
    ]
    print("load average".ljust(26) + "".join(cell.ljust(width) for cell in load))
    print("".ljust(26) + "".join("median / p95 ms, queries".ljust(width) for _ in columns))
    for row in rows:
        cells = []
        for db, ds in columns:
            if (db, ds, f"{row}.p95") not in values:
                cells.append("-".ljust(width))
                continue
            median, p95 = values[(db, ds, f"{row}.median")], values[(db, ds, f"{row}.p95")]
            queries = values[(db, ds, f"{row}.queries")]
            cells.append(f"{median:7.1f} / {p95:7.1f}, {queries:3.0f} q".ljust(width))
        print(row.ljust(26) + "".join(cells))


def _print_budgets(results: list[Result]) -> None:
    """DESIGN.md budgets: constant queries per request; on PostgreSQL at 100,000 employees the
    person and talk pages p95 <= 50 ms, lists <= 100 ms, everything <= 150 ms."""
    print("\nBudgets")
    queries: dict[tuple[str, str], dict[str, float]] = {}
    for r in results:
        if r["unit"] == "queries":
            queries.setdefault((r["database"], r["name"]), {})[r["dataset"]] = r["value"]
    for (database, name), by_dataset in queries.items():
        if len(by_dataset) > 1:
            same = len(set(by_dataset.values())) == 1
            detail = ", ".join(f"{ds}: {q:.0f}" for ds, q in by_dataset.items())
            print(f"  {'ok  ' if same else 'MISS'} {database} {name} constant ({detail})")
    for r in results:
        if (r["database"], r["dataset"], r["unit"]) != (
            "postgresql",
            f"employees={BUDGET_SIZE}",
            "ms",
        ):
            continue
        if not r["name"].endswith(".p95"):
            continue
        endpoint = r["name"].split(".")[0]
        if "person" in endpoint or endpoint in (
            "profile_page",
            "api_brief",
            "talk_page",
            "api_talk",
            "employee_file",
        ):
            budget = PERSON_P95_MS
        elif "list" in r["name"] or "search" in r["name"]:
            budget = LIST_P95_MS
        else:
            budget = ANY_P95_MS
        verdict = "ok  " if r["value"] <= budget else "MISS"
        print(f"  {verdict} postgresql {r['name']} {r['value']:.1f} ms <= {budget:.0f} ms")


if __name__ == "__main__":
    main()
