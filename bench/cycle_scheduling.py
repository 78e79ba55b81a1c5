"""Benchmark of launching a review cycle (`miantan.interviews.cycles.launch_cycle`). See
bench/README.md.

For each database, in a child process of its own: a fresh database (SQLite in
var/bench/cycles.sqlite3; PostgreSQL `miantan_bench_cycle`), `migrate`, then one hospital in
Asia/Shanghai with 50 wards, each with a head nurse (no manager of their own) and 40 nurses:
2,000 employee–manager pairs. Working hours 08:00–12:00 and 14:00–17:30 on weekdays. A third
of the nurses work 夜班 (20:00–08:00) on alternate days, half of them on even and half on odd
dates; one in ten of the others and ten of the head nurses have 手术日; every head nurse has a
ward meeting on Mondays and a few calendar blocks, every nurse one block a week. Some people
cannot have a talk at all: 20 nurses on leave for the whole window, 3 on call (值班) every
day, 5 who work evenings only; 40 more have a few days of leave.

The clock is set to Monday 2026-11-23 (time-machine, ticking), so that the window is always
the same ten working days, 2026-11-30 to 2026-12-11, and its holidays are known. The cycle
asks for 30-minute talks; launch_cycle applies its hard constraints (no duty days, 8 h rest
after a night shift, 15 minutes between a manager's talks, at most 6 a day).

Timed: `launch_cycle` end to end (loading availability, placing, writing the talks,
proposals, activities, audit events and notifications). Then, from the database: double
bookings (overlapping open proposals and booked talks of one person, one SQL query), pairs
placed, pairs without a time by reason, and violations of the hard constraints.
Target (DESIGN.md): 2,000 pairs in ≤ 10 s, no double booking.
Run on its own with `python bench/cycle_scheduling.py`, or from bench/run.py through `run()`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, postgres_reachable

FILES = ROOT / "var" / "bench"
PG_DATABASE = "miantan_bench_cycle"
SQLITE_FILE = FILES / "cycles.sqlite3"
MANAGERS = 50
PER_MANAGER = 40
DAYS = 10
DATASET = f"pairs={MANAGERS * PER_MANAGER},managers={MANAGERS},days={DAYS}"
TARGET_SECONDS = 10.0
NOW = "2026-11-23 09:00 +08:00"
FIRST_DAY = (2026, 11, 30)
LAST_DAY = (2026, 12, 11)
TALK_MINUTES = 30
ZONE = ZoneInfo("Asia/Shanghai")


def run(*, postgresql: bool = True, sqlite: bool = True) -> list[Result]:
    """All figures of this benchmark, as entries for bench/results.json."""
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        results.extend(_child(f"sqlite:///{SQLITE_FILE}", "sqlite"))
    if postgresql and postgres_reachable():
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        results.extend(_child(f"{PG_SERVER}/{PG_DATABASE}", "postgresql"))
    elif postgresql:
        print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the cycle benchmark.")
    _print(results)
    return results


def _child(url: str, database: str) -> list[Result]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--child", database],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(database: str) -> list[Result]:
    """In the child process: build the hospital, launch the cycle, check the result."""
    sys.path.insert(0, str(ROOT))
    import django
    import time_machine

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with time_machine.travel(NOW, tick=True):
        hr, wards, nights = _build()
        from miantan.interviews.cycles import create_cycle, launch_cycle

        cycle = create_cycle(
            actor=hr.user,
            name="2026 年第四季度绩效面谈",
            topic="quarterly_review",
            period="2026 Q4",
            departments=wards,
            window_start=_date(FIRST_DAY),
            window_end=_date(LAST_DAY),
            duration_minutes=TALK_MINUTES,
        )
        started = perf_counter()
        report = launch_cycle(cycle, actor=hr.user)
        seconds = perf_counter() - started
    reasons = Counter(entry["reason"] for entry in report.infeasible)

    def entry(name: str, value: float, unit: str) -> Result:
        return {
            "name": f"cycle_launch.{name}",
            "value": round(value, 3),
            "unit": unit,
            "dataset": DATASET,
            "database": database,
        }

    results = [
        entry("seconds", seconds, "s"),
        entry("pairs", report.pairs, "pairs"),
        entry("placed", _placed(cycle), "pairs"),
        entry("infeasible", len(report.infeasible), "pairs"),
        entry("double_bookings", _double_bookings(), "overlaps"),
        entry("hard_constraint_violations", _violations(cycle, nights), "talks"),
    ]
    results.extend(entry(f"infeasible.{code}", count, "pairs") for code, count in reasons.items())
    results.extend(
        entry(f"phase_seconds.{name}", value, "s") for name, value in report.phases.items()
    )
    return results


# --- the hospital -----------------------------------------------------------------------------


def _build() -> tuple[Any, list[Any], dict[int, set[date]]]:
    """The HR partner, the 50 wards, and the night-shift dates of each rostered nurse."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from miantan.people.enums import Role
    from miantan.people.models import Employee, Organisation, RoleAssignment
    from miantan.people.services import create_department
    from miantan.scheduling.enums import ShiftKind
    from miantan.scheduling.models import ShiftCode, WorkingHours

    organisation = Organisation.objects.create(name="基准医院", slug="bench-cycles")
    root = create_department(organisation, code="H", name="基准医院")
    hr_department = create_department(organisation, code="HR", name="人力资源部", parent=root)
    wards = [
        create_department(organisation, code=f"W{n:02d}", name=f"病区{n}", parent=root)
        for n in range(MANAGERS)
    ]
    codes = {
        code: ShiftCode.objects.create(
            organisation=organisation, code=code, start=time(a), end=time(b), kind=kind
        )
        for code, a, b, kind in (
            ("夜班", 20, 8, ShiftKind.NIGHT),
            ("值班", 8, 8, ShiftKind.ON_CALL),
            ("手术日", 8, 18, ShiftKind.SURGERY),
            ("休", 0, 0, ShiftKind.OFF),
        )
    }
    WorkingHours.objects.bulk_create(
        WorkingHours(organisation=organisation, weekday=weekday, start=start, end=end)
        for weekday in range(5)
        for start, end in ((time(8), time(12)), (time(14), time(17, 30)))
    )
    password = make_password("bench")
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"bench.cycle{n}", password=password)
        for n in range(1 + MANAGERS * (PER_MANAGER + 1))
    )
    hr = Employee.objects.create(
        organisation=organisation,
        user=users[0],
        employee_number="HR0001",
        name="人事孙",
        department=hr_department,
    )
    RoleAssignment.objects.create(
        organisation=organisation, employee=hr, role=Role.HR, department=root
    )
    managers = Employee.objects.bulk_create(
        Employee(
            organisation=organisation,
            user=users[1 + n],
            employee_number=f"M{n:03d}",
            name=f"护士长{n}",
            department=wards[n],
        )
        for n in range(MANAGERS)
    )
    nurses = Employee.objects.bulk_create(
        Employee(
            organisation=organisation,
            user=users[1 + MANAGERS + n],
            employee_number=f"N{n:05d}",
            name=f"护士{n}",
            department=wards[n % MANAGERS],
            manager=managers[n % MANAGERS],
        )
        for n in range(MANAGERS * PER_MANAGER)
    )
    for person in [hr, *managers]:
        person.manager_path = f"/{person.pk}/"
    for nurse in nurses:
        nurse.manager_path = f"/{nurse.manager_id}/{nurse.pk}/"
    Employee.objects.bulk_update([hr, *managers, *nurses], ["manager_path"], batch_size=1000)
    return hr, wards, _schedules(organisation, managers, nurses, codes)


