"""Gap analysis: for each KPI assigned to an employee, over the last N periods, how the actuals
compare with the target, the team and the position's requirement, which way they are moving,
and which weaknesses the configured rules flag.

Definitions (they hold for every caller: the profile page, the brief, the API):

- **Assignment.** The most specific KpiAssignment wins: department + position, then position,
  then department. A department assignment also applies to the departments below it; of two
  department assignments the deeper department wins.
- **Periods.** The last N periods of the assignment's period kind that start on or before
  `as_of` (today by default). Periods exist only once something was recorded for them.
- **Target.** The person's own target for that period (KpiValue.target) if there is one, else
  the assignment's target.
- **Completion %.** Higher is better: actual / target × 100. Lower is better (defect rate):
  target / actual × 100, so a rising defect rate lowers the completion; an actual of zero
  meets any target. Completion is capped at COMPLETION_CAP so one outlier does not flatten a
  chart.
- **Team.** The colleagues with a value who are in the same department (exactly, not the
  subtree) and hold the same position. SQL sums and counts each (department, position, KPI,
  period) in one grouped query; the employee's own value is then taken out of that sum, so a
  weak value does not pull its own yardstick down. Alone in the team, there is no average.
- **Position requirement.** The target of the most specific assignment that names the
  employee's position (position alone, or department + position).
- **Shortfall and surplus.** Completion under 100 % is a shortfall of 100 − completion,
  over 100 % a surplus of completion − 100. As completion is direction-aware, a defect rate
  under its target is a surplus; charts draw the two apart, never a surplus as a gap.
- **Differences** are actual − reference in the KPI's unit, plus a percentage that is positive
  when the employee is better than the reference, whichever the direction.
- **Trend.** Least-squares slope over the window in units per period, called improving or
  worsening by the KPI's direction, and the streak: how many of the most recent period-to-period
  changes in a row went the wrong way.

Callers pass employees they have already fetched through the permission layer
(`access_employee`, `employees_visible_to`); nothing here checks access or writes audit events.
Queries: four in all (assignments, periods, values, team averages), whatever the number of
employees, KPIs or periods. `latest_gaps` gives a department overview (heat map, gap bars) the
latest completion and the flag per person and KPI by the same definitions, with the ordering,
the comparisons with the period before and the streaks worked out in SQL (window functions),
also in four queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, FloatField, Q, Subquery, Sum
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.people.models import Employee

from .enums import Direction, PeriodKind
from .models import Kpi, KpiAssignment, KpiValue, Period

DEFAULT_PERIODS = 6
COMPLETION_CAP = 200.0
# Changes smaller than this share of the average level count as "stable", not as a trend.
STABLE_SHARE = 0.01


# --- rules ------------------------------------------------------------------------------------


class RuleKind:
    COMPLETION_BELOW = "completion_below"
    WORSE_THAN_TEAM = "worse_than_team"
    WORSENING_STREAK = "worsening_streak"


_FLAG_DETAIL = {
    RuleKind.COMPLETION_BELOW: _(
        "%(period)s: %(actual)s against a target of %(target)s, %(completion)s %% complete"
    ),
    RuleKind.WORSE_THAN_TEAM: _(
        "%(period)s: %(actual)s against the team's %(team_average)s, %(worse_pct)s %% worse "
        "(%(team_size)s colleagues)"
    ),
    RuleKind.WORSENING_STREAK: _("%(values)s: worse %(streak)s periods in a row"),
}

_RULE_TEXT = {
    RuleKind.COMPLETION_BELOW: _("Completion below %(threshold)s %% of the target"),
    RuleKind.WORSE_THAN_TEAM: _("At least %(threshold)s %% worse than the team average"),
    RuleKind.WORSENING_STREAK: _("Worse than the period before, %(threshold)s periods in a row"),
}


@dataclass(frozen=True)
class GapRule:
    """One weakness rule. `kind` says what is measured, `threshold` where it starts to count:
    a completion in %, a percentage worse than the team, or a number of periods."""

    id: str
    kind: str
    threshold: float

    @property
    def description(self) -> str:
        return str(_RULE_TEXT[self.kind] % {"threshold": _number(self.threshold)})


DEFAULT_GAP_RULES = (
    GapRule("completion", RuleKind.COMPLETION_BELOW, 80),
    GapRule("team", RuleKind.WORSE_THAN_TEAM, 15),
    GapRule("trend", RuleKind.WORSENING_STREAK, 3),
)


def gap_rules() -> tuple[GapRule, ...]:
    """The rules in force: settings.MIANTAN_GAP_RULES (GapRule objects or dicts with id, kind
    and threshold), else DEFAULT_GAP_RULES."""
    configured = getattr(settings, "MIANTAN_GAP_RULES", None)
    if configured is None:
        return DEFAULT_GAP_RULES
    rules = []
    for rule in configured:
        if not isinstance(rule, GapRule):
            rule = GapRule(str(rule["id"]), str(rule["kind"]), float(rule["threshold"]))
        if rule.kind not in _RULE_TEXT:
            raise ValueError(f"MIANTAN_GAP_RULES: unknown rule kind {rule.kind!r}")
        rules.append(rule)
    return tuple(rules)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """A weakness: the rule that fired and the numbers that made it fire."""

    rule: GapRule
    kpi_code: str
    numbers: dict[str, float | int | str]

    @property
    def rule_id(self) -> str:
        return self.rule.id

    @property
    def description(self) -> str:
        return self.rule.description

    @property
    def detail(self) -> str:
        """The numbers that triggered it, in a sentence."""
        shown = {
            key: _number(value) if isinstance(value, float) else value
            for key, value in self.numbers.items()
        }
        return str(_FLAG_DETAIL[self.rule.kind] % shown)


@dataclass(frozen=True, slots=True)
class Point:
    period_id: int
    label: str
    start: date
    actual: float | None
    target: float | None
    completion: float | None
    team_average: float | None
    team_size: int


TREND_LABELS = {
    "improving": pgettext_lazy("trend", "improving"),
    "worsening": pgettext_lazy("trend", "worsening"),
    "stable": pgettext_lazy("trend", "stable"),
    "": pgettext_lazy("trend", "not enough data"),
}


@dataclass(frozen=True)
class Trend:
    slope: float | None
    direction: str  # "improving", "worsening", "stable" or "" (fewer than two values)
    streak: int  # most recent worsening changes in a row

    @property
    def label(self) -> str:
        return str(TREND_LABELS[self.direction])


@dataclass
class KpiGap:
    kpi: Kpi
    assignment: KpiAssignment
    points: list[Point]
    position_target: float | None
    trend: Trend
    flags: list[Flag] = field(default_factory=list)

    @property
    def lower_is_better(self) -> bool:
        return self.kpi.direction == Direction.LOWER

    @cached_property
    def latest(self) -> Point | None:
        """The most recent period with an actual."""
        return next((p for p in reversed(self.points) if p.actual is not None), None)

    @property
    def actual(self) -> float | None:
        return self.latest.actual if self.latest else None

    @property
    def target(self) -> float | None:
        return self.latest.target if self.latest else float(self.assignment.target)

    @property
    def completion(self) -> float | None:
        return self.latest.completion if self.latest else None

    @property
    def team_average(self) -> float | None:
        return self.latest.team_average if self.latest else None

    @property
    def diff_team(self) -> float | None:
        return _diff(self.actual, self.team_average)

    @property
    def diff_team_pct(self) -> float | None:
        return _better_pct(self.actual, self.team_average, self.lower_is_better)

    @property
    def team_completion(self) -> float | None:
        """The team average measured against this person's target (for the radar chart)."""
        return completion(self.team_average, self.target, self.lower_is_better)

    @property
    def diff_position(self) -> float | None:
        return _diff(self.actual, self.position_target)

    @property
    def diff_position_pct(self) -> float | None:
        return _better_pct(self.actual, self.position_target, self.lower_is_better)

    @property
    def meets_position(self) -> bool | None:
        pct = self.diff_position_pct
        return None if pct is None else pct >= 0


