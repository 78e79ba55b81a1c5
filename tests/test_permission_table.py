"""docs/permissions.md, checked: every row requested as every role, every URL in the table.

The markdown table is the single source of truth; this module only parses it. A new URL
without a row, a row for a URL that no longer exists, or an answer that differs from the table
fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from miantan.interviews.enums import TalkState
from miantan.interviews.models import Proposal, ReviewCycle, Talk
from miantan.metrics.models import EvidenceEntry, Kpi, KpiAssignment, MetricsImport
from miantan.notifications.models import Notification
from miantan.people.models import Department, Employee, OrgImport, RoleAssignment
from tests.factories import EmployeeFactory, api_token_for
from tests.personas import (
    Hospital,
    OtherOrganisation,
    build_hospital,
    build_other_organisation,
)

TABLE = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
ROLES = ("anonymous", "employee", "manager", "department head", "HR", "executive", "admin")
UNKNOWN_ID = 987654
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
                yield Route(name, route, params + own, module)

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
            "token_id": self._token,
            "import_id": self._import,
            "metrics_import_id": self._metrics_import,
            "department_id": self._department,
            "entry_id": self._entry,
            "talk_id": self._talk,
            "notification_id": self._notification,
            "token": self._feed_token,
            "cycle_id": self._cycle,
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
        if target == "foreign talk":
            colleague = EmployeeFactory(
                organisation=self.other.organisation, department=self.other.department
            )
            return talk_between(self.other.employee, colleague)
        return talk_between(self.hospital.nurse_wang, self.hospital.head_nurse)

    def _notification(self, target: str, viewer: Employee | None) -> Any:
        """An inbox message of the viewer ("own") or of 赵强 ("other")."""
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

    def _feed_token(self, target: str, viewer: Employee | None) -> str:
        return "cal_unknown-token"

    def _import(self, target: str, viewer: Employee | None) -> Any:
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


def evidence_entry(employee: Employee, author: Employee | None) -> EvidenceEntry:
    return EvidenceEntry.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        author=author,
        kind="negative",
        happened_on=date(2026, 1, 5),
        text="交班记录不完整",
    )


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


@pytest.fixture(scope="module")
def shared_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
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

    response = client.generic(row.method, url)

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


def test_permission_table_names_only_urls_that_exist() -> None:
    stale = sorted({row.url_name for row in ROWS} - set(ROUTES))

    assert not stale, f"these rows of docs/permissions.md name no URL: {stale}"


def test_permission_table_has_one_answer_per_role() -> None:
    for row in ROWS:
        assert len(row.expected) == len(ROLES), row.id
        assert row.method in {"GET", "POST", "PUT"}, row.id


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
