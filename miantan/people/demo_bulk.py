"""Benchmark staff for the demo hospital: up to 100,000 employees in a realistic shape.

Four campuses, each with centres, specialties and wards (about 340 departments, five levels),
and a reporting line from the president down to teams of 8-15. Rows are written with bulk
inserts, one level of the reporting tree at a time, and are NOT audited: this is load-test
data, not a record of anything that happened.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import CharField, F, Model, Value
from django.db.models.functions import Cast, Concat

from .demo import ENGLISH_NAMES, HOSPITAL, REFERENCE_DATE, chinese_name
from .enums import EmploymentStatus, Language, Role
from .models import Department, Employee, Organisation, Position, RoleAssignment

MAX_EMPLOYEES = 100_000
SEED = 20260101
BATCH = 2000
PEOPLE_PER_WARD = 415
TEAM_MAX = 15
TEAM_TARGET = 13

CAMPUSES = (
    ("东院", "East Campus"),
    ("西院", "West Campus"),
    ("南院", "South Campus"),
    ("北院", "North Campus"),
)
SPECIALTIES = {
    ("心血管中心", "Cardiovascular Centre"): (
        ("心血管内科", "Cardiology"),
        ("心脏外科", "Cardiac Surgery"),
        ("血管外科", "Vascular Surgery"),
        ("心脏康复科", "Cardiac Rehabilitation"),
    ),
    ("肿瘤中心", "Oncology Centre"): (
        ("肿瘤内科", "Medical Oncology"),
        ("放疗科", "Radiotherapy"),
        ("肿瘤外科", "Surgical Oncology"),
        ("血液科", "Haematology"),
    ),
    ("神经医学中心", "Neuroscience Centre"): (
        ("神经内科", "Neurology"),
        ("神经外科", "Neurosurgery"),
        ("精神心理科", "Psychiatry"),
        ("康复医学科", "Rehabilitation Medicine"),
    ),
    ("妇儿中心", "Women and Children's Centre"): (
        ("妇科", "Gynaecology"),
        ("产科", "Obstetrics"),
        ("儿科", "Paediatrics"),
        ("新生儿科", "Neonatology"),
    ),
    ("急危重症中心", "Critical Care Centre"): (
        ("重症医学科", "Intensive Care"),
        ("急诊内科", "Emergency Medicine"),
        ("麻醉科", "Anaesthesiology"),
        ("创伤外科", "Trauma Surgery"),
    ),
}
WARDS = (("一病区", "Ward 1"), ("二病区", "Ward 2"), ("三病区", "Ward 3"))
MAX_WARDS = len(CAMPUSES) * sum(len(s) for s in SPECIALTIES.values()) * len(WARDS)
CAMPUS, CENTRE, SPECIALTY, WARD = 1, 2, 3, 4
DOCTORS = ("ATTEND", "ATTEND", "RESID", "RESID", "RESID")
NURSES = ("NURSE", "NURSE", "NURSE", "SENN", "SENN")


@dataclass(slots=True)
class _Unit:
    code: str
    name: str
    name_en: str
    parent: int  # index into the plan; -1 for the organisation's root department
    level: int


@dataclass(slots=True)
class _Person:
    number: str
    name: str
    unit: int
    position: str
    manager: int  # index into the plan; -1 for the head of the organisation
    level: int
    hire_date: date
    language: str
    left: bool = False
    heads_unit: bool = False


def grow_to(hospital: Organisation, total: int) -> int:
    """Add generated staff to the demo hospital (its positions are used) until the database
    holds about `total` employees, at most 100,000. Returns how many were added; the same
    starting database and total give the same rows.
    """
    missing = min(total, MAX_EMPLOYEES) - Employee.objects.count()
    wards = max(1, min(MAX_WARDS, round(missing / PEOPLE_PER_WARD)))
    units = _plan_units(wards)
    if missing < len(units) * 4:
        return 0
    people = _StaffPlan(random.Random(SEED), units).build(missing)
    with transaction.atomic():
        department_ids = _insert_units(hospital, units)
        _insert_people(hospital, people, department_ids)
    _refresh_statistics()
    return len(people)


def _refresh_statistics() -> None:
    """Without statistics on the new rows both databases sort the whole directory instead of
    walking the department index; VACUUM (not allowed in a transaction) also lets PostgreSQL
    count from the index alone, as it will once autovacuum has passed (bench/README.md)."""
    tables = "auth_user, people_department, people_employee"
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("ANALYZE")
        elif connection.in_atomic_block:
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute(f"VACUUM ANALYZE {tables}")


def _plan_units(wards: int) -> list[_Unit]:
    """Campuses, centres, specialties and wards, parents first, until `wards` wards exist."""
    units: list[_Unit] = []

    def add(code: str, name: str, name_en: str, parent: int, level: int) -> int:
        units.append(_Unit(code, name, name_en, parent, level))
        return len(units) - 1

    for c, (campus, campus_en) in enumerate(CAMPUSES, 1):
        campus_at = add(f"C{c}", f"{campus}区", campus_en, -1, CAMPUS)
        for z, ((centre, centre_en), specialties) in enumerate(SPECIALTIES.items(), 1):
            in_campus_en = f"{campus_en} {centre_en}"
            centre_at = add(f"C{c}Z{z}", campus + centre, in_campus_en, campus_at, CENTRE)
            for d, (specialty, specialty_en) in enumerate(specialties, 1):
                code = f"C{c}Z{z}D{d}"
                name, name_en = campus + specialty, f"{campus_en} {specialty_en}"
                specialty_at = add(code, name, name_en, centre_at, SPECIALTY)
                for w, (ward, ward_en) in enumerate(WARDS, 1):
                    add(f"{code}W{w}", name + ward, f"{name_en} {ward_en}", specialty_at, WARD)
                    wards -= 1
                    if wards == 0:
                        return units
    return units


class _StaffPlan:
    """Who is who: a head for every campus, centre and specialty; a ward head and a head nurse
    per ward; everyone else in teams of 8-15 under them."""

    def __init__(self, rng: random.Random, units: list[_Unit]) -> None:
        self.rng = rng
        self.units = units
        self.people: list[_Person] = []
        self.numbers = iter(range(100_001, 100_001 + MAX_EMPLOYEES))

    def build(self, count: int) -> list[_Person]:
        heads: dict[int, int] = {}
        for at, unit in enumerate(self.units):
            if unit.level != WARD:
                position = "CAMPUS" if unit.level == CAMPUS else "CHIEF"
                heads[at] = self._add(at, position, heads.get(unit.parent, -1))
                self.people[-1].heads_unit = unit.level in (CAMPUS, SPECIALTY)
        wards = [at for at, unit in enumerate(self.units) if unit.level == WARD]
        leads = [
            (
                self._add(w, "ASSOC", heads[self.units[w].parent]),
                self._add(w, "HEADN", heads[self.units[w].parent]),
            )
            for w in wards
        ]
        staff = count - len(self.people)
        for n, (ward, (doctor_lead, nurse_lead)) in enumerate(zip(wards, leads, strict=True)):
            share = _share(staff, len(wards), n)
            doctors = share // 2
            self._team(ward, doctor_lead, doctors, "ASSOC", DOCTORS)
            self._team(ward, nurse_lead, share - doctors, "NIC", NURSES)
        return self.people

    def _team(
        self, unit: int, manager: int, size: int, lead_position: str, positions: Sequence[str]
    ) -> None:
        """`size` people under `manager`: directly when few enough, else under team leads."""
        if size <= TEAM_MAX:
            for _ in range(size):
                self._add(unit, self.rng.choice(positions), manager)
                self.people[-1].left = self.rng.random() < 0.02
            return
        lead_count = min(TEAM_MAX, math.ceil(size / (TEAM_TARGET + 1)))
        rest = size - lead_count
        for n in range(lead_count):
            lead = self._add(unit, lead_position, manager)
            self._team(unit, lead, _share(rest, lead_count, n), lead_position, positions)

    def _add(self, unit: int, position: str, manager: int) -> int:
        english = self.rng.random() < 0.003
        self.people.append(
            _Person(
                number=f"H{next(self.numbers)}",
                name=self.rng.choice(ENGLISH_NAMES) if english else chinese_name(self.rng),
                unit=unit,
                position=position,
                manager=manager,
                level=self.people[manager].level + 1 if manager >= 0 else 0,
                hire_date=REFERENCE_DATE - timedelta(days=self.rng.randint(60, 25 * 365)),
                language=Language.EN if english else Language.ZH_HANS,
            )
        )
        return len(self.people) - 1


def _share(total: int, parts: int, n: int) -> int:
    return total // parts + (1 if n < total % parts else 0)


def _insert_units(organisation: Organisation, units: list[_Unit]) -> list[int]:
    """Departments a level at a time; returns their ids in plan order."""
    root = Department.objects.get(organisation=organisation, parent=None)
    ids = [0] * len(units)
    paths = [""] * len(units)
    for level in sorted({unit.level for unit in units}):
        at = [i for i, unit in enumerate(units) if unit.level == level]
        rows = [
            Department(
                organisation=organisation,
                code=units[i].code,
                name=units[i].name,
                name_en=units[i].name_en,
                parent_id=ids[units[i].parent] if units[i].parent >= 0 else root.pk,
                # The parent's full path; the row's own id is appended once it is known.
                path=paths[units[i].parent] if units[i].parent >= 0 else root.path,
                depth=root.depth + level,
            )
            for i in at
        ]
        Department.objects.bulk_create(rows, batch_size=BATCH)
        for i, row in zip(at, rows, strict=True):
            ids[i], paths[i] = row.pk, f"{row.path}{row.pk}/"
    _append_own_id(Department, "path", ids)
    return ids


def _insert_people(organisation: Organisation, people: list[_Person], units: list[int]) -> None:
    """Logins and employees a level of the reporting tree at a time, so managers exist first."""
    rows = _EmployeeRows(organisation, people, units)
    for level in sorted({person.level for person in people}):
        at = [i for i, person in enumerate(people) if person.level == level]
        for start in range(0, len(at), BATCH):
            rows.insert(at[start : start + BATCH])
    _append_own_id(Employee, "manager_path", rows.ids)
    RoleAssignment.objects.bulk_create(
        RoleAssignment(
            organisation=organisation,
            employee_id=rows.ids[i],
            role=Role.DEPARTMENT_HEAD,
            department_id=units[person.unit],
        )
        for i, person in enumerate(people)
        if person.heads_unit
    )


class _EmployeeRows:
    def __init__(self, organisation: Organisation, people: list[_Person], units: list[int]) -> None:
        top = Employee.objects.filter(organisation=organisation, manager=None).order_by("pk")
        self.top = top.first()
        assert self.top is not None, "the organisation has nobody at the top"
        self.organisation = organisation
        self.people = people
        self.units = units
        self.positions = dict(
            Position.objects.filter(organisation=organisation).values_list("code", "pk")
        )
        # One unusable password for every generated login: hashing 100,000 would take hours.
        self.password = make_password(None)
        self.ids = [0] * len(people)
        self.paths = [""] * len(people)

    def insert(self, chunk: list[int]) -> None:
        user_model = get_user_model()
        users = [
            user_model(
                username=f"{self.organisation.slug}-{self.people[i].number}",
                password=self.password,
                is_active=not self.people[i].left,
            )
            for i in chunk
        ]
        user_model.objects.bulk_create(users, batch_size=BATCH)
        rows = [self._row(self.people[i], user.pk) for i, user in zip(chunk, users, strict=True)]
        Employee.objects.bulk_create(rows, batch_size=BATCH)
        for i, row in zip(chunk, rows, strict=True):
            self.ids[i], self.paths[i] = row.pk, f"{row.manager_path}{row.pk}/"

    def _row(self, person: _Person, user_id: int) -> Employee:
        assert self.top is not None
        has_manager = person.manager >= 0
        return Employee(
            organisation=self.organisation,
            user_id=user_id,
            employee_number=person.number,
            name=person.name,
            email=f"{person.number.lower()}@{HOSPITAL.email_domain}",
            department_id=self.units[person.unit],
            position_id=self.positions[person.position],
            manager_id=self.ids[person.manager] if has_manager else self.top.pk,
            # The manager's full path; the row's own id is appended once it is known.
            manager_path=self.paths[person.manager] if has_manager else self.top.manager_path,
            hire_date=person.hire_date,
            language=person.language,
            status=EmploymentStatus.LEFT if person.left else EmploymentStatus.ACTIVE,
            left_on=REFERENCE_DATE - timedelta(days=30) if person.left else None,
        )


def _append_own_id(model: type[Model], field: str, ids: list[int]) -> None:
    """Finish materialised paths ("/1/7/" + "42/") in a few set-based UPDATEs."""
    complete = Concat(F(field), Cast("pk", output_field=CharField()), Value("/"))
    # Chunks of 900 stay below SQLite's limit on query parameters.
    for start in range(0, len(ids), 900):
        model._default_manager.filter(pk__in=ids[start : start + 900]).update(**{field: complete})
