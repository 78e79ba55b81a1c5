"""docs/permissions.md, checked: every row requested as every role, every URL in the table.

The markdown table is the single source of truth; this module only parses it. A new URL
without a row, a row for a URL that no longer exists, or an answer that differs from the table
fails here.

Write rows (POST, PUT) send a valid body (`BODIES`, by URL name), so that what they test is
permission, not validation: a role that is allowed gets 2xx or 3xx, everyone else 403, 404 or
the sign-in page, never 400. The clock stands still at `NOW` for the whole module.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from miantan.archive.models import Appeal
from miantan.archive.services import add_addendum, resolve_appeal, sign_record
from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Proposal, ReviewCycle, Talk
from miantan.interviews.rules import can_request_talk_with
from miantan.metrics.models import EvidenceEntry, Kpi, KpiAssignment, MetricsImport
from miantan.notifications.models import Endpoint, Notification
from miantan.nudges.models import NudgeRule
from miantan.nudges.queries import ensure_rules
from miantan.people.models import Department, Employee, OrgImport, RoleAssignment
from miantan.plans.models import ActionItem, ImprovementPlan, Recommendation, TrainingCourse
from miantan.records import builtin
from miantan.records import definitions as record_definitions
from miantan.records.attachments import add_attachment
from miantan.records.definitions import parse
from miantan.records.enums import Side
from miantan.records.models import Block, Comment, Record, Script, Template
from miantan.records.notes import add_note
from miantan.records.queries import as_lines
from miantan.records.scripts import install_builtin_scripts
from miantan.records.services import confirm_record, open_record
from miantan.records.templates import FORMAT as TEMPLATE_FORMAT
from miantan.records.templates import fingerprint, install_builtin_templates
from miantan.scheduling.models import HolidayOverride, ShiftCode
from miantan.web import template_editor
from tests.factories import PASSWORD, EmployeeFactory, api_token_for
from tests.personas import (
    Hospital,
    OtherOrganisation,
    build_hospital,
    build_other_organisation,
)
from tests.plans.builders import foreign_plan, plan_of_wang

TABLE = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
ROLES = (
    "anonymous",
    "employee",
    "manager",
    "department head",
    "HR",
    "executive",
    "admin",
    "department HR",
    "nurse",
)
UNKNOWN_ID = 987654
# A Tuesday morning in Beijing (01:00 UTC is 09:00 there); every date below is relative to it.
NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
WRITE_METHODS = frozenset({"POST", "PUT"})
SIGN_IN = "/accounts/login/?next="
ADMIN_SIGN_IN = "/admin/login/?next="
# The admin site's own pages, besides those in the table, are covered by one rule (below).
ADMIN_IN_TABLE = {"admin:index", "admin:login"}


@dataclass(frozen=True)
class Row:
    url_name: str
    method: str
    target: str
    expected: dict[str, str]

    @property
    def id(self) -> str:
        """ASCII, so that pytest shows it as it is."""
        target = {
            "—": "",
            "王": "wang",
            "赵": "zhao",
            "心内科": "cardiology",
            "entry on 王": "entry-on-wang",
            "talk of 王": "talk-of-wang",
            "booked talk of 王": "booked-talk-of-wang",
            "周敏's private note": "zhou-private-note",
            "王's shared note": "wang-shared-note",
            "王's file": "wang-file",
            "confirmed record of 王": "confirmed-record-of-wang",
            "archived record of 王": "archived-record-of-wang",
            "appeal of 王": "appeal-of-wang",
            "resolved appeal of 王": "resolved-appeal-of-wang",
        }.get(self.target, self.target)
        return f"{self.url_name} {self.method} {target}".strip()


def read_table(path: Path = TABLE) -> list[Row]:
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if line.startswith("| URL name |"):
            header = _cells(line)
            break
    else:
        raise AssertionError(f"no permission table in {path}")
    assert header[3:] == list(ROLES), f"role columns must be {ROLES}, not {header[3:]}"
    next(lines)  # the |---| line
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        url_name, method, target, *outcomes = _cells(line)
        expected = dict(zip(ROLES, outcomes, strict=True))
        rows.append(Row(url_name.strip("`"), method, target, expected))
    return rows


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    parameters: tuple[str, ...]
    module: str
    callback: Any = None


def project_routes() -> Iterator[Route]:
    """Every named URL pattern of the project, with its namespace and parameter names."""

    def walk(patterns: list[Any], prefix: str, namespace: str, params: tuple[str, ...]):
        for pattern in patterns:
            own = tuple(_parameters(pattern.pattern))
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, route, inner, params + own)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}".lstrip(":") if pattern.name else route
                module = getattr(pattern.callback, "__module__", "") or ""
                yield Route(name, route, params + own, module, pattern.callback)

    yield from walk(get_resolver().url_patterns, "", "", ())


def _parameters(pattern: Any) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def is_static(route: Route) -> bool:
    return route.module.startswith(("django.contrib.staticfiles", "django.views.static"))


def is_admin_internal(route: Route) -> bool:
    return route.route.startswith("admin/") and route.name not in ADMIN_IN_TABLE


ROWS = read_table()


# --- the objects the targets stand for ------------------------------------------------------


@dataclass(frozen=True)
class World:
    hospital: Hospital
    other: OtherOrganisation
    own_import: OrgImport
    foreign_import: OrgImport
    own_metrics_import: MetricsImport
    foreign_metrics_import: MetricsImport
    entry_on_wang: EvidenceEntry
    foreign_entry: EvidenceEntry

    def argument(self, parameter: str, target: str, viewer: Employee | None) -> int | str:
        chosen = {
            "employee_id": self._employee,
            "assignment_id": self._assignment,
            "kpi_id": self._kpi,
            "token_id": self._token,
            "import_id": self._import,
            "metrics_import_id": self._metrics_import,
            "department_id": self._department,
            "entry_id": self._entry,
            "talk_id": self._talk,
            "block_id": self._block,
            "comment_id": self._comment,
            "note_id": self._note,
            "attachment_id": self._attachment,
            "notification_id": self._notification,
            "endpoint_id": self._endpoint,
            "token": self._feed_token,
            "cycle_id": self._cycle,
            "shift_code_id": self._shift_code,
            "organisation_id": self._organisation,
            "day_id": self._holiday_day,
            "template_id": self._template,
            "script_id": self._script,
            "rule_id": self._nudge_rule,
            "appeal_id": self._appeal,
            "number": self._addendum_number,
            "item_id": self._action_item,
            "plan_id": self._plan,
            "recommendation_id": self._recommendation,
            "course_id": self._course,
        }[parameter](target, viewer)
        return chosen if isinstance(chosen, int | str) else chosen.pk

    def _employee(self, target: str, viewer: Employee | None) -> Any:
        return {
            "self": viewer or self.hospital.nurse_wang,
            "王": self.hospital.nurse_wang,
            "赵": self.hospital.zhao,
            "foreign": self.other.employee,
            "unknown": UNKNOWN_ID,
            "entry on 王": self.hospital.nurse_wang,
        }[target]

    def _assignment(self, target: str, viewer: Employee | None) -> Any:
        if target in ("KPI assignment", "foreign KPI assignment", "unknown"):
            return self._kpi_assignment(target, viewer)
        holder = {
            "head role": self.hospital.head,
            "admin role": self.hospital.admin,
            "foreign": self.other.employee,
        }[target]
        return RoleAssignment.objects.filter(employee=holder).order_by("pk").first()

    def _token(self, target: str, viewer: Employee | None) -> Any:
        owner = viewer if target == "own" and viewer is not None else self.hospital.zhao
        return api_token_for(owner)[0]

    def _kpi(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand, inside the test's savepoint: 门诊量 of the hospital or of 星河科技."""
        if target == "unknown":
            return UNKNOWN_ID
        organisation = (
            self.other.organisation if target == "foreign KPI" else self.hospital.organisation
        )
        kpi, _created = Kpi.objects.get_or_create(
            organisation=organisation, code="outpatient_visits", defaults={"name": "门诊量"}
        )
        return kpi

    def _kpi_assignment(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand, inside the test's savepoint: 门诊量 for 心内科, or one of 星河科技."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target == "foreign KPI assignment"
        organisation = self.other.organisation if foreign else self.hospital.organisation
        kpi, _created = Kpi.objects.get_or_create(
            organisation=organisation, code="outpatient_visits", defaults={"name": "门诊量"}
        )
        return KpiAssignment.objects.create(
            organisation=organisation,
            kpi=kpi,
            department=self.other.department if foreign else self.hospital.cardiology,
            target=400,
        )

    def _talk(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand, inside the test's savepoint: 王芳 asked 周敏 and proposed a time."""
        if target == "unknown":
            return UNKNOWN_ID
        if target == "booked talk of 王":
            talk = talk_between(self.hospital.nurse_wang, self.hospital.head_nurse)
            start = timezone.now() + timedelta(days=3)
            Talk.objects.filter(pk=talk.pk).update(
                state=TalkState.SCHEDULED,
                scheduled_start=start,
                scheduled_end=start + timedelta(minutes=45),
                awaiting=None,
            )
            return talk
        if target in RECORD_TARGETS:
            return record_of_wang(self.hospital, target).talk
        if target in SIGNING_TARGETS:
            signed = target == "archived record of 王"
            hospital = self.hospital
            return confirmed_record(hospital.nurse_wang, hospital.head_nurse, signed=signed).talk
        if target == "foreign archived record":
            return confirmed_record(*self._foreign_pair(), signed=True).talk
        if target in ("addendum of 王", "unknown addendum"):
            hospital = self.hospital
            record = confirmed_record(hospital.nurse_wang, hospital.head_nurse, signed=True)
            if target == "addendum of 王":
                add_addendum(
                    record, actor=hospital.head_nurse.user, text="培训改到四月", password=PASSWORD
                )
            return record.talk
        if target == "foreign addendum":
            employee, counterpart = self._foreign_pair()
            record = confirmed_record(employee, counterpart, signed=True)
            add_addendum(record, actor=counterpart.user, text="补充说明", password=PASSWORD)
            return record.talk
        if target in EXTRA_TARGETS:
            return record_of_wang(self.hospital, "record of 王").talk
        if target == "foreign talk":
            return talk_between(*self._foreign_pair())
        return talk_between(self.hospital.nurse_wang, self.hospital.head_nurse)

    def _foreign_pair(self) -> tuple[Employee, Employee]:
        """冯涛 of 星河科技 and a colleague of his, who leads his talks."""
        colleague = EmployeeFactory.create(
            organisation=self.other.organisation, department=self.other.department
        )
        return self.other.employee, colleague

    def _addendum_number(self, target: str, viewer: Employee | None) -> Any:
        """The first addendum of the row's record (made with its talk, `_talk`)."""
        return UNKNOWN_ID if target == "unknown addendum" else 1

    def _appeal(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand: 王芳 signed her confirmed record "with a disagreement" and 周敏
        signed it too; the appeal waits for HR ("resolved": 孙丽 upheld the record). The same
        in 星河科技 for "foreign appeal"."""
        if target == "unknown":
            return UNKNOWN_ID
        if target == "foreign appeal":
            employee, counterpart = self._foreign_pair()
        else:
            employee, counterpart = self.hospital.nurse_wang, self.hospital.head_nurse
        appeal = appealed_record(employee, counterpart)
        if target == "resolved appeal of 王":
            resolve_appeal(
                appeal,
                actor=self.hospital.hr_partner.user,
                outcome="upheld",
                resolution="评分有依据，维持原记录",
            )
        return appeal

    def _block(self, target: str, viewer: Employee | None) -> Any:
        """A block of the record the row's talk just got: the agreements, or the viewer's own
        copy of the sealed overall rating (the head nurse's for everyone else)."""
        if target not in RECORD_TARGETS:
            return UNKNOWN_ID
        record = Record.objects.filter(organisation=self.hospital.organisation).latest("pk")
        if target == "sealed part of 王's record":
            side = Side.EMPLOYEE if viewer == self.hospital.nurse_wang else Side.MANAGER
            return Block.objects.get(record=record, section="overall", side=side)
        if target == "manager's part of 王's record":
            return Block.objects.get(record=record, section="manager", side="")
        return Block.objects.get(record=record, section="agreement", side="")

    def _comment(self, target: str, viewer: Employee | None) -> Any:
        """A comment of HR's on the record the row's talk just got."""
        if target not in RECORD_TARGETS:
            return UNKNOWN_ID
        record = Record.objects.filter(organisation=self.hospital.organisation).latest("pk")
        return Comment.objects.create(
            record=record, section="plan", author=self.hospital.hr_partner, body="目标请写具体"
        )

    def _note(self, target: str, viewer: Employee | None) -> Any:
        """A note on the record the row's talk just got: 周敏's private one or 王芳's shared one."""
        if target not in EXTRA_TARGETS:
            return UNKNOWN_ID
        record = Record.objects.filter(organisation=self.hospital.organisation).latest("pk")
        if target == "周敏's private note":
            return add_note(record, actor=self.hospital.head_nurse.user, body="下次谈排班")
        return add_note(
            record, actor=self.hospital.nurse_wang.user, body="想多上白班", tier="shared"
        )

    def _attachment(self, target: str, viewer: Employee | None) -> Any:
        """A PDF 王芳 attached to the record the row's talk just got."""
        if target not in EXTRA_TARGETS:
            return UNKNOWN_ID
        record = Record.objects.filter(organisation=self.hospital.organisation).latest("pk")
        return add_attachment(
            record, actor=self.hospital.nurse_wang.user, name="评估.pdf", data=PDF
        )

    def _endpoint(self, target: str, viewer: Employee | None) -> Any:
        """The hospital's WeCom group robot (or 星河科技's)."""
        foreign = target == "foreign endpoint"
        organisation = self.other.organisation if foreign else self.hospital.organisation
        return Endpoint.objects.create(
            organisation=organisation,
            channel="wecom",
            name="全院通知群",
            url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=permission-table",
        )

    def _notification(self, target: str, viewer: Employee | None) -> Any:
        """An inbox message of the viewer ("own") or of 赵强 ("other"); a mail to 赵强 given
        up after its last attempt ("given-up message"), or one of 星河科技 ("foreign given-up
        message")."""
        if target in ("given-up message", "foreign given-up message"):
            foreign = target.startswith("foreign")
            recipient = self.other.employee if foreign else self.hospital.zhao
            return Notification.objects.create(
                organisation_id=recipient.organisation_id,
                recipient=recipient,
                kind="talk.requested",
                channel="email",
                key=f"permission-table:given-up:{recipient.pk}",
                due_at=timezone.now(),
                failed_at=timezone.now(),
                attempts=6,
                last_error="SMTPServerDisconnected: Connection unexpectedly closed",
            )
        recipient = viewer if target == "own" and viewer is not None else self.hospital.zhao
        return Notification.objects.create(
            organisation_id=recipient.organisation_id,
            recipient=recipient,
            kind="talk.requested",
            channel="inbox",
            key=f"permission-table:{recipient.pk}",
            due_at=timezone.now(),
            sent_at=timezone.now(),
            subject="面谈申请",
        )

    def _cycle(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand: a draft review cycle of the hospital (or of 星河科技) next month."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target == "foreign cycle"
        first = timezone.localdate() + timedelta(days=7)
        cycle = ReviewCycle.objects.create(
            organisation=self.other.organisation if foreign else self.hospital.organisation,
            name="2027 Q1",
            window_start=first,
            window_end=first + timedelta(days=13),
        )
        cycle.departments.set([self.other.department if foreign else self.hospital.root])
        return cycle

    def _shift_code(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand: the hospital's 夜班 (retired or not), or 星河科技's 早班."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target == "foreign shift code"
        return ShiftCode.objects.create(
            organisation=self.other.organisation if foreign else self.hospital.organisation,
            code="早班" if foreign else "夜班",
            start=time(6) if foreign else time(20),
            end=time(14) if foreign else time(8),
            kind="day" if foreign else "night",
            retired_at=timezone.now() if target == "retired shift code" else None,
        )

    def _holiday_day(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand: a company day off the hospital set, or one of 星河科技."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target == "foreign holiday day"
        return HolidayOverride.objects.create(
            organisation=self.other.organisation if foreign else self.hospital.organisation,
            date=date(2027, 3, 8),
            kind="holiday",
            name="公司年会",
        )

    def _organisation(self, target: str, viewer: Employee | None) -> Any:
        return {"hospital": self.hospital.organisation, "unknown": UNKNOWN_ID}[target]

    def _template(self, target: str, viewer: Employee | None) -> Any:
        """The hospital's monthly check-in (or one of 星河科技), built-ins installed on demand."""
        if target == "unknown":
            return UNKNOWN_ID
        return hospital_template(
            self.other.organisation if target == "foreign template" else self.hospital.organisation
        )

    def _script(self, target: str, viewer: Employee | None) -> Any:
        """The first built-in script of the hospital (or of 星河科技), installed on demand; the
        same for the script rows of a record."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target in ("foreign script", "foreign talk")
        return hospital_script(self.other.organisation if foreign else self.hospital.organisation)

    def _nudge_rule(self, target: str, viewer: Employee | None) -> Any:
        """The hospital's rule "KPIs behind before the period ends" (or 星河科技's), the rules
        seeded on demand."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target == "foreign nudge rule"
        organisation = self.other.organisation if foreign else self.hospital.organisation
        ensure_rules([organisation.pk])
        return NudgeRule.objects.get(organisation=organisation, kind="period_end_low_kpi")

    def _action_item(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand: an action item from 王芳's talk with 周敏, owned by 王芳 and written
        by 周敏 (or the same in 星河科技)."""
        if target == "unknown":
            return UNKNOWN_ID
        employee, counterpart = (
            self._foreign_pair()
            if target == "foreign action item"
            else (self.hospital.nurse_wang, self.hospital.head_nurse)
        )
        return ActionItem.objects.create(
            organisation_id=employee.organisation_id,
            employee=employee,
            owner=employee,
            talk=talk_between(employee, counterpart),
            title="完成静脉输液培训",
            due_on=date(2026, 3, 31),
            created_by=counterpart,
        )

    def _plan(self, target: str, viewer: Employee | None) -> Any:
        """Made on demand: 周敏's improvement plan for 王芳, a draft or published by 孙丽, with
        a course recommendation or a salary review flag on it; a draft plan of 星河科技."""
        if target == "unknown":
            return UNKNOWN_ID
        if target == "foreign plan":
            return foreign_plan(self.other.employee)
        recommendation = {
            "course for 王's plan": "course",
            "review flag on 王's plan": "salary_review",
        }.get(target, "")
        return plan_of_wang(
            self.hospital,
            published=target != "draft plan of 王",
            recommendation=recommendation,
        )

    def _recommendation(self, target: str, viewer: Employee | None) -> Any:
        """The recommendation on the plan the row just made (`_plan`)."""
        if target == "unknown":
            return UNKNOWN_ID
        found = Recommendation.objects.order_by("pk").last()
        return found if found is not None else UNKNOWN_ID

    def _course(self, target: str, viewer: Employee | None) -> Any:
        """A course of the hospital's training catalogue (or of 星河科技's)."""
        if target == "unknown":
            return UNKNOWN_ID
        foreign = target == "foreign course"
        return TrainingCourse.objects.create(
            organisation=self.other.organisation if foreign else self.hospital.organisation,
            title="交接班规范",
        )

    def _feed_token(self, target: str, viewer: Employee | None) -> str:
        return "cal_unknown-token"

    def _import(self, target: str, viewer: Employee | None) -> Any:
        if target == "checked import":
            return checked_import(self.hospital.organisation, self.hospital.hr_partner.user)
        return {"own": self.own_import, "foreign": self.foreign_import}[target]

    def _metrics_import(self, target: str, viewer: Employee | None) -> Any:
        return {"own": self.own_metrics_import, "foreign": self.foreign_metrics_import}[target]

    def _entry(self, target: str, viewer: Employee | None) -> Any:
        return {"entry on 王": self.entry_on_wang, "foreign": self.foreign_entry}[target]

    def _department(self, target: str, viewer: Employee | None) -> Any:
        return {
            "心内科": self.hospital.cardiology,
            "foreign": self.other.department,
            "unknown": UNKNOWN_ID,
        }[target]


def finished_import(organisation: Any, uploaded_by: Any) -> OrgImport:
    return OrgImport.objects.create(
        organisation=organisation,
        uploaded_by=uploaded_by,
        file="imports/org/tests.csv",
        original_name="组织架构.csv",
        status="done",
        total_rows=1,
        processed_rows=1,
        report={"errors": [], "changes": [], "summary": {}},
    )


def checked_import(organisation: Any, uploaded_by: Any) -> OrgImport:
    """Made on demand: an import that places a new department and waits for confirmation."""
    return OrgImport.objects.create(
        organisation=organisation,
        uploaded_by=uploaded_by,
        file="imports/org/tests.csv",
        original_name="花名册.csv",
        status="checked",
        total_rows=1,
        processed_rows=1,
        report={
            "errors": [],
            "changes": [],
            "summary": {},
            "inferred_signature": [["体检中心", "H"]],
        },
    )


def evidence_entry(employee: Employee, author: Employee | None) -> EvidenceEntry:
    return EvidenceEntry.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        author=author,
        kind="negative",
        happened_on=date(2026, 1, 5),
        text="交班记录不完整",
    )


RECORD_TARGETS = (
    "record of 王",
    "filled record of 王",
    "sealed part of 王's record",
    "manager's part of 王's record",
)
# Notes and files on 王芳's record ("record of 王"), made by `World._note` and `._attachment`.
EXTRA_TARGETS = ("周敏's private note", "王's shared note", "王's file")
# 王芳's filled record once both confirmed it, and once both signed it (`confirmed_record`).
SIGNING_TARGETS = ("confirmed record of 王", "archived record of 王")
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def record_of_wang(hospital: Hospital, target: str) -> Record:
    """王芳's talk with 周敏, started ten minutes ago, with its record; "filled": every required
    field written and both sealed ratings handed in; "sealed part": both ratings written."""
    return record_between(hospital.nurse_wang, hospital.head_nurse, target)


def record_between(employee: Employee, counterpart: Employee, target: str) -> Record:
    """The record of the two's talk as `record_of_wang` describes it, for any two people."""
    talk = talk_between(employee, counterpart)
    start = timezone.now() - timedelta(minutes=10)
    Talk.objects.filter(pk=talk.pk).update(
        state=TalkState.IN_PROGRESS,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
        awaiting=None,
    )
    talk.refresh_from_db()
    record = open_record(talk, actor=employee.user)
    if target == "record of 王":
        return record
    if target == "manager's part of 王's record":
        Block.objects.filter(record=record, section="manager").update(version=0)
        block = Block.objects.get(record=record, section="manager")
        block.values = {"assessment": "护理质量稳定"}
        block.save(update_fields=["values"])
        return record
    filled = {
        "went_well": {"items": [{"project": "静脉输液质控"}]},
        "to_improve": {"items": [{"event": "一次给药延误"}]},
        "plan": {"goals": [{"goal": "夜班交接零差错", "measure": "", "due": "", "support": ""}]},
        "manager": {"assessment": "护理质量稳定"},
        "agreement": {"agreements": "带教两名新护士"},
        "overall": {"rating": 4},
    }
    for block in record.blocks.all():
        if target == "sealed part of 王's record" and block.section != "overall":
            continue
        block.values = filled.get(block.section, block.values)
        if target == "filled record of 王" and block.section == "overall":
            block.submitted_at = timezone.now()
        block.save(update_fields=["values", "submitted_at"])
    return record


def confirmed_record(employee: Employee, counterpart: Employee, *, signed: bool = False) -> Record:
    """The two's filled record, confirmed by both: ready to sign; `signed` by both with their
    passwords, and so archived."""
    record = record_between(employee, counterpart, "filled record of 王")
    for person in (employee, counterpart):
        record.refresh_from_db()
        confirm_record(record, actor=person.user, version=record.version)
    record.refresh_from_db()
    if signed:
        for person in (employee, counterpart):
            sign_record(record, actor=person.user, password=PASSWORD)
        record.refresh_from_db()
    return record


def appealed_record(employee: Employee, counterpart: Employee) -> Appeal:
    """The appeal the employee opened by signing the confirmed record with a disagreement;
    the counterpart signed it as well, so it waits for HR alone."""
    record = confirmed_record(employee, counterpart)
    signature = sign_record(
        record, actor=employee.user, password=PASSWORD, dissent=True, reason="第三项不是我的责任"
    )
    sign_record(record, actor=counterpart.user, password=PASSWORD)
    return Appeal.objects.select_related("record__talk").get(signature=signature)


def talk_between(employee: Employee, counterpart: Employee) -> Talk:
    start = timezone.now() + timedelta(days=2)
    talk = Talk.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        counterpart=counterpart,
        requested_by=employee,
        topic="quarterly_review",
        state=TalkState.NEGOTIATING,
        awaiting=counterpart,
        expires_at=start,
    )
    Proposal.objects.create(
        talk=talk, proposed_by=employee, start=start, end=start + timedelta(minutes=45)
    )
    return talk


def finished_metrics_import(organisation: Any, uploaded_by: Any) -> MetricsImport:
    return MetricsImport.objects.create(
        organisation=organisation,
        uploaded_by=uploaded_by,
        file="imports/metrics/tests.csv",
        original_name="指标.csv",
        status="rejected",
        report={"errors": [{"row": 2, "column": "实际值", "message": "…"}], "summary": {}},
    )


# --- the bodies of the write rows ------------------------------------------------------------
#
# By URL name: a function of (world, viewer) giving form data (files as uploads) for a page, or
# the JSON body for an API operation. A body is valid for whoever may do the thing, so that the
# answer says who may, not whether the input was complete. It may create what it names: it runs
# inside the test's savepoint.

Body = Callable[["World", Employee | None], dict[str, Any]]

# Writes that take no input: the URL says everything.
WITHOUT_INPUT = frozenset(
    {
        "web:notifications_read_all",
        "web:endpoint_delete",
        "web:notification_retry",
        "api-v1:notification_mark_read",
        "api-v1:notification_retry_send",
        "api-v1:notification_endpoint_delete",
        "web:evidence_remove",
        "web:revoke_role",
        "web:kpi_assignment_remove",
        "web:holiday_day_remove",
        "web:org_import_confirm",
        "web:org_import_discard",
        "web:talk_accept",
        "web:talk_start",
        "web:calendar_token_create",
        "web:calendar_token_revoke",
        "web:notification_read",
        "web:cycle_launch",
        "accounts:logout",
        "accounts:revoke_token",
        "api-v1:accept_time",
        "api-v1:start_talk",
        "web:shift_code_retire",
        "web:shift_code_reinstate",
        "web:record_open",
        "web:record_comment_resolve",
        "api-v1:open_record",
        "api-v1:resolve_comment",
        "web:record_note_delete",
        "web:record_attachment_remove",
        "api-v1:delete_record_note",
        "api-v1:remove_record_attachment",
        "web:record_template_deactivate",
        "web:record_template_reactivate",
        "web:script_deactivate",
        "web:script_reactivate",
        "web:record_script_insert",
        "web:plan_publish",
        "web:plan_evaluate",
        "web:plan_close",
        "api-v1:publish_plan",
        "api-v1:close_plan",
    }
)

LAST_WEEK = "2026-03-03"
NEXT_MONDAY_10 = "2026-03-16T10:00:00+08:00"


def _hospital_kpi(world: World) -> Kpi:
    kpi, _created = Kpi.objects.get_or_create(
        organisation=world.hospital.organisation,
        code="outpatient_visits",
        defaults={"name": "门诊量", "name_en": "Outpatient visits"},
    )
    return kpi


def _someone_to_ask(world: World, viewer: Employee | None) -> Employee:
    """A person the viewer may ask for a talk, as the request page offers them."""
    hospital = world.hospital
    candidates = [hospital.nurse_wang, hospital.head_nurse, hospital.head, hospital.hr_partner]
    if viewer is None:
        return candidates[0]
    return next(c for c in candidates if can_request_talk_with.test(viewer.user, c))


def _evidence(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {"kind": "positive", "happened_on": LAST_WEEK, "text": "夜班独立完成抢救，记录完整"}


def _org_file(world: World, viewer: Employee | None) -> dict[str, Any]:
    rows = "工号,姓名,部门,上级工号,岗位\nH0014,刘洋,心内科护理组,H0012,护士\n"
    return {"file": SimpleUploadedFile("组织架构.csv", rows.encode(), "text/csv")}


def _metrics_file(world: World, viewer: Employee | None) -> dict[str, Any]:
    _hospital_kpi(world)
    rows = "工号,指标,周期,实际值\nH0011,outpatient_visits,2026-02,412\n"
    return {"file": SimpleUploadedFile("门诊量.csv", rows.encode(), "text/csv")}


def _busy_file(world: World, viewer: Employee | None) -> dict[str, Any]:
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hospital//Calendar//ZH\r\n"
        "BEGIN:VEVENT\r\nUID:ward-round-1@hospital.test\r\nDTSTAMP:20260301T000000Z\r\n"
        "DTSTART:20260312T010000Z\r\nDTEND:20260312T020000Z\r\nSUMMARY:查房\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return {"file": SimpleUploadedFile("calendar.ics", ics.encode(), "text/calendar")}


def _talk_request(world: World, viewer: Employee | None) -> dict[str, Any]:
    """The last step of the request page, with everything the earlier steps carried."""
    return {
        "step": "3",
        "go": "send",
        "other": _someone_to_ask(world, viewer).pk,
        "topic": Topic.QUARTERLY_REVIEW,
        "duration_minutes": 45,
        "urgency": "normal",
        "message": "想聊聊下季度的排班",
        "slot": "none",
    }


def _api_talk_request(world: World, viewer: Employee | None) -> dict[str, Any]:
    """A talk with 王芳: the relation decides (rules.relation_to), not the input."""
    return {
        "with_employee_id": world.hospital.nurse_wang.pk,
        "topic": Topic.QUARTERLY_REVIEW,
        "duration_minutes": 45,
    }


def _role_grant(world: World, viewer: Employee | None) -> dict[str, Any]:
    """周敏 becomes department head of 心内科护理组 (within both HR partners' subtrees)."""
    return {
        "employee_number": world.hospital.head_nurse.employee_number,
        "role": "department_head",
        "department": world.hospital.cardiology_nursing.pk,
    }


def _cycle(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "name": "2026 一季度绩效面谈",
        "topic": Topic.QUARTERLY_REVIEW,
        "period": "2026 Q1",
        "departments": [world.hospital.cardiology.pk],
        "window_start": "2026-03-16",
        "window_end": "2026-03-27",
        "duration_minutes": 45,
    }


def _shift_code_form(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "code": "夜班",
        "name": "夜间班",
        "name_en": "Night",
        "start": "21:00",
        "end": "08:00",
        "overnight": "yes",
        "kind": "night",
    }


def _holiday_file(world: World, viewer: Employee | None) -> dict[str, Any]:
    """The hospital's own 2027: three days off and a Saturday worked (not an official list)."""
    year = {
        "holidays": {"2027-01-01": "元旦", "2027-02-05": "春节", "2027-02-08": "春节"},
        "working_days": ["2027-02-20"],
    }
    content = json.dumps({"years": {"2027": year}}, ensure_ascii=False).encode()
    return {"file": SimpleUploadedFile("2027.json", content, "application/json")}


def _working_hours(world: World, viewer: Employee | None) -> dict[str, Any]:
    """Monday to Friday 08:00–17:30 with lunch from 12:00 to 13:30."""
    week: dict[str, Any] = {}
    for day in range(5):
        week |= {
            f"d{day}_works": "on",
            f"d{day}_start": "08:00",
            f"d{day}_end": "17:30",
            f"d{day}_break_start": "12:00",
            f"d{day}_break_end": "13:30",
        }
    return week


def _new_organisation(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "name": "仁和医院",
        "slug": "renhe",
        "time_zone": "Asia/Shanghai",
        "weekdays": ["0", "1", "2", "3", "4"],
        "start": "09:00",
        "end": "18:00",
        "break_start": "12:00",
        "break_end": "13:00",
    }


def _first_administrator(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "name": "何静",
        "employee_number": "H0900",
        "username": "hospital.it.he",
        "language": "zh-hans",
        "password": "Violet-tiger-2027!",
        "password_again": "Violet-tiger-2027!",
    }


def _kpi_assignment(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "kpi": _hospital_kpi(world).pk,
        "department": world.hospital.emergency.pk,
        "period_kind": "month",
        "weight": "1",
        "target": "300",
    }


def _pushed_values(world: World, viewer: Employee | None) -> dict[str, Any]:
    _hospital_kpi(world)
    value = {"employee_number": "H0011", "kpi": "outpatient_visits", "period": "2026-02"}
    return {"values": [{**value, "value": "412"}]}


def _record_file(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("夜班评估.pdf", PDF, "application/pdf"), "section": ""}


def _after_talk(world: World, viewer: Employee | None) -> dict[str, Any]:
    """The manager side's requirements for 周敏, the takeaways and a rating for anyone else."""
    if viewer == world.hospital.head_nurse:
        return {"requirements": "带教两名新护士"}
    return {"satisfaction": "4", "takeaways": "交接要点"}


def hospital_template(organisation: Any) -> Template:
    """The organisation's monthly check-in; the built-in templates are installed first."""
    install_builtin_templates(organisation)
    return Template.objects.select_related("current").get(
        organisation=organisation, key=builtin.MONTHLY
    )


def _template_document(world: World, viewer: Employee | None) -> dict[str, Any]:
    """A template file as export writes it, with a key the hospital does not have."""
    return {
        "format": TEMPLATE_FORMAT,
        "format_version": 1,
        "key": "night_shift_talk",
        "name": {"zh-hans": "夜班沟通", "en": "Night shift talk"},
        "topics": [],
        "definition": builtin.BY_KEY[builtin.MONTHLY].definition,
    }


def _template_file(world: World, viewer: Employee | None) -> dict[str, Any]:
    content = json.dumps(_template_document(world, viewer), ensure_ascii=False).encode()
    return {"file": SimpleUploadedFile("夜班沟通.json", content, "application/json")}


def _template_questions(world: World, viewer: Employee | None) -> dict[str, Any]:
    """The editor's inputs for the monthly check-in as they are, saved."""
    template = hospital_template(world.hospital.organisation)
    assert template.current is not None, "a built-in template has a current version"
    sections = template_editor.draft_from_definition(parse(template.current.definition))
    base = fingerprint(template)
    return {**template_editor.form_data(sections), "base": base, "op": "save"}


def _template_settings(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "name_zh": "月度沟通",
        "name_en": "Monthly check-in",
        "description_zh": "",
        "description_en": "",
        "topics": ["other", "project_recognition"],
    }


def hospital_script(organisation: Any) -> Script:
    """The organisation's first script (an opening of the improvement talk), built-ins first."""
    install_builtin_scripts(organisation)
    script = Script.objects.filter(organisation=organisation).order_by("position", "pk").first()
    assert script is not None, "the built-in scripts are installed"
    return script


def _script_form(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {
        "scenario": "general",
        "stage": "opening",
        "emotion": "",
        "text_zh": "今天我们先聊聊夜班的安排。",
        "text_en": "Let's start with the night shifts today.",
    }


def _signing_password(world: World, viewer: Employee | None) -> dict[str, Any]:
    """The signer's own password, entered again at the moment of signing (every persona's is
    the factories' PASSWORD), without a disagreement or a drawing."""
    return {"password": PASSWORD}


def _addendum(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {"text": "补充：复训安排在下月", "password": PASSWORD}


def _resolution(world: World, viewer: Employee | None) -> dict[str, Any]:
    return {"outcome": "upheld", "resolution": "评分有依据，维持原记录"}


def _sign_in(world: World, viewer: Employee | None) -> dict[str, Any]:
    person = viewer or world.hospital.nurse_wang
    return {"username": person.user.username, "password": PASSWORD}


def _line_to_correct(world: World, viewer: Employee | None) -> dict[str, Any]:
    """The one line of 周敏's assessment in the record the row's talk just got (any line for
    rows without one: a foreign talk)."""
    record = Record.objects.filter(organisation=world.hospital.organisation).order_by("pk").last()
    if record is None:
        return {"line": "护理质量稳定"}
    block = Block.objects.get(record=record, section="manager")
    definition = record_definitions.parse(record.template_version.definition)
    section = definition.section("manager")
    assert section is not None
    return {"line": as_lines(section, block.values)[0]}


BODIES: dict[str, Body] = {
    "accounts:login": _sign_in,
    "web:notification_settings": lambda world, viewer: {
        "channels": ["inbox"],
        "quiet_from": "22:00",
        "quiet_until": "07:00",
        "rest_after_night": "on",
        "digest_at": "08:30",
    },
    "api-v1:notification_preferences_update": lambda world, viewer: {
        "channels": ["inbox"],
        "quiet_from": "22:00",
        "quiet_until": "07:00",
    },
    "api-v1:notification_endpoint_create": lambda world, viewer: {
        "channel": "slack",
        "name": "HR channel",
        "url": "https://hooks.slack.com/services/T000/B000/permission",
    },
    "web:delivery_admin": lambda world, viewer: {
        "channel": "slack",
        "name": "HR channel",
        "url": "https://hooks.slack.com/services/T000/B000/permission",
    },
    "web:evidence_create": _evidence,
    "web:roles": _role_grant,
    "web:org_import": _org_file,
    "web:metrics_import": _metrics_file,
    "web:kpi_pack_load": lambda world, viewer: {"pack": "hospital"},
    "web:talk_cues": lambda world, viewer: {"enabled": "0"},
    "web:kpi_assignment_create": _kpi_assignment,
    "web:kpi_assignment_update": lambda world, viewer: {"weight": "2", "target": "420"},
    "web:kpi_range_update": lambda world, viewer: {"min_value": "0", "max_value": "1000"},
    "web:talk_new": _talk_request,
    "web:talk_propose": lambda world, viewer: {
        "slot": "custom",
        "custom_date": "2026-03-16",
        "custom_time": "10:00",
        "accept_conflicts": "on",
    },
    "web:talk_decline": lambda world, viewer: {"reason": "这两周都在手术排期里，月底再约"},
    "web:talk_cancel": lambda world, viewer: {"reason": "已在科室例会上谈过"},
    "web:talk_agenda": lambda world, viewer: {"agenda": "回顾一季度目标\n夜班安排"},
    "web:calendar_busy_import": _busy_file,
    "web:cycles": _cycle,
    "web:shift_codes": _shift_code_form,
    "web:shift_code_edit": _shift_code_form,
    "web:working_hours": _working_hours,
    "web:holiday_day_save": lambda world, viewer: {
        "date": "2027-03-08",
        "kind": "holiday",
        "name": "公司年会",
    },
    "web:holiday_year_confirm": lambda world, viewer: {"year": "2027", "confirmed": "1"},
    "web:holidays_upload": _holiday_file,
    "web:setup": _new_organisation,
    "web:setup_organisation": _first_administrator,
    "accounts:language": lambda world, viewer: {"language": "en", "next": "/"},
    "accounts:tokens": lambda world, viewer: {"name": "排班系统同步", "days": "90"},
    "api-v1:record_evidence_entry": _evidence,
    "api-v1:push_values": _pushed_values,
    "api-v1:preview_slots": _api_talk_request,
    "api-v1:request_talk": _api_talk_request,
    "api-v1:propose_time": lambda world, viewer: {
        "start": NEXT_MONDAY_10,
        "accept_conflicts": True,
    },
    "api-v1:decline_talk": lambda world, viewer: {"reason": "这两周都在手术排期里，月底再约"},
    "api-v1:cancel_talk": lambda world, viewer: {"reason": "已在科室例会上谈过"},
    "api-v1:update_agenda": lambda world, viewer: {"items": ["回顾一季度目标", "夜班安排"]},
    "web:record_block": lambda world, viewer: {"version": "0", "f-agreements": "带教两名新护士"},
    "web:record_block_submit": lambda world, viewer: {"version": "0"},
    "web:record_comment": lambda world, viewer: {"section": "plan", "body": "目标请写具体"},
    "web:record_confirm": lambda world, viewer: {"version": "0"},
    "web:record_flag": _line_to_correct,
    "api-v1:save_block": lambda world, viewer: {
        "version": 0,
        "values": {"agreements": "带教两名新护士"},
    },
    "api-v1:submit_block": lambda world, viewer: {"version": 0},
    "api-v1:add_comment": lambda world, viewer: {"section": "plan", "body": "目标请写具体"},
    "api-v1:confirm_record": lambda world, viewer: {"version": 0},
    "web:record_note_add": lambda world, viewer: {"body": "下次谈排班", "tier": "private"},
    "web:record_note_edit": lambda world, viewer: {"body": "下次先谈排班"},
    "web:record_note_promote": lambda world, viewer: {"tier": "formal"},
    "web:record_attachment_add": lambda world, viewer: _record_file(world, viewer),
    "web:record_feedback": lambda world, viewer: _after_talk(world, viewer),
    "api-v1:add_record_note": lambda world, viewer: {"body": "下次谈排班", "tier": "private"},
    "api-v1:edit_record_note": lambda world, viewer: {"body": "下次先谈排班"},
    "api-v1:promote_record_note": lambda world, viewer: {"tier": "formal"},
    "api-v1:upload_record_attachment": lambda world, viewer: _record_file(world, viewer),
    "api-v1:give_record_feedback": lambda world, viewer: {
        "satisfaction": 4,
        "takeaways": "交接要点",
    },
    "api-v1:give_record_requirements": lambda world, viewer: {"requirements": "带教两名新护士"},
    "web:record_template_create": lambda world, viewer: {
        "name_zh": "夜班沟通",
        "name_en": "Night shift talk",
        "key": "",
        "copy_from": "",
    },
    "web:record_template_import": _template_file,
    "web:record_template": _template_settings,
    "web:record_template_edit": _template_questions,
    "api-v1:create_template": lambda world, viewer: {"name": {"zh-hans": "夜班沟通"}},
    "api-v1:update_template": lambda world, viewer: {"topics": ["other"]},
    "api-v1:import_template": _template_document,
    "web:script_create": _script_form,
    "web:script": _script_form,
    "api-v1:create_script": lambda world, viewer: {
        "scenario": "general",
        "stage": "opening",
        "text": {"zh-hans": "今天我们先聊聊夜班的安排。"},
    },
    "api-v1:update_script": lambda world, viewer: {
        "text": {
            "zh-hans": "今天我们先聊聊夜班的安排。",
            "en": "Let's start with the night shifts.",
        }
    },
    "web:record_sign": _signing_password,
    "web:record_addendum": _addendum,
    "api-v1:add_record_addendum": _addendum,
    "web:addendum_sign": _signing_password,
    "api-v1:sign_record_addendum": _signing_password,
    "api-v1:sign_talk_record": _signing_password,
    "web:appeal_resolve": _resolution,
    "web:nudge_rule": lambda world, viewer: {
        "op": "save",
        "period_kind": "quarter",
        "days_before": "15",
        "threshold": "80",
        "enabled": "1",
        "name": "",
        "description": "",
    },
    "web:nudge_rule_switch": lambda world, viewer: {"enabled": "0"},
    "api-v1:update_nudge_rule": lambda world, viewer: {
        "params": {"period_kind": "quarter", "days_before": 10, "threshold": 75}
    },
    "api-v1:resolve_record_appeal": _resolution,
    "web:plan_draft": lambda world, viewer: {
        "employee": world.hospital.nurse_wang.pk,
        "empty": "1",
        "title": "夜班交接改进计划",
    },
    "web:plan_action_new": lambda world, viewer: {"title": "读完护理指南", "due_on": "2026-03-31"},
    "web:plan_action": lambda world, viewer: {"title": "完成静脉输液培训", "due_on": "2026-04-15"},
    "web:plan_action_status": lambda world, viewer: {"status": "done"},
    "web:plan_courses": lambda world, viewer: {"title": "投诉处理技巧"},
    "web:plan_edit": lambda world, viewer: {"title": "夜班交接改进计划（修订）"},
    "web:plan_acknowledge": _signing_password,
    "web:plan_check_in": lambda world, viewer: {f"value_{_latest_target(world)}": "3"},
    "web:plan_recommendation": lambda world, viewer: {"state": "accepted"},
    "api-v1:create_action": lambda world, viewer: {"title": "读完护理指南", "due_on": "2026-03-31"},
    "api-v1:action_status": lambda world, viewer: {"status": "done"},
    "api-v1:draft_plan": lambda world, viewer: {
        "employee": world.hospital.nurse_wang.pk,
        "from_gaps": False,
        "title": "夜班交接改进计划",
        "starts_on": "2026-03-10",
        "ends_on": "2026-06-10",
    },
    "api-v1:acknowledge_plan": _signing_password,
    "api-v1:change_action": lambda world, viewer: {"title": "完成静脉输液培训"},
    "api-v1:change_plan": lambda world, viewer: {"title": "夜班交接改进计划（修订）"},
    "api-v1:record_check_in": lambda world, viewer: {"values": {str(_latest_target(world)): 3}},
    "api-v1:evaluate_plan": lambda world, viewer: {},
    "api-v1:decide_recommendation": lambda world, viewer: {"state": "accepted"},
    "api-v1:create_course": lambda world, viewer: {"title": "投诉处理技巧"},
    "api-v1:change_course": lambda world, viewer: {"title": "交接班规范（新版）"},
}


def _latest_target(world: World) -> int:
    """The target of the plan the row just made (`World._plan`)."""
    plan = ImprovementPlan.objects.order_by("pk").last()
    target = plan.targets.first() if plan is not None else None
    return target.pk if target is not None else UNKNOWN_ID


def send(client: Client, row: Row, url: str, world: World, viewer: Employee | None) -> Any:
    """The row's request: with its body for a write, JSON for the API, a form for a page."""
    make_body = BODIES.get(row.url_name) if row.method in WRITE_METHODS else None
    if make_body is None:
        return client.generic(row.method, url)
    body = make_body(world, viewer)
    uploads = any(isinstance(value, SimpleUploadedFile) for value in body.values())
    if row.url_name.startswith("api-v1:") and not uploads:
        payload = json.dumps(body, cls=DjangoJSONEncoder)
        return client.generic(row.method, url, payload, content_type="application/json")
    assert row.method == "POST", f"{row.id}: forms and uploads are sent by POST"
    return client.post(url, body)


@pytest.fixture(scope="module")
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(scope="module", autouse=True)
def demo_pdf_certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The exported PDFs are signed with a demo certificate made for this module, never with
    one under var/."""
    folder = tmp_path_factory.mktemp("pdf-signing")
    with override_settings(
        MIANTAN_PDF_CERTIFICATE="",
        MIANTAN_PDF_PRIVATE_KEY="",
        MIANTAN_PDF_CERTIFICATE_DIR=str(folder),
    ):
        yield


@pytest.fixture(scope="module")
def shared_world(
    frozen_clock: None, django_db_setup: None, django_db_blocker: Any
) -> Iterator[World]:
    """Built once for the few hundred requests below, like Django's setUpTestData: each test
    runs in a savepoint inside this transaction, so what one test changes the next never sees."""
    with django_db_blocker.unblock(), transaction.atomic():
        hospital, other = build_hospital(), build_other_organisation()
        yield World(
            hospital=hospital,
            other=other,
            own_import=finished_import(hospital.organisation, hospital.hr_partner.user),
            foreign_import=finished_import(other.organisation, other.employee.user),
            own_metrics_import=finished_metrics_import(
                hospital.organisation, hospital.hr_partner.user
            ),
            foreign_metrics_import=finished_metrics_import(other.organisation, other.employee.user),
            entry_on_wang=evidence_entry(hospital.nurse_wang, hospital.head_nurse),
            foreign_entry=evidence_entry(other.employee, None),
        )
        transaction.set_rollback(True)


@pytest.fixture
def world(shared_world: World, db: None) -> World:
    return shared_world


def client_for(role: str, world: World) -> tuple[Client, Employee | None]:
    client = Client()
    if role == "anonymous":
        return client, None
    viewer = world.hospital.by_role(role)
    client.force_login(viewer.user)
    return client, viewer


ROUTES = {route.name: route for route in project_routes()}


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_permission_table_answer(world: World, row: Row, role: str) -> None:
    client, viewer = client_for(role, world)
    route = ROUTES.get(row.url_name)
    assert route is not None, f"{row.url_name} is in the table but not a URL of the project"
    kwargs = {p: world.argument(p, row.target, viewer) for p in route.parameters}
    assert bool(kwargs) == (row.target != "—"), f"{row.id}: target does not fit the URL"
    url = reverse(row.url_name, kwargs=kwargs)

    response = send(client, row, url, world, viewer)

    expected = row.expected[role]
    location = response.get("Location", "")
    answer = str(response.status_code)
    if response.status_code == 302:
        answer = (
            "login"
            if location.startswith(SIGN_IN)
            else "admin login"
            if location.startswith(ADMIN_SIGN_IN)
            else "302"
        )
    assert answer == expected, f"{row.method} {url} as {role}: {answer} ({location})"


def test_permission_table_lists_every_url_of_the_project() -> None:
    in_table = {row.url_name for row in ROWS}
    missing = [
        f"{route.name} ({route.route})"
        for route in ROUTES.values()
        if not is_static(route) and not is_admin_internal(route) and route.name not in in_table
    ]

    assert not missing, f"add these URLs to docs/permissions.md: {missing}"


def _reads_a_form(callback: Any) -> bool:
    """The view handles a POST: a class-based view with `post`, or a function that reads the
    posted data or asks for the method."""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return hasattr(view_class, "post")
    source = inspect.getsource(inspect.unwrap(callback))
    return any(sign in source for sign in ("request.POST", "request.FILES", '"POST"'))


def test_permission_table_lists_the_post_of_every_page_that_takes_a_form() -> None:
    """A page whose form posts to its own URL (the roles page, the uploads, the tokens) needs
    a POST row as well as its GET row."""
    methods: dict[str, set[str]] = {}
    for row in ROWS:
        methods.setdefault(row.url_name, set()).add(row.method)
    missing = [
        route.name
        for route in ROUTES.values()
        if route.name in methods
        and not route.name.startswith(("admin:", "api-v1:"))
        and not methods[route.name] & WRITE_METHODS
        and _reads_a_form(route.callback)
    ]

    assert not missing, f"add a POST row (and its body) for: {missing}"


def test_permission_table_names_only_urls_that_exist() -> None:
    stale = sorted({row.url_name for row in ROWS} - set(ROUTES))

    assert not stale, f"these rows of docs/permissions.md name no URL: {stale}"


def test_permission_table_has_one_answer_per_role() -> None:
    for row in ROWS:
        assert len(row.expected) == len(ROLES), row.id
        assert row.method in {"GET", "POST", "PUT"}, row.id


WRITE_ROWS = [row for row in ROWS if row.method in WRITE_METHODS]


def test_permission_table_write_rows_send_a_body_or_take_no_input() -> None:
    names = {row.url_name for row in WRITE_ROWS}
    without = sorted(names - set(BODIES) - WITHOUT_INPUT)
    both = sorted(set(BODIES) & WITHOUT_INPUT)
    stale = sorted((set(BODIES) | WITHOUT_INPUT) - names)

    assert not without, f"give these write rows a valid body in BODIES: {without}"
    assert not both, f"a body for a write said to take no input: {both}"
    assert not stale, f"BODIES or WITHOUT_INPUT name URLs without a write row: {stale}"


def test_permission_table_write_rows_never_expect_a_validation_answer() -> None:
    """400 (or 422) would test the input, not who may: the bodies are valid for everyone
    allowed, so every answer is a success, a refusal, or the way to the sign-in page."""
    validation = [
        f"{row.id} as {role}"
        for row in WRITE_ROWS
        for role, answer in row.expected.items()
        if answer in {"400", "422"}
    ]

    assert not validation, f"write rows that expect a validation answer: {validation}"


ADMIN_INTERNAL = sorted(
    (route for route in ROUTES.values() if is_admin_internal(route)), key=lambda r: r.route
)


@pytest.mark.parametrize("role", [role for role in ROLES if role != "admin"])
def test_admin_site_sends_everyone_but_administrators_to_its_sign_in(world: World, role: str):
    client, _viewer = client_for(role, world)

    for route in ADMIN_INTERNAL:
        if route.name == route.route:
            url = "/admin/anything/"  # the admin site's unnamed catch-all
        else:
            kwargs = {p: _admin_argument(p, world) for p in route.parameters}
            url = reverse(route.name, kwargs=kwargs)
        response = client.get(url)
        expected = "/admin/" if route.name == "admin:logout" else ADMIN_SIGN_IN
        assert response.status_code == 302, f"{url} as {role}: {response.status_code}"
        assert response["Location"].startswith(expected), f"{url} as {role}"


def test_admin_site_opens_the_organisation_models_for_an_administrator(world: World):
    from django.contrib import admin

    client, _viewer = client_for("admin", world)

    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        # Organisation administrators are staff, not superusers: only the organisation's own
        # structure is theirs; logins, groups, tokens and task results are the installation's.
        expected = 200 if model._meta.app_label == "people" else 403
        assert client.get(url).status_code == expected, url


def test_admin_site_shows_an_administrator_only_their_organisation(world: World):
    client, _viewer = client_for("admin", world)

    response = client.get(reverse("admin:people_department_changelist"))

    shown = {department.pk for department in response.context["cl"].result_list}
    assert world.hospital.cardiology.pk in shown
    assert not shown & set(
        Department.objects.exclude(organisation=world.hospital.organisation).values_list(
            "pk", flat=True
        )
    )


def test_admin_site_registers_no_personal_records() -> None:
    from django.contrib import admin

    from miantan.audit.models import AuditEvent

    assert Employee not in admin.site._registry
    assert AuditEvent not in admin.site._registry


def _admin_argument(parameter: str, world: World) -> str:
    return {
        "app_label": "people",
        "object_id": str(world.hospital.cardiology.pk),
        "content_type_id": "1",
    }.get(parameter, "1")