def _schedules(
    organisation: Any, managers: list[Any], nurses: list[Any], codes: dict[str, Any]
) -> dict[int, set[date]]:
    """Rosters, busy blocks, leave and odd working hours; returns the night-shift dates."""
    from miantan.scheduling.enums import BusySource, LeaveKind
    from miantan.scheduling.models import BusyBlock, Leave, RosterEntry, WorkingHours

    first = _date(FIRST_DAY)
    days = [first + timedelta(days=offset) for offset in range(-2, 15)]
    rng = random.Random(2026)
    roster: list[Any] = []
    blocks: list[Any] = []
    leave: list[Any] = []
    hours: list[Any] = []

    def shift(person: Any, day: date, code: str) -> None:
        roster.append(
            RosterEntry(
                organisation=organisation, employee=person, date=day, shift_code=codes[code]
            )
        )

    def block(person: Any, start: datetime, minutes: int) -> None:
        end = start + timedelta(minutes=minutes)
        blocks.append(
            BusyBlock(
                organisation=organisation,
                employee=person,
                start=start,
                end=end,
                source=BusySource.ICS,
            )
        )

    def off(person: Any, start: datetime, end: datetime) -> None:
        leave.append(
            Leave(
                organisation=organisation,
                employee=person,
                kind=LeaveKind.ANNUAL,
                start=start,
                end=end,
            )
        )

    for number, manager in enumerate(managers):
        for day in days:
            if day.weekday() == 0:
                block(manager, _at(day, 14), 60)  # the ward meeting
            if number < 10 and day.weekday() == 2:
                shift(manager, day, "手术日")
        for _ in range(4):
            block(manager, _at(rng.choice(days), rng.randrange(8, 17)), rng.choice([30, 60]))
    # A third on alternate nights (in each ward half on even dates, half on odd ones).
    rostered = nurses[::3]
    nights = {
        nurse.pk: {day for day in days if day.toordinal() % 2 == (number // MANAGERS) % 2}
        for number, nurse in enumerate(nurses)
        if number % 3 == 0
    }
    for nurse in rostered:
        for day in days:
            shift(nurse, day, "夜班" if day in nights[nurse.pk] else "休")
    others = [nurse for nurse in nurses if nurse.pk not in nights]
    for number, nurse in enumerate(others):
        if number % 10 == 1:
            for day in days:
                if day.weekday() in (1, 3):
                    shift(nurse, day, "手术日")
        for _ in range(2):
            block(nurse, _at(rng.choice(days), rng.randrange(8, 17)), rng.choice([30, 60, 90]))
    special = rng.sample(others, 68)
    for nurse in special[:20]:  # on leave for the whole window
        off(nurse, _at(days[0], 0), _at(days[-1], 0))
    for nurse in special[20:60]:  # a few days off
        start = _at(first + timedelta(days=rng.randrange(0, 8)), 0)
        off(nurse, start, start + timedelta(days=3))
    for nurse in special[60:63]:  # on call around the clock
        for day in days:
            shift(nurse, day, "值班")
    for nurse in special[63:]:  # evenings only: never when their head nurse works
        hours.extend(
            WorkingHours(
                organisation=organisation,
                employee=nurse,
                weekday=weekday,
                start=time(18),
                end=time(21),
            )
            for weekday in range(5)
        )
    RosterEntry.objects.bulk_create(roster, batch_size=2000)
    BusyBlock.objects.bulk_create(blocks, batch_size=2000)
    Leave.objects.bulk_create(leave)
    WorkingHours.objects.bulk_create(hours)
    return nights


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def _date(parts: tuple[int, int, int]) -> date:
    return date(*parts)


# --- the checks, from the database ------------------------------------------------------------


def _placed(cycle: Any) -> int:
    from miantan.interviews.models import Proposal

    return Proposal.objects.filter(talk__cycle=cycle, state="open").count()


# A person's held times: open proposals of open talks and booked talks, as employee and as
# counterpart; two of them that overlap are a double booking.
DOUBLE_BOOKINGS_SQL = """
WITH held AS (
    SELECT t.employee_id AS person, p.start AS s, p."end" AS e, p.id AS k
    FROM interviews_proposal p JOIN interviews_talk t ON t.id = p.talk_id
    WHERE p.state = 'open' AND t.state IN ('requested', 'negotiating')
  UNION ALL
    SELECT t.counterpart_id, p.start, p."end", p.id
    FROM interviews_proposal p JOIN interviews_talk t ON t.id = p.talk_id
    WHERE p.state = 'open' AND t.state IN ('requested', 'negotiating')
  UNION ALL
    SELECT employee_id, scheduled_start, scheduled_end, -id FROM interviews_talk
    WHERE state IN ('scheduled', 'in_progress')
  UNION ALL
    SELECT counterpart_id, scheduled_start, scheduled_end, -id FROM interviews_talk
    WHERE state IN ('scheduled', 'in_progress')
)
SELECT COUNT(*) FROM held a JOIN held b
ON a.person = b.person AND a.k < b.k AND a.s < b.e AND b.s < a.e
"""


def _double_bookings() -> int:
    """Overlapping pairs of held times of one person, in one query."""
    from django.db import connection

    from miantan.interviews.models import Proposal, Talk

    assert (Talk._meta.db_table, Proposal._meta.db_table) == (
        "interviews_talk",
        "interviews_proposal",
    )
    with connection.cursor() as cursor:
        cursor.execute(DOUBLE_BOOKINGS_SQL)
        return int(cursor.fetchone()[0])


def _violations(cycle: Any, nights: dict[int, set[date]]) -> int:
    """Proposed times on a nurse's night-shift date or within 8 h after the night ends, and
    manager days with more talks than the cap."""
    from miantan.interviews.cycles import DEFAULT_MAX_TALKS_PER_DAY
    from miantan.interviews.models import Proposal

    rows = Proposal.objects.filter(talk__cycle=cycle, state="open").values_list(
        "talk__employee_id", "talk__counterpart_id", "start"
    )
    found = 0
    per_manager_day: Counter[tuple[int, date]] = Counter()
    for employee_id, manager_id, start in rows:
        local = start.astimezone(ZONE)
        day = local.date()
        per_manager_day[(manager_id, day)] += 1
        own = nights.get(employee_id, set())
        resting = day - timedelta(days=1) in own and local < _at(day, 16)
        found += day in own or resting
    return found + sum(count > DEFAULT_MAX_TALKS_PER_DAY for count in per_manager_day.values())


# --- the report -------------------------------------------------------------------------------


def _print(results: list[Result]) -> None:
    if not results:
        return
    print("\nCycle launch")
    for result in results:
        where = f"{result['database']} {result['dataset']}"
        print(f"  {where:44} {result['name']:48} {result['value']:>10,.3f} {result['unit']}")
    seconds = [r["value"] for r in results if r["name"] == "cycle_launch.seconds"]
    overlaps = [r["value"] for r in results if r["name"] == "cycle_launch.double_bookings"]
    if seconds:
        verdict = "meets" if max(seconds) <= TARGET_SECONDS and not any(overlaps) else "misses"
        print(f"  Cycle launch {verdict} the target: ≤ {TARGET_SECONDS} s, no double booking")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument(
        "--output", default=str(RESULTS), help="JSON results to update (cycle_launch.* entries)"
    )
    parser.add_argument("--child", metavar="DATABASE", help="internal: measure in this process")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child)))
        return
    databases = {item.strip() for item in args.databases.split(",")}
    results = run(postgresql="postgresql" in databases, sqlite="sqlite" in databases)
    merge_results(results, Path(args.output), prefix="cycle_launch.")
    print(f"\nUpdated {len(results)} figures in {args.output}")


if __name__ == "__main__":
    main()