@dataclass
class EmployeeGaps:
    employee: Employee
    kpis: list[KpiGap]

    @property
    def flags(self) -> list[Flag]:
        return [flag for gap in self.kpis for flag in gap.flags]

    def by_code(self) -> dict[str, KpiGap]:
        return {gap.kpi.code: gap for gap in self.kpis}


# --- arithmetic -------------------------------------------------------------------------------


def completion(actual: float | None, target: float | None, lower_is_better: bool) -> float | None:
    """Completion in % of the target, direction-aware (see the module docstring)."""
    if actual is None or target is None:
        return None
    if lower_is_better:
        if actual <= 0:
            return COMPLETION_CAP
        value = target / actual * 100
    else:
        if target == 0:
            return None
        value = actual / target * 100
    return round(max(0.0, min(COMPLETION_CAP, value)), 1)


def _diff(actual: float | None, reference: float | None) -> float | None:
    if actual is None or reference is None:
        return None
    return round(actual - reference, 4)


def _better_pct(actual: float | None, reference: float | None, lower: bool) -> float | None:
    """How much better than the reference, in % of it: negative when worse."""
    if actual is None or reference is None or reference == 0:
        return None
    change = (actual - reference) / abs(reference) * 100
    return round(-change if lower else change, 1)


def trend(values: Sequence[float | None], lower_is_better: bool) -> Trend:
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return Trend(None, "", 0)
    n = len(known)
    mean_x = sum(i for i, _v in known) / n
    mean_y = sum(v for _i, v in known) / n
    spread = sum((i - mean_x) ** 2 for i, _v in known)
    slope = sum((i - mean_x) * (v - mean_y) for i, v in known) / spread
    better = -slope if lower_is_better else slope
    if abs(slope) <= STABLE_SHARE * max(abs(mean_y), 1e-9):
        direction = "stable"
    else:
        direction = "improving" if better > 0 else "worsening"
    streak = 0
    for (_i, earlier), (_j, later) in reversed(list(pairwise(known))):
        worse = later > earlier if lower_is_better else later < earlier
        if not worse:
            break
        streak += 1
    return Trend(round(slope, 4), direction, streak)


