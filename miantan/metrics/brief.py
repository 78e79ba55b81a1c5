"""The data brief for a talk: the facts that matter for its topic and the objectives they suggest.

`brief_for` is the only entry point. It reads the employee through the permission layer (404 and
an audited denial for anyone not allowed to see them), so every brief shown is in the audit
trail as `metrics.brief.viewed`. Texts are rendered in the language active at the call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from miantan.core.errors import DomainError
from miantan.people.models import Employee
from miantan.people.queries import access_employee

from .enums import BriefTopic, EvidenceKind
from .gaps import Flag, KpiGap, RuleKind, gaps_for
from .models import AttendanceSummary, EvidenceEntry, ProjectContribution, TrainingRecord

RECENT = 20
ATTENDANCE_PERIODS = 6


@dataclass(frozen=True)
class Objective:
    """A suggested aim for the talk and the data behind it."""

    text: str
    kind: str
    kpi_code: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Requirement:
    """One KPI of the position: what the position asks for and what the person reaches."""

    gap: KpiGap
    required: float
    actual: float | None
    met: bool | None


@dataclass
class Brief:
    employee: Employee
    topic: str
    topic_label: str
    as_of: date
    kpis: list[KpiGap] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    objectives: list[Objective] = field(default_factory=list)
    projects: list[ProjectContribution] = field(default_factory=list)
    trainings: list[TrainingRecord] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    growth_needs: list[KpiGap] = field(default_factory=list)
    evidence: list[EvidenceEntry] = field(default_factory=list)
    attendance: list[AttendanceSummary] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    open_action_items: list[Any] = field(default_factory=list)


def brief_for(
    employee: Employee | int, topic: str, viewer: Any, *, as_of: date | None = None
) -> Brief:
    """The brief on `employee` for a talk about `topic`, as `viewer` may see it.

    Raises DomainError for an unknown topic and Http404 (audited) when the viewer may not see
    the employee.
    """
    if topic not in BriefTopic.values:
        raise DomainError(
            _("Unknown topic “%(topic)s”.") % {"topic": str(topic)[:40]}, code="unknown_topic"
        )
    employee_id = employee if isinstance(employee, int) else employee.pk
    person = access_employee(viewer, employee_id, action="metrics.brief.viewed")
    as_of = as_of or timezone.localdate()
    gaps = gaps_for(person, as_of=as_of)
    brief = Brief(
        employee=person,
        topic=topic,
        topic_label=str(BriefTopic(topic).label),
        as_of=as_of,
        open_action_items=open_action_items(person),
    )
    _FILL[BriefTopic(topic)](brief, gaps.kpis)
    return brief


_open_action_items_provider: Callable[[Employee], list[Any]] | None = None


def register_open_action_items(provider: Callable[[Employee], list[Any]] | None) -> None:
    """Set who answers `open_action_items`: the plans app registers its query when it starts
    (metrics cannot import plans, which builds on metrics)."""
    global _open_action_items_provider
    _open_action_items_provider = provider


def open_action_items(employee: Employee) -> list[Any]:
    """Unfinished action items serving the employee (from earlier talks, plans, or on their
    own), oldest due first; the next talk's agenda carries them over. Empty when no plans
    feature is installed."""
    if _open_action_items_provider is None:
        return []
    return _open_action_items_provider(employee)


# --- per topic --------------------------------------------------------------------------------


def _quarterly_review(brief: Brief, gaps: list[KpiGap]) -> None:
    brief.kpis = gaps
    brief.flags = [flag for gap in gaps for flag in gap.flags]
    brief.attendance = _attendance(brief.employee)
    brief.objectives = _flag_objectives(gaps)
    strengths = sorted(
        (g for g in gaps if not g.flags and (g.completion or 0) >= 100),
        key=lambda g: -(g.completion or 0),
    )
    brief.objectives += [_strength(gap) for gap in strengths[:2]]


def _career(brief: Brief, gaps: list[KpiGap]) -> None:
    brief.trainings = list(
        TrainingRecord.objects.filter(employee=brief.employee).order_by("-completed_on", "-pk")[
            :RECENT
        ]
    )
    hours: dict[str, float] = {}
    for training in brief.trainings:
        if training.skill:
            hours[training.skill] = hours.get(training.skill, 0) + float(training.hours)
    brief.skills = sorted(hours, key=lambda skill: -hours[skill])
    brief.growth_needs = [gap for gap in gaps if gap.flags]
    brief.kpis = gaps
    brief.objectives = [
        Objective(
            str(
                _("Plan how to grow in %(kpi)s: %(completion)s %% of the target")
                % {"kpi": _name(gap), "completion": _fmt(gap.completion, 1)}
            ),
            "growth",
            gap.kpi.code,
            {"completion": gap.completion, "actual": gap.actual, "target": gap.target},
        )
        for gap in brief.growth_needs
    ]
    brief.objectives += [
        Objective(
            str(
                _("Build on %(skill)s: %(hours)s hours of training so far")
                % {"skill": skill, "hours": _fmt(hours[skill], 1)}
            ),
            "skill",
            data={"skill": skill, "hours": hours[skill]},
        )
        for skill in brief.skills[:2]
    ]


def _project_recognition(brief: Brief, gaps: list[KpiGap]) -> None:
    brief.projects = list(
        ProjectContribution.objects.filter(employee=brief.employee).order_by(
            "-finished_on", "-started_on", "-pk"
        )[:RECENT]
    )
    for project in brief.projects:
        done = float(project.completion) if project.completion is not None else None
        data: dict[str, Any] = {"project": project.project, "role": project.role}
        if done is not None:
            text = _("Recognise the work on %(project)s (%(role)s): %(completion)s %% complete")
            data["completion"] = done
        else:
            text = _("Recognise the work on %(project)s (%(role)s)")
        values = {**data, "role": project.role or "—", "completion": _fmt(done, 0)}
        brief.objectives.append(Objective(str(text % values), "project", data=data))


def _improvement(brief: Brief, gaps: list[KpiGap]) -> None:
    brief.kpis = [gap for gap in gaps if gap.flags]
    brief.flags = [flag for gap in brief.kpis for flag in gap.flags]
    brief.evidence = list(
        EvidenceEntry.objects.filter(employee=brief.employee)
        .select_related("kpi")
        .order_by("-happened_on", "-pk")[:RECENT]
    )
    brief.attendance = _attendance(brief.employee)
    brief.objectives = _flag_objectives(brief.kpis)
    for entry in brief.evidence:
        if entry.kind == EvidenceKind.NEGATIVE:
            brief.objectives.append(
                Objective(
                    str(
                        _("Talk about what happened on %(date)s: %(text)s")
                        % {"date": entry.happened_on.isoformat(), "text": _short(entry.text)}
                    ),
                    "evidence",
                    entry.kpi.code if entry.kpi else "",
                    {"date": entry.happened_on.isoformat(), "evidence_id": entry.pk},
                )
            )


def _promotion(brief: Brief, gaps: list[KpiGap]) -> None:
    brief.kpis = gaps
    for gap in gaps:
        if gap.position_target is None:
            continue
        requirement = Requirement(gap, gap.position_target, gap.actual, gap.meets_position)
        brief.requirements.append(requirement)
        if requirement.met is None:
            continue
        text = (
            _("%(kpi)s meets the position's requirement: %(actual)s against %(required)s")
            if requirement.met
            else _("%(kpi)s is below the position's requirement: %(actual)s against %(required)s")
        )
        values = {
            "kpi": _name(gap),
            "actual": _fmt(gap.actual, gap.kpi.decimals),
            "required": _fmt(gap.position_target, gap.kpi.decimals),
        }
        data = {"actual": gap.actual, "required": gap.position_target, "met": requirement.met}
        brief.objectives.append(Objective(str(text % values), "requirement", gap.kpi.code, data))
    # Unmet requirements first: they decide the talk.
    brief.objectives.sort(key=lambda objective: bool(objective.data.get("met")))


_FILL = {
    BriefTopic.QUARTERLY_REVIEW: _quarterly_review,
    BriefTopic.CAREER: _career,
    BriefTopic.PROJECT_RECOGNITION: _project_recognition,
    BriefTopic.IMPROVEMENT: _improvement,
    BriefTopic.PROMOTION: _promotion,
}


# --- objectives from flags --------------------------------------------------------------------


def _flag_objectives(gaps: list[KpiGap]) -> list[Objective]:
    """One objective per flagged KPI, from its most telling flag (team, then target, then
    trend): the talk should look for a cause, not list every rule that fired."""
    order = {
        RuleKind.WORSE_THAN_TEAM: 0,
        RuleKind.COMPLETION_BELOW: 1,
        RuleKind.WORSENING_STREAK: 2,
    }
    objectives = []
    for gap in gaps:
        if not gap.flags:
            continue
        flag = min(gap.flags, key=lambda f: order.get(f.rule.kind, 9))
        objectives.append(_flag_objective(gap, flag))
    return objectives


def _flag_objective(gap: KpiGap, flag: Flag) -> Objective:
    decimals = gap.kpi.decimals
    numbers = flag.numbers
    values: dict[str, Any] = {"kpi": _name(gap), "actual": _fmt(gap.actual, decimals)}
    if flag.rule.kind == RuleKind.WORSE_THAN_TEAM:
        text = _("Find the cause of the %(kpi)s gap: %(actual)s against the team's %(team)s")
        values["team"] = _fmt(gap.team_average, decimals)
    elif flag.rule.kind == RuleKind.COMPLETION_BELOW:
        text = _("Agree how to reach the %(kpi)s target: %(actual)s against %(target)s")
        values["target"] = _fmt(gap.target, decimals)
    else:
        text = _("Find out why %(kpi)s got worse %(streak)s periods in a row: %(values)s")
        values.update(streak=numbers["streak"], values=numbers["values"])
    return Objective(str(text % values), flag.rule.id, gap.kpi.code, dict(numbers))


def _strength(gap: KpiGap) -> Objective:
    return Objective(
        str(
            _("Acknowledge %(kpi)s: %(completion)s %% of the target")
            % {"kpi": _name(gap), "completion": _fmt(gap.completion, 1)}
        ),
        "strength",
        gap.kpi.code,
        {"completion": gap.completion, "actual": gap.actual, "target": gap.target},
    )


# --- small helpers ----------------------------------------------------------------------------


def _attendance(employee: Employee) -> list[AttendanceSummary]:
    rows = (
        AttendanceSummary.objects.filter(employee=employee)
        .select_related("period")
        .order_by("-period__start")[:ATTENDANCE_PERIODS]
    )
    return list(reversed(rows))


def _name(gap: KpiGap) -> str:
    return gap.kpi.display_name(get_language() or "zh-hans")


def _fmt(value: float | None, decimals: int = 1) -> str:
    """A number as people write it: rounded to the KPI's decimals, no trailing zeros."""
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
