"""Benchmark of the slot search (`miantan.scheduling.slots.find_slots`). See bench/README.md.

For each database, in a child process of its own: a fresh database (SQLite in
var/bench/slots.sqlite3; PostgreSQL `miantan_bench_slots`), `migrate`, then one organisation
with 40 doctors in Asia/Shanghai: default working hours (08:00–12:00, 14:00–17:00 on
weekdays), a 28-day roster each (an eight-day rota of 夜班 20:00–08:00, 休, 白班, 手术日 and
值班 at a random offset) and 3 calendar busy blocks a week. Then, for 500 random pairs over
28 days:

- `availability_load_ms`: `load_availability` of the pair from the database (6 queries, and
  one for booked talks);
- `two_person_28_days_ms`: `find_slots` on the loaded availability, 60 minutes, hard
  constraints (working hours, no duty days, 8 h rest after nights, 15 min buffer, cap 3 a day)
  and soft preferences (before 10:00, not on a surgery day, earliest, spread), top 5.

p50 and p95 of each. Target (DESIGN.md): slot search p50 ≤ 2 ms.
Run on its own with `python bench/slot_search.py`, or from bench/run.py through `run()`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, percentile, postgres_reachable

FILES = ROOT / "var" / "bench"
PG_DATABASE = "miantan_bench_slots"
SQLITE_FILE = FILES / "slots.sqlite3"
DOCTORS = 40
DAYS = 28
SEARCHES = 500
TARGET_P50_MS = 2.0


def run(*, postgresql: bool = True, sqlite: bool = True, searches: int = SEARCHES) -> list[Result]:
    """All figures of this benchmark, as entries for bench/results.json."""
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        results.extend(_child(f"sqlite:///{SQLITE_FILE}", "sqlite", searches))
    if postgresql and postgres_reachable():
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        results.extend(_child(f"{PG_SERVER}/{PG_DATABASE}", "postgresql", searches))
    elif postgresql:
        print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the slot search benchmark.")
    _print(results)
    return results


def _child(url: str, database: str, searches: int) -> list[Result]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", database, "--searches", str(searches)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(database: str, searches: int) -> list[Result]:
    """In the child process: build the data, time loading and searching."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    doctors, window = _build()
    from miantan.scheduling.availability import load_availability
    from miantan.scheduling.slots import HardConstraints, SoftPreferences, TimeOfDay, find_slots

    hard = HardConstraints(
        avoid_duty_days=True,
        buffer=_minutes(15),
        max_talks_per_day=3,
    )
    soft = SoftPreferences(
        time_of_day=(TimeOfDay(end=_time(10)),), avoid_surgery_days=5.0, spread=2.0
    )
    rng = random.Random(7)
    loading: list[float] = []
    searching: list[float] = []
    found = 0
    for index in range(searches + 20):
        pair = rng.sample(doctors, 2)
        started = time.perf_counter()
        loaded = load_availability(pair, *window)
        loaded_at = time.perf_counter()
        slots = find_slots(
            [loaded[person.pk] for person in pair],
            duration=_minutes(60),
            hard=hard,
            soft=soft,
            managers=[pair[0].pk],
            limit=5,
        )
        searched_at = time.perf_counter()
        if index >= 20:  # warm-up
            loading.append((loaded_at - started) * 1000)
            searching.append((searched_at - loaded_at) * 1000)
            found += len(slots)
    dataset = f"people=2,days={DAYS},searches={searches}"

    def entry(name: str, value: float, unit: str) -> Result:
        return {
            "name": f"slot_search.{name}",
            "value": round(value, 3),
            "unit": unit,
            "dataset": dataset,
            "database": database,
        }

    return [
        entry("two_person_28_days_ms.p50", statistics.median(searching), "ms"),
        entry("two_person_28_days_ms.p95", percentile(searching, 95), "ms"),
        entry("availability_load_ms.p50", statistics.median(loading), "ms"),
        entry("availability_load_ms.p95", percentile(loading, 95), "ms"),
        entry("slots_per_search", found / searches, "slots"),
    ]


