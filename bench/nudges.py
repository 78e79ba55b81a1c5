"""The nudge scan at scale (`nudge_scan.*`): every rule of the hospital over 100,000 employees
(`nudges.services.scan`). See bench/README.md.

For each database, in a child process of its own:

1. A seeded dataset, made once and kept between runs: `seed_demo --employees N` with the
   page benchmarks' settings (40 months of KPI values, about 10,000,000 at 100,000 employees;
   ten talks per employee and manager, about 1,000,000), in the PostgreSQL database
   `miantan_bench_nudges_seed_<N>` or `var/bench/nudges-seed-<N>.sqlite3`. Each run works on
   a fresh copy (`miantan_bench_nudges`, `var/bench/nudges.sqlite3`), migrated to the current
   code.
2. What the seed has no rows for, added set-based: an action item for one employee in ten
   (due in two days), an improvement plan in force for one in a hundred with a milestone due
   in two days, a training finished yesterday for one in twenty.
3. The clock is set 10 days before the end of the latest month with KPI values; the
   KPI rule looks at months (the seeded KPIs are monthly; the hospital's default is the
   quarter), every other rule keeps its defaults.
4. Timed, under `flock /tmp/miantan-bench.lock`: `scan()` of the hospital, all seven rules,
   everything new (`nudge_scan.seconds`); then the same scan again, which finds everything
   queued already (`nudge_scan.repeat.seconds`). Also: how many people were nudged and rows
   queued, the SQL queries of the scan, and each rule's own seconds.

Target (DESIGN.md): ≤ 10 s on PostgreSQL at 100,000 employees.
Run on its own with `python bench/nudges.py [--databases sqlite,postgresql] [--size N]`, or
from bench/run.py through `run()`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, postgres_reachable

FILES = ROOT / "var" / "bench"
PG_WORK = "miantan_bench_nudges"
SIZE = 100_000
KPI_MONTHS = 40
TALKS_PER_EMPLOYEE = 10
TARGET_SECONDS = 10.0
LOCK = "/tmp/miantan-bench.lock"  # noqa: S108
ORGANISATION = "hospital"


def run(*, postgresql: bool = True, sqlite: bool = True, size: int = SIZE) -> list[Result]:
    """All figures of this benchmark, as entries for bench/results.json."""
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if sqlite:
        results.extend(_child(_sqlite_work(size), "sqlite", size))
    if postgresql and postgres_reachable():
        results.extend(_child(_postgres_work(size), "postgresql", size))
    elif postgresql:
        print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the nudge benchmark.")
    _print(results)
    return results


# --- the datasets ---------------------------------------------------------------------------------


def _seed(url: str, size: int) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)  # noqa: S603
    seed = [*manage, "seed_demo", "--employees", str(size), "--kpi-months", str(KPI_MONTHS)]
    seed += ["--talks-per-employee", str(TALKS_PER_EMPLOYEE), "-v0"]
    subprocess.run(seed, env=env, check=True)  # noqa: S603


def _sqlite_work(size: int) -> str:
    seed = FILES / f"nudges-seed-{size}.sqlite3"
    if not seed.exists():
        _seed(f"sqlite:///{seed}", size)
    work = FILES / "nudges.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(seed, work)
    return f"sqlite:///{work}"


def _postgres_work(size: int) -> str:
    import psycopg

    seed = f"miantan_bench_nudges_seed_{size}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [seed])
        if found.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{seed}"')
            _seed(f"{PG_SERVER}/{seed}", size)
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_WORK}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_WORK}" TEMPLATE "{seed}"')
    return f"{PG_SERVER}/{PG_WORK}"


def _child(url: str, database: str, size: int) -> list[Result]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", database, "--size", str(size)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- in the child process -------------------------------------------------------------------------


@contextmanager
def _bench_lock() -> Iterator[None]:
    """Timed runs on this machine take turns (`flock /tmp/miantan-bench.lock`)."""
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _measure(database: str, size: int) -> list[Result]:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from miantan.notifications.models import Notification
    from miantan.nudges import services
    from miantan.nudges.enums import NudgeKind
    from miantan.nudges.models import NudgeRule
    from miantan.nudges.queries import ensure_rules
    from miantan.people.models import Employee, Organisation

    call_command("migrate", verbosity=0)
    organisation = Organisation.objects.get(slug=ORGANISATION)
    now = _clock(organisation)
    _add_missing_rows(organisation, now)
    ensure_rules([organisation.pk])
    NudgeRule.objects.filter(organisation=organisation, kind=NudgeKind.PERIOD_END_LOW_KPI).update(
        params={"period_kind": "month", "days_before": 15, "threshold": 80}
    )
    _analyze(connection)
    employees = Employee.objects.filter(organisation=organisation).count()
    rows_before = Notification.objects.count()

    per_rule: dict[str, float] = {}
    timed_rule = services.run_rule

    def run_rule(rule: Any, *, now: datetime) -> int:
        started = perf_counter()
        count = timed_rule(rule, now=now)
        per_rule[rule.kind] = per_rule.get(rule.kind, 0.0) + perf_counter() - started
        return count

    services.run_rule = run_rule  # type: ignore[assignment]
    with time_machine.travel(now, tick=True), _bench_lock():
        started = perf_counter()
        with CaptureQueriesContext(connection) as captured:
            counts = services.scan(organisation)
        seconds = perf_counter() - started
        firsts = dict(per_rule)
        per_rule.clear()
        started = perf_counter()
        again = services.scan(organisation)
        repeat = perf_counter() - started
        repeats = dict(per_rule)
    rows = Notification.objects.count() - rows_before
    dataset = f"employees={employees}"

    def entry(name: str, value: float, unit: str) -> Result:
        return {
            "name": f"nudge_scan.{name}",
            "value": round(value, 3),
            "unit": unit,
            "dataset": dataset,
            "database": database,
        }

    results = [
        entry("seconds", seconds, "s"),
        entry("repeat.seconds", repeat, "s"),
        entry("nudged", sum(counts.values()), "people"),
        entry("repeat.nudged", sum(again.values()), "people"),
        entry("rows", rows, "notifications"),
        entry("queries", len(captured), "queries"),
        entry("employees", employees, "employees"),
        entry("budget.seconds", TARGET_SECONDS, "s"),
        # Other work on the machine skews the figures; the load average says how much there was.
        entry("load_average", os.getloadavg()[0], "processes"),
    ]
    for kind in NudgeKind.values:
        results.append(entry(f"{kind}.seconds", firsts.get(kind, 0.0), "s"))
        results.append(entry(f"{kind}.nudged", counts.get(kind, 0), "people"))
        results.append(entry(f"repeat.{kind}.seconds", repeats.get(kind, 0.0), "s"))
    return results


def _clock(organisation: Any) -> datetime:
    """10 days before the end of the latest month with KPI values, at 09:00 in Beijing."""
    from zoneinfo import ZoneInfo

    from miantan.metrics.models import KpiValue, Period

    latest = (
        Period.objects.filter(organisation=organisation, kind="month")
        .filter(pk__in=KpiValue.objects.filter(organisation=organisation).values("period_id"))
        .order_by("-start")
        .first()
    )
    assert latest is not None, "the seed has monthly KPI values"
    day = latest.end - timedelta(days=10)
    return datetime.combine(day, time(9), tzinfo=ZoneInfo("Asia/Shanghai"))


def _add_missing_rows(organisation: Any, now: datetime) -> None:
    """Action items, plans with milestones and fresh trainings, which the seed does not make."""
    from miantan.metrics.models import TrainingRecord
    from miantan.people.models import Employee
    from miantan.plans.enums import ActionStatus, PlanState
    from miantan.plans.models import ActionItem, ImprovementPlan, PlanMilestone

    today = now.date()
    people = list(
        Employee.objects.filter(organisation=organisation, manager__isnull=False)
        .order_by("pk")
        .values_list("pk", "manager_id")
    )
    ActionItem.objects.bulk_create(
        [
            ActionItem(
                organisation=organisation,
                employee_id=pk,
                owner_id=pk,
                title="完成专项培训",
                due_on=today + timedelta(days=2),
                status=ActionStatus.OPEN,
            )
            for pk, _manager in people[::10]
        ],
        batch_size=2000,
    )
    plans = ImprovementPlan.objects.bulk_create(
        [
            ImprovementPlan(
                organisation=organisation,
                employee_id=pk,
                manager_id=manager,
                state=PlanState.ACKNOWLEDGED,
                title="绩效改进计划",
                starts_on=today - timedelta(days=30),
                ends_on=today + timedelta(days=60),
            )
            for pk, manager in people[::100]
        ],
        batch_size=2000,
    )
    PlanMilestone.objects.bulk_create(
        [
            PlanMilestone(plan=plan, title="阶段回顾", due_on=today + timedelta(days=2))
            for plan in plans
        ],
        batch_size=2000,
    )
    TrainingRecord.objects.bulk_create(
        [
            TrainingRecord(
                organisation=organisation,
                employee_id=pk,
                course="院内培训",
                completed_on=today - timedelta(days=1),
            )
            for pk, _manager in people[::20]
        ],
        batch_size=2000,
    )


def _analyze(connection: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _print(results: list[Result]) -> None:
    for entry in results:
        if entry["name"] in ("nudge_scan.seconds", "nudge_scan.repeat.seconds"):
            print(
                f"[{entry['database']} {entry['dataset']}] {entry['name']}: {entry['value']} s",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--size", type=int, default=SIZE, help="employees in the dataset")
    parser.add_argument("--child", help="internal")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.size)))
        return
    chosen = set(args.databases.split(","))
    results = run(postgresql="postgresql" in chosen, sqlite="sqlite" in chosen, size=args.size)
    merge_results(results, RESULTS, prefix="nudge_scan.")


if __name__ == "__main__":
    main()