def _number(value: float) -> str:
    """At most two decimals, no trailing zeros: 66.7, 60, 84.67."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --- the analysis -----------------------------------------------------------------------------


def gaps_for(
    employee: Employee, *, periods: int = DEFAULT_PERIODS, as_of: date | None = None
) -> EmployeeGaps:
    """The gap analysis of one employee (fetched through the permission layer)."""
    return gaps_for_employees([employee], periods=periods, as_of=as_of)[employee.pk]


def gaps_for_employees(
    employees: Sequence[Employee], *, periods: int = DEFAULT_PERIODS, as_of: date | None = None
) -> dict[int, EmployeeGaps]:
    """The gap analysis of several employees of one organisation, by employee id.

    Four queries whatever the number of employees, KPIs and periods. The employees need their
    department loaded (select_related), as the permission layer's querysets do.
    """
    if not employees:
        return {}
    as_of = as_of or timezone.localdate()
    org_ids = {e.organisation_id for e in employees}
    assignments = assignments_of(org_ids)
    # Who wins depends on the department and the position only: worked out once per pair.
    by_team: dict[tuple[int, int | None], dict[int, KpiAssignment]] = {}
    chosen = {}
    for e in employees:
        team = (e.department_id, e.position_id)
        if team not in by_team:
            by_team[team] = winning_assignments(e, assignments)
        chosen[e.pk] = by_team[team]
    kinds = {a.period_kind for per in chosen.values() for a in per.values()}
    windows = _windows(org_ids, kinds, periods, as_of)
    kpi_ids = {kpi_id for per in chosen.values() for kpi_id in per}
    period_ids = {p.pk for window in windows.values() for p in window}
    values = _values([e.pk for e in employees], kpi_ids, period_ids)
    teams = team_totals({(e.department_id, e.position_id) for e in employees}, kpi_ids, period_ids)
    position_targets = _position_targets(assignments)
    rules = gap_rules()
    result = {}
    for employee in employees:
        gaps = []
        for assignment in chosen[employee.pk].values():
            window = windows.get((employee.organisation_id, assignment.period_kind), [])
            gap = _kpi_gap(employee, assignment, window, values, teams, position_targets)
            gap.flags = _flags(gap, rules)
            gaps.append(gap)
        gaps.sort(key=lambda g: (-g.assignment.weight, g.kpi.code))
        result[employee.pk] = EmployeeGaps(employee=employee, kpis=gaps)
    return result


def assignments_of(org_ids: Iterable[int]) -> list[KpiAssignment]:
    return list(
        KpiAssignment.objects.filter(organisation_id__in=org_ids).select_related(
            "kpi", "department"
        )
    )


def winning_assignments(
    employee: Employee, assignments: Iterable[KpiAssignment]
) -> dict[int, KpiAssignment]:
    """The winning assignment per KPI for this employee (most specific first)."""
    path = employee.department.path
    best: dict[int, tuple[tuple[int, int, int], KpiAssignment]] = {}
    for a in assignments:
        if a.organisation_id != employee.organisation_id:
            continue
        if a.position_id is not None and a.position_id != employee.position_id:
            continue
        if a.department is not None and not path.startswith(a.department.path):
            continue
        specificity = 2 if a.department_id is None else 3 if a.position_id else 1
        depth = a.department.depth if a.department is not None else 0
        # Monthly before quarterly before yearly when the same scope has several kinds.
        kind_order = -list(PeriodKind.values).index(a.period_kind)
        rank = (specificity, depth, kind_order)
        current = best.get(a.kpi_id)
        if current is None or rank > current[0]:
            best[a.kpi_id] = (rank, a)
    return {kpi_id: a for kpi_id, (_rank, a) in best.items()}


def _position_targets(assignments: list[KpiAssignment]) -> dict[tuple[int, int, str], float]:
    """(kpi, position, period kind) → the position-level target; a position-only assignment
    is the general requirement, so it wins over one limited to a department."""
    targets: dict[tuple[int, int, str], float] = {}
    for a in sorted(assignments, key=lambda a: a.department_id is None):
        if a.position_id is not None:
            targets[(a.kpi_id, a.position_id, a.period_kind)] = float(a.target)
    return targets


def _windows(
    org_ids: Iterable[int], kinds: Iterable[str], count: int, as_of: date
) -> dict[tuple[int, str], list[Period]]:
    """The last `count` periods per organisation and kind, oldest first."""
    windows: dict[tuple[int, str], list[Period]] = defaultdict(list)
    rows = Period.objects.filter(
        organisation_id__in=org_ids, kind__in=list(kinds), start__lte=as_of
    ).order_by("-start")
    for period in rows:
        window = windows[(period.organisation_id, period.kind)]
        if len(window) < count:
            window.append(period)
    return {key: list(reversed(window)) for key, window in windows.items()}


_Values = dict[tuple[int, int, int], tuple[float, float | None]]


def _values(employee_ids: list[int], kpi_ids: set[int], period_ids: set[int]) -> _Values:
    if not kpi_ids or not period_ids:
        return {}
    # Driven from the employees' rows, as in team_totals: given a plain list of a few hundred
    # ids PostgreSQL ANDs two bitmaps and reads the (KPI, period) index for the whole table
    # (55 ms for 400 people at 10,000,000 values); joined, it probes the unique index per
    # person (8 ms).
    people = Employee.objects.filter(pk__in=employee_ids).values("pk")
    rows = KpiValue.objects.filter(
        employee_id__in=Subquery(people), kpi_id__in=kpi_ids, period_id__in=period_ids
    ).values_list(
        "employee_id",
        "kpi_id",
        "period_id",
        Cast("value", FloatField()),
        Cast("target", FloatField()),
    )
    # Read through the cursor: the columns are plain numbers, and Django's per-row converters
    # cost more than the query for a department's few thousand values.
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(e, k, p): (value, target) for e, k, p, value, target in cursor.fetchall()}


TeamKey = tuple[int, int | None, int, int]  # department, position, KPI, period


def team_totals(
    teams: set[tuple[int, int | None]], kpi_ids: set[int], period_ids: set[int]
) -> dict[TeamKey, tuple[float, int]]:
    """Sum of the values and head count per (department, position, KPI, period), for the given
    (department, position) teams, in one grouped query."""
    if not teams or not kpi_ids or not period_ids:
        return {}
    departments = {d for d, _p in teams}
    positions = {p for _d, p in teams if p is not None}
    same_position = Q(position_id__in=positions)
    if any(p is None for _d, p in teams):
        same_position |= Q(position__isnull=True)
    # Driven from the teams' members, so the unique (employee, KPI, period) index finds their
    # values: the cost follows the size of the teams, not of the table.
    members = Employee.objects.filter(same_position, department_id__in=departments).values("pk")
    rows = (
        KpiValue.objects.filter(
            employee_id__in=Subquery(members),
            kpi_id__in=kpi_ids,
            period_id__in=period_ids,
        )
        .values("employee__department_id", "employee__position_id", "kpi_id", "period_id")
        .annotate(total=Sum(Cast("value", FloatField())), size=Count("pk"))
        .order_by()
    )
    return {
        (
            row["employee__department_id"],
            row["employee__position_id"],
            row["kpi_id"],
            row["period_id"],
        ): (float(row["total"]), row["size"])
        for row in rows
        if (row["employee__department_id"], row["employee__position_id"]) in teams
    }


def _kpi_gap(
    employee: Employee,
    assignment: KpiAssignment,
    window: list[Period],
    values: _Values,
    teams: dict[TeamKey, tuple[float, int]],
    position_targets: dict[tuple[int, int, str], float],
) -> KpiGap:
    kpi = assignment.kpi
    lower = kpi.direction == Direction.LOWER
    # Ids read once: this loop runs for every person, KPI and period of a department.
    employee_id, kpi_id = employee.pk, kpi.pk
    department_id, position_id = employee.department_id, employee.position_id
    assigned_target = float(assignment.target)
    points = []
    for period in window:
        period_id = period.id
        value, own_target = values.get((employee_id, kpi_id, period_id), (None, None))
        actual = float(value) if value is not None else None
        target = float(own_target) if own_target is not None else assigned_target
        team_average, size = _team_average(
            teams.get((department_id, position_id, kpi_id, period_id)), actual
        )
        points.append(
            Point(
                period_id,
                period.label,
                period.start,
                actual,
                target,
                completion(actual, target, lower),
                team_average,
                size,
            )
        )
    position_target = (
        position_targets.get((kpi.pk, employee.position_id, assignment.period_kind))
        if employee.position_id
        else None
    )
    return KpiGap(
        kpi=kpi,
        assignment=assignment,
        points=points,
        position_target=position_target,
        trend=trend([p.actual for p in points], lower),
    )


def _flags(gap: KpiGap, rules: Sequence[GapRule]) -> list[Flag]:
    latest = gap.latest
    if latest is None:
        return []
    flags = []
    for rule in rules:
        numbers = _triggered(rule, gap, latest)
        if numbers is not None:
            numbers = {"period": latest.label, **numbers, "threshold": rule.threshold}
            flags.append(Flag(rule=rule, kpi_code=gap.kpi.code, numbers=numbers))
    return flags


def _team_average(
    totals: tuple[float, int] | None, actual: float | None
) -> tuple[float | None, int]:
    """The team's average without the employee's own value, and how many it averages."""
    total, size = totals or (0.0, 0)
    if actual is not None:
        total, size = total - actual, size - 1
    return (round(total / size, 4) if size > 0 else None), size


def _fires(
    rule: GapRule, completion_: float | None, better_than_team: float | None, streak: int
) -> bool:
    """Whether the rule fires on the latest completion, the % better than the team (negative
    when worse) and the worsening streak."""
    if rule.kind == RuleKind.COMPLETION_BELOW:
        return completion_ is not None and completion_ < rule.threshold
    if rule.kind == RuleKind.WORSE_THAN_TEAM:
        return better_than_team is not None and -better_than_team >= rule.threshold
    return streak >= rule.threshold


def _triggered(rule: GapRule, gap: KpiGap, latest: Point) -> dict[str, Any] | None:
    """The numbers that make the rule fire on this KPI, or None when it does not."""
    better = gap.diff_team_pct if rule.kind == RuleKind.WORSE_THAN_TEAM else None
    if not _fires(rule, latest.completion, better, gap.trend.streak):
        return None
    if rule.kind == RuleKind.COMPLETION_BELOW:
        return {"completion": latest.completion, "actual": latest.actual, "target": latest.target}
    if rule.kind == RuleKind.WORSE_THAN_TEAM:
        if better is None:
            return None
        return {
            "actual": latest.actual,
            "team_average": latest.team_average,
            "worse_pct": round(-better, 1),
            "team_size": latest.team_size,
        }
    recent = [p.actual for p in gap.points if p.actual is not None]
    return {
        "streak": gap.trend.streak,
        "actual": latest.actual,
        "values": " → ".join(_number(v) for v in recent[-gap.trend.streak - 1 :]),
    }


# --- the department overview ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatestGap:
    """One employee's KPI as an overview of many people shows it: the completion of the most
    recent period with an actual (None without one) and whether any rule flags it. The same
    numbers as the KpiGap of gaps_for_employees, without its points."""

    kpi: Kpi
    completion: float | None
    flagged: bool


def latest_gaps(
    employees: Sequence[Employee], *, periods: int = DEFAULT_PERIODS, as_of: date | None = None
) -> dict[int, dict[int, LatestGap]]:
    """The latest completion and flag of every KPI assigned to each employee, by employee id
    and KPI id, for a department overview (heat map, gap bars).

    Set-based: the database numbers each person's values in the window and compares each with
    the one before (window functions), and hands back one row per person and KPI with the
    latest value and the worsening streak; the team sums come grouped for those latest periods
    only. Four queries whatever the number of employees, KPIs and periods, like
    gaps_for_employees, whose definitions hold unchanged.
    """
    if not employees:
        return {}
    as_of = as_of or timezone.localdate()
    org_ids = {e.organisation_id for e in employees}
    assignments = assignments_of(org_ids)
    by_team: dict[tuple[int, int | None], dict[int, KpiAssignment]] = {}
    for e in employees:
        team = (e.department_id, e.position_id)
        if team not in by_team:
            by_team[team] = winning_assignments(e, assignments)
    kinds = {a.period_kind for per in by_team.values() for a in per.values()}
    windows = _windows(org_ids, kinds, periods, as_of)
    kpi_ids = {kpi_id for per in by_team.values() for kpi_id in per}
    kpis = {a.kpi for per in by_team.values() for a in per.values()}
    latest = _latest_values([e.pk for e in employees], kpis, windows)
    teams = team_totals(set(by_team), kpi_ids, {period_id for period_id, *_rest in latest.values()})
    rules = gap_rules()
    result: dict[int, dict[int, LatestGap]] = {}
    for employee in employees:
        org_id, team = employee.organisation_id, (employee.department_id, employee.position_id)
        cells = {}
        for kpi_id, assignment in by_team[team].items():
            row = latest.get((employee.pk, kpi_id, org_id, assignment.period_kind))
            if row is None:
                cells[kpi_id] = LatestGap(assignment.kpi, None, False)
                continue
            period_id, actual, own_target, streak = row
            lower = assignment.kpi.direction == Direction.LOWER
            target = own_target if own_target is not None else float(assignment.target)
            done = completion(actual, target, lower)
            team_average, _size = _team_average(teams.get((*team, kpi_id, period_id)), actual)
            better = _better_pct(actual, team_average, lower)
            flagged = any(_fires(rule, done, better, streak) for rule in rules)
            cells[kpi_id] = LatestGap(assignment.kpi, done, flagged)
        result[employee.pk] = cells
    return result


def _marks(items: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(items))


# (employee, KPI, organisation, period kind) → latest period, its actual and own target, and
# the worsening streak up to it.
_Latest = dict[tuple[int, int, int, str], tuple[int, float, float | None, int]]


def _latest_values(
    employee_ids: list[int],
    kpis: Iterable[Kpi],
    windows: dict[tuple[int, str], list[Period]],
) -> _Latest:
    """Per employee, KPI and window (organisation and period kind): the most recent value, and
    how many of the most recent changes in a row went the wrong way, in one query."""
    kpi_ids = sorted({k.pk for k in kpis})
    lower_ids = sorted({k.pk for k in kpis if k.direction == Direction.LOWER})
    keys = sorted(windows)
    # Each period belongs to one window; its place there orders the values. Given as
    # constants, so that the query reads the values table alone.
    slots = [
        (period.pk, number, place)
        for number, key in enumerate(keys)
        for place, period in enumerate(windows[key])
    ]
    if not employee_ids or not kpi_ids or not slots:
        return {}
    value, employee = KpiValue._meta.db_table, Employee._meta.db_table
    number_type = "double precision" if connection.vendor == "postgresql" else "REAL"
    lower = f"v.kpi_id IN ({_marks(lower_ids)})" if lower_ids else "1 = 0"
    window_of = " ".join(["WHEN %s THEN %s"] * len(slots))
    # The values are found per person through the unique (employee, KPI, period) index, within
    # the range of the windows' period ids: the cost follows the department, not the table.
    # "+ 0" keeps the (KPI, period) index out of it: given that one, PostgreSQL read every
    # value of the KPIs and periods in the table and hashed the people (150 ms at 10,000
    # employees against 15 ms).
    # A change is worse when it rises on a "lower is better" KPI or falls on any other; the
    # first value of a window has nothing before it. The streak is the number of values after
    # the most recent one that is not worse than the one before it. One ordering (by place in
    # the window) serves every window function. Only table names go into the text.
    sql = f"""
        SELECT employee_id, kpi_id, window_number,
            MAX(CASE WHEN seq = known THEN period_id END),
            MAX(CASE WHEN seq = known THEN actual END),
            MAX(CASE WHEN seq = known THEN own_target END),
            MAX(known) - MAX(CASE WHEN worse = 1 THEN NULL ELSE seq END)
        FROM (
            SELECT employee_id, kpi_id, window_number, period_id, actual, own_target,
                ROW_NUMBER() OVER earlier AS seq,
                COUNT(*) OVER (PARTITION BY employee_id, kpi_id, window_number) AS known,
                CASE WHEN lower_is_better = 1 AND actual > LAG(actual) OVER earlier THEN 1
                     WHEN lower_is_better = 0 AND actual < LAG(actual) OVER earlier THEN 1
                     ELSE 0 END AS worse
            FROM (
                SELECT v.employee_id AS employee_id, v.kpi_id AS kpi_id,
                    v.period_id AS period_id,
                    CASE v.period_id {window_of} END AS window_number,
                    CASE v.period_id {window_of} END AS place,
                    CAST(v.value AS {number_type}) AS actual,
                    CAST(v.target AS {number_type}) AS own_target,
                    CASE WHEN {lower} THEN 1 ELSE 0 END AS lower_is_better
                FROM {value} v
                WHERE v.employee_id IN (
                    SELECT e.id FROM {employee} e WHERE e.id IN ({_marks(employee_ids)})
                )
                    AND v.kpi_id + 0 IN ({_marks(kpi_ids)})
                    AND v.period_id BETWEEN %s AND %s AND v.period_id + 0 IN ({_marks(slots)})
            ) recorded
            WINDOW earlier AS (PARTITION BY employee_id, kpi_id, window_number ORDER BY place)
        ) numbered
        GROUP BY employee_id, kpi_id, window_number
    """  # noqa: S608
    params: list[Any] = [
        *(x for period_id, number, _place in slots for x in (period_id, number)),
        *(x for period_id, _number, place in slots for x in (period_id, place)),
        *lower_ids,
        *employee_ids,
        *kpi_ids,
        min(period_id for period_id, _number, _place in slots),
        max(period_id for period_id, _number, _place in slots),
        *(period_id for period_id, _number, _place in slots),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        (e, k, *keys[number]): (period_id, actual, own_target, int(streak))
        for e, k, number, period_id, actual, own_target, streak in rows
    }