def _build() -> tuple[list[Any], tuple[Any, Any]]:
    """One hospital, its shift codes and working hours, 40 doctors with rosters and busy blocks."""
    from datetime import date, datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.contrib.auth import get_user_model

    from miantan.people.models import Department, Employee, Organisation
    from miantan.scheduling.enums import BusySource, ShiftKind
    from miantan.scheduling.models import BusyBlock, RosterEntry, ShiftCode, WorkingHours

    zone = ZoneInfo("Asia/Shanghai")
    first = date(2026, 11, 30)
    organisation = Organisation.objects.create(name="基准医院", slug="bench-slots")
    department = Department.objects.create(
        organisation=organisation, code="B", name="心内科", path="/1/"
    )
    codes = {
        code: ShiftCode.objects.create(
            organisation=organisation, code=code, start=time(a), end=time(b), kind=kind
        )
        for code, a, b, kind in (
            ("白班", 8, 17, ShiftKind.DAY),
            ("夜班", 20, 8, ShiftKind.NIGHT),
            ("值班", 8, 8, ShiftKind.ON_CALL),
            ("手术日", 8, 18, ShiftKind.SURGERY),
            ("休", 0, 0, ShiftKind.OFF),
        )
    }
    WorkingHours.objects.bulk_create(
        WorkingHours(organisation=organisation, weekday=weekday, start=time(a), end=time(b))
        for weekday in range(5)
        for a, b in ((8, 12), (14, 17))
    )
    rng = random.Random(42)
    user_model = get_user_model()
    doctors = []
    rota = ["夜班", "休", "休", "白班", "手术日", "休", "值班", "休"]
    for number in range(DOCTORS):
        user = user_model.objects.create(username=f"bench.doctor{number}")
        doctor = Employee.objects.create(
            organisation=organisation,
            user=user,
            employee_number=f"B{number:04d}",
            name=f"医生{number}",
            department=department,
        )
        doctors.append(doctor)
        offset = rng.randrange(len(rota))
        RosterEntry.objects.bulk_create(
            RosterEntry(
                organisation=organisation,
                employee=doctor,
                date=first + timedelta(days=day),
                shift_code=codes[rota[(day + offset) % len(rota)]],
            )
            for day in range(-1, DAYS)
        )
        blocks = []
        for _ in range(3 * DAYS // 7):
            day = first + timedelta(days=rng.randrange(DAYS))
            start = datetime.combine(day, time(rng.randrange(8, 17)), tzinfo=zone)
            end = start + timedelta(minutes=rng.choice([30, 60, 90]))
            blocks.append(
                BusyBlock(
                    organisation=organisation,
                    employee=doctor,
                    start=start,
                    end=end,
                    source=BusySource.ICS,
                )
            )
        BusyBlock.objects.bulk_create(blocks)
    start = datetime.combine(first, time(0), tzinfo=zone)
    return doctors, (start, start + timedelta(days=DAYS))


def _minutes(count: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=count)


def _time(hour: int) -> Any:
    from datetime import time

    return time(hour)


def _print(results: list[Result]) -> None:
    if not results:
        return
    print("\nSlot search")
    for result in results:
        where = f"{result['database']} {result['dataset']}"
        print(f"  {where:44} {result['name']:42} {result['value']:>10,.3f} {result['unit']}")
    medians = [r["value"] for r in results if r["name"] == "slot_search.two_person_28_days_ms.p50"]
    if medians:
        verdict = "meets" if max(medians) <= TARGET_P50_MS else "misses"
        print(f"  Slot search {verdict} the target of p50 ≤ {TARGET_P50_MS} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--searches", type=int, default=SEARCHES)
    parser.add_argument(
        "--output", default=str(RESULTS), help="JSON results to update (slot_search.* entries)"
    )
    parser.add_argument("--child", metavar="DATABASE", help="internal: measure in this process")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.searches)))
        return
    databases = {item.strip() for item in args.databases.split(",")}
    results = run(
        postgresql="postgresql" in databases, sqlite="sqlite" in databases, searches=args.searches
    )
    merge_results(results, Path(args.output), prefix="slot_search.")
    print(f"\nUpdated {len(results)} figures in {args.output}")


if __name__ == "__main__":
    main()
