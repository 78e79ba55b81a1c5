"""Benchmark of the KPI value import (`manage.py import_metrics`). See bench/README.md.

PostgreSQL: a fresh database `miantan_bench_metrics` with 100,000 employees (`seed_demo`) and the
hospital KPI pack; CSV files of 1,000,000 and 5,000,000 rows (Chinese headers) written under
var/bench/; each imported in a child process of its own, which reports the import's time and
its peak resident memory (VmHWM). The 1,000,000-row file is then imported again: nothing
changes, and that speed is reported too. SQLite: the same 1,000,000-row import on a fresh file.

Run on its own with `python bench/metrics_import.py`, or from bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results

FILES = ROOT / "var" / "bench"
PG_DATABASE = "miantan_bench_metrics"
SQLITE_FILE = FILES / "metrics.sqlite3"
EMPLOYEES = 100_000
ORGANISATION = "hospital"
KPIS = ("outpatient_visits", "surgeries", "patient_satisfaction", "medical_record_quality")
HEADER = "工号,指标,期间,实际值,目标值\n"
TARGET_ROWS_PER_SECOND = 50_000


def run(
    *, postgresql: bool = True, sqlite: bool = True, rows: tuple[int, ...] = (1_000_000, 5_000_000)
) -> list[Result]:
    """All figures of this benchmark, as entries for bench/results.json."""
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if postgresql:
        results.extend(_postgresql(rows))
    if sqlite:
        results.extend(_sqlite(min(rows)))
    _print(results)
    return results


def _postgresql(sizes: tuple[int, ...]) -> list[Result]:
    url = f"{PG_SERVER}/{PG_DATABASE}"
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    _seed(url, "postgresql")
    with psycopg.connect(url) as connection:
        numbers = [row[0] for row in connection.execute(_EMPLOYEE_NUMBERS, (ORGANISATION,))]
    results: list[Result] = []
    for index, size in enumerate(sorted(sizes)):
        # Each file has periods of its own, so every row of it is new when first imported.
        path = _write_file(size, numbers, first_year=2010 + 5 * index)
        results.extend(_import(url, "postgresql", path, size, "rows_per_second"))
        if index == 0:
            results.extend(_import(url, "postgresql", path, size, "reimport_rows_per_second"))
        path.unlink()
    return results


def _sqlite(size: int) -> list[Result]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{SQLITE_FILE}"
    _seed(url, "sqlite")
    with sqlite3.connect(SQLITE_FILE) as connection:
        numbers = [row[0] for row in connection.execute(_EMPLOYEE_NUMBERS_SQLITE, (ORGANISATION,))]
    path = _write_file(size, numbers, first_year=2010)
    results = _import(url, "sqlite", path, size, "rows_per_second")
    path.unlink()
    return results


_EMPLOYEE_NUMBERS = (
    "SELECT e.employee_number FROM people_employee e JOIN people_organisation o "
    "ON o.id = e.organisation_id WHERE o.slug = %s ORDER BY e.id"
)
_EMPLOYEE_NUMBERS_SQLITE = _EMPLOYEE_NUMBERS.replace("%s", "?")


def _seed(url: str, database: str) -> None:
    started = time.perf_counter()
    for command in (
        ["migrate", "-v0"],
        ["seed_demo", "--employees", str(EMPLOYEES), "-v0"],
        ["load_kpi_pack", ORGANISATION, "hospital", "-v0"],
    ):
        subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), *command],
            env=_env(url),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(
        f"[metrics_import {database}] seeded in {time.perf_counter() - started:.1f} s", flush=True
    )


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}


def _write_file(size: int, numbers: list[str], *, first_year: int) -> Path:
    """employees × KPIs per month, month after month, until the file has `size` rows."""
    path = FILES / f"metrics-{size}.csv"
    generator = random.Random(size)
    written, month = 0, 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        while written < size:
            period = f"{first_year + month // 12}-{month % 12 + 1:02d}"
            lines = []
            for number in numbers:
                for kpi in KPIS:
                    value = generator.randrange(0, 100_000) / 10
                    lines.append(f"{number},{kpi},{period},{value},\n")
            lines = lines[: size - written]
            out.writelines(lines)
            written += len(lines)
            month += 1
    return path


def _import(url: str, database: str, path: Path, size: int, name: str) -> list[Result]:
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", str(path)],
        env=_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    rate = figures["rows"] / figures["seconds"]
    dataset = f"rows={size}"
    print(
        f"[metrics_import {database} {dataset}] {name}: {rate:,.0f} rows/s "
        f"({figures['seconds']:.1f} s, peak RSS {figures['peak_rss_mb']:.0f} MB, "
        f"{figures['created']} new, {figures['updated']} changed)",
        flush=True,
    )

    def entry(metric: str, value: float, unit: str) -> Result:
        return {
            "name": f"metrics_import.{metric}",
            "value": round(value, 2),
            "unit": unit,
            "dataset": dataset,
            "database": database,
        }

    if name == "reimport_rows_per_second":
        return [
            entry(name, rate, "rows/s"),
            entry("reimport_changed_rows", figures["created"] + figures["updated"], "rows"),
        ]
    return [entry(name, rate, "rows/s"), entry("peak_rss_mb", figures["peak_rss_mb"], "MB")]


def _child(path: str) -> None:
    """In the child process: import the file and print the figures as one JSON line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from miantan.audit.models import AuditEvent

    started = time.perf_counter()
    call_command("import_metrics", path, organisation=ORGANISATION, verbosity=0)
    seconds = time.perf_counter() - started
    event = AuditEvent.objects.filter(action="metrics.import.applied").order_by("-pk").first()
    data = event.data if event is not None else {}
    figures = {
        "seconds": seconds,
        "rows": data.get("rows", 0),
        "created": data.get("created", 0),
        "updated": data.get("updated", 0),
        "peak_rss_mb": _peak_rss_mb(),
    }
    print(json.dumps(figures))


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _print(results: list[Result]) -> None:
    if not results:
        return
    print("\nKPI value import")
    for result in results:
        where = f"{result['database']} {result['dataset']}"
        print(f"  {where:28} {result['name']:42} {result['value']:>12,.1f} {result['unit']}")
    rates = [
        r["value"]
        for r in results
        if r["name"] == "metrics_import.rows_per_second" and r["database"] == "postgresql"
    ]
    if rates:
        verdict = "meets" if min(rates) >= TARGET_ROWS_PER_SECOND else "misses"
        print(f"  PostgreSQL import {verdict} the target of {TARGET_ROWS_PER_SECOND:,} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,5000000", help="rows per file")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument(
        "--output", default=str(RESULTS), help="JSON results to update (metrics_import.* entries)"
    )
    parser.add_argument("--child", metavar="FILE", help="internal: import one file")
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    databases = {item.strip() for item in args.databases.split(",")}
    rows = tuple(int(item) for item in args.rows.split(",") if item.strip())
    results = run(postgresql="postgresql" in databases, sqlite="sqlite" in databases, rows=rows)
    merge_results(results, Path(args.output), prefix="metrics_import.")
    print(f"\nUpdated {len(results)} figures in {args.output}")


if __name__ == "__main__":
    main()
