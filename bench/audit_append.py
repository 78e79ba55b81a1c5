"""Benchmark of appending to the audit trail (`miantan.audit.services.record`). See
bench/README.md.

For each database, in a child process of its own: a fresh database (SQLite in
var/bench/audit.sqlite3; PostgreSQL `miantan_bench_audit`) and `migrate`. Then writers, each
a process of its own with its own connection (as the server's workers are), append events
for SECONDS seconds, each event in a transaction of its own, committed: the audited write of
a record being saved (`record(...)` with a subject, an object and a few details; the
checkpoint every MIANTAN_AUDIT_CHECKPOINT_EVERY events of a chain included). Three runs:

- `writers=1,organisations=1`: one writer;
- `writers=8,organisations=8`: eight writers, each for an organisation of its own, so each
  appends to its own chain and locks only that chain's head;
- `writers=8,organisations=1`: eight writers of one organisation, who queue on its chain's
  head (what every writer did when the trail had a single chain).

Figures: `audit_append.writes_per_second` (events committed per second over the run, all
writers together) and `audit_append.problems` (what `verify_chain` finds after the run: 0).
Target (issue 11): with 8 writers over 8 organisations, not fewer writes per second than with
one writer, on PostgreSQL. SQLite has one write lock for the whole database, so its writers
queue whatever the chain.
Run on its own with `python bench/audit_append.py`, or from bench/run.py through `run()`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, postgres_reachable

FILES = ROOT / "var" / "bench"
PG_DATABASE = "miantan_bench_audit"
SQLITE_FILE = FILES / "audit.sqlite3"
SECONDS = 8.0
# (writers, organisations): writer n writes for organisation n % organisations.
RUNS = ((1, 1), (8, 8), (8, 1))


def run(*, postgresql: bool = True, sqlite: bool = True, seconds: float = SECONDS) -> list[Result]:
    """All figures of this benchmark, as entries for bench/results.json."""
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        results.extend(_child(f"sqlite:///{SQLITE_FILE}", "sqlite", seconds))
    if postgresql and postgres_reachable():
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        results.extend(_child(f"{PG_SERVER}/{PG_DATABASE}", "postgresql", seconds))
    elif postgresql:
        print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the audit append benchmark.")
    _print(results)
    return results


def _child(url: str, database: str, seconds: float) -> list[Result]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", database, "--seconds", str(seconds)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(database: str, seconds: float) -> list[Result]:
    """In the child process: one fresh database, the three runs one after another."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from miantan.audit.models import AuditEvent
    from miantan.audit.verification import verify_chain

    call_command("migrate", verbosity=0)
    results: list[Result] = []
    first_organisation = 1
    for writers, organisations in RUNS:
        dataset = f"writers={writers},organisations={organisations}"
        chosen = list(range(first_organisation, first_organisation + organisations))
        first_organisation += organisations
        before = AuditEvent.objects.count()
        # Every chain of the run begun before the clock starts: a first event creates its head.
        for organisation in chosen:
            _append(organisation, writer=-1, number=0)
        connections.close_all()  # the writers are forked: no connection may be shared
        written, elapsed = _writers(writers, chosen, seconds)
        if AuditEvent.objects.count() - before != written + organisations:
            raise SystemExit(f"[{database} {dataset}] events were lost")
        problems = list(verify_chain())
        for name, value, unit in (
            ("writes_per_second", written / elapsed, "writes/s"),
            ("problems", len(problems), "problems"),
        ):
            results.append(
                {
                    "name": f"audit_append.{name}",
                    "value": round(value, 1),
                    "unit": unit,
                    "dataset": dataset,
                    "database": database,
                }
            )
        print(f"[{database} {dataset}] {written} events in {elapsed:.1f} s", file=sys.stderr)
    return results


def _writers(writers: int, organisations: list[int], seconds: float) -> tuple[int, float]:
    """Start the writers together; the events they committed and the seconds from the start
    to the last commit."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(writers + 1)
    done: Any = context.Queue()
    processes = [
        context.Process(
            target=_write,
            args=(number, organisations[number % len(organisations)], seconds, start, done),
        )
        for number in range(writers)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.monotonic()
    reports = [done.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer failed (exit code {process.exitcode})")
    if any(isinstance(report, str) for report in reports):
        raise SystemExit(f"a writer failed: {[r for r in reports if isinstance(r, str)]}")
    written = sum(count for count, _ended in reports)
    return written, max(ended for _count, ended in reports) - began


def _write(number: int, organisation: int, seconds: float, start: Any, done: Any) -> None:
    """One writer: append until the time is up; report (events, when the last one committed)."""
    from django.db import connections

    try:
        start.wait()
        deadline = time.monotonic() + seconds
        count = 0
        while time.monotonic() < deadline:
            count += 1
            _append(organisation, writer=number, number=count)
        done.put((count, time.monotonic()))
    except Exception as error:  # reported to the parent, which stops
        done.put(f"writer {number}: {error!r}")
    finally:
        connections.close_all()


def _append(organisation: int, *, writer: int, number: int) -> None:
    from miantan.audit.services import record

    record(
        "records.section.saved",
        actor=None,
        object_type="records.section",
        object_id=number,
        subject_id=1000 * organisation + number % 1000,
        organisation_id=organisation,
        data={"writer": writer, "version": number, "fields": ["goal", "steps", "dates"]},
    )


def _print(results: list[Result]) -> None:
    if not results:
        return
    print("\nAudit append")
    for result in results:
        where = f"{result['database']} {result['dataset']}"
        print(f"  {where:44} {result['name']:36} {result['value']:>10,.1f} {result['unit']}")
    rates = {
        (r["database"], r["dataset"]): r["value"]
        for r in results
        if r["name"] == "audit_append.writes_per_second"
    }
    one = rates.get(("postgresql", "writers=1,organisations=1"))
    eight = rates.get(("postgresql", "writers=8,organisations=8"))
    if one is not None and eight is not None:
        verdict = "meets" if eight >= one else "misses"
        print(
            f"  Audit append {verdict} the target on PostgreSQL (8 writers over 8 organisations"
            f" not slower than 1): {eight:,.0f} against {one:,.0f} writes/s"
        )
    if any(r["value"] for r in results if r["name"] == "audit_append.problems"):
        print("  verify_chain found problems after a run: the chains are broken")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of each run")
    parser.add_argument(
        "--output", default=str(RESULTS), help="JSON results to update (audit_append.* entries)"
    )
    parser.add_argument("--child", metavar="DATABASE", help="internal: measure in this process")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.seconds)))
        return
    databases = {item.strip() for item in args.databases.split(",")}
    results = run(
        postgresql="postgresql" in databases, sqlite="sqlite" in databases, seconds=args.seconds
    )
    merge_results(results, Path(args.output), prefix="audit_append.")
    print(f"\nUpdated {len(results)} figures in {args.output}")


if __name__ == "__main__":
    main()
