"""The demo organisations: a hospital and a manufacturing company, built the same way every time.

Everything here goes through the people services, so every row has its audit event. Benchmark
staff (`seed_demo --employees N`) is added by demo_bulk.py with bulk inserts and is not audited.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from miantan.audit.services import record

from .enums import Language, Role
from .models import Department, Employee, Organisation, Position
from .services import assign_role, create_department, create_employee, mark_left

DEMO_PASSWORD = "miantan-demo-2026"  # noqa: S105 - documented demo password, not a secret
# Hire dates count back from this day, so the data never depends on when it is built.
REFERENCE_DATE = date(2026, 1, 1)


@dataclass(frozen=True)
class PersonSpec:
    """A named person. A username makes them a demo login; roles are (role, department code)."""

    key: str
    name: str
    department: str
    position: str
    manager: str | None = None
    username: str = ""
    login_label: str = ""
    roles: tuple[tuple[str, str | None], ...] = ()
    language: str = Language.ZH_HANS
    left: bool = False


@dataclass(frozen=True)
class StaffSpec:
    """A group of colleagues with generated names under one manager."""

    department: str
    manager: str
    positions: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class OrganisationSpec:
    """Departments are (code, name, English name, parent code); positions (code, name, English
    name); people are created in order, so a manager comes before their reports."""

    slug: str
    name: str
    name_en: str
    number_prefix: str
    email_domain: str
    seed: int
    departments: tuple[tuple[str, str, str, str | None], ...]
    positions: tuple[tuple[str, str, str], ...]
    people: tuple[PersonSpec, ...]
    staff: tuple[StaffSpec, ...] = field(default=())


HEAD, HR, EXEC, ADMIN = Role.DEPARTMENT_HEAD, Role.HR, Role.EXECUTIVE, Role.ADMIN

HOSPITAL = OrganisationSpec(
    slug="hospital",
    name="仁和医院",
    name_en="Renhe Hospital",
    number_prefix="H",
    email_domain="renhe-hospital.example",
    seed=1,
    departments=(
        ("RH", "院部", "Hospital Administration", None),
        ("IM", "内科", "Internal Medicine", "RH"),
        ("CARD", "心内科", "Cardiology", "IM"),
        ("GAST", "消化内科", "Gastroenterology", "IM"),
        ("SURG", "外科", "Surgery", "RH"),
        ("GS", "普外科", "General Surgery", "SURG"),
        ("ER", "急诊科", "Emergency Department", "RH"),
        ("NURS", "护理部", "Nursing Department", "RH"),
        ("N-CARD", "心内科护理组", "Cardiology Nursing Team", "NURS"),
        ("N-ER", "急诊护理组", "Emergency Nursing Team", "NURS"),
        ("HR", "人力资源部", "Human Resources", "RH"),
        ("IT", "信息科", "Information Technology", "RH"),
    ),
    positions=(
        ("PRES", "院长", "President"),
        ("VP", "副院长", "Vice President"),
        ("CAMPUS", "院区执行院长", "Campus Director"),
        ("CHIEF", "主任医师", "Chief Physician"),
        ("ASSOC", "副主任医师", "Associate Chief Physician"),
        ("ATTEND", "主治医师", "Attending Physician"),
        ("RESID", "住院医师", "Resident Physician"),
        ("DON", "护理部主任", "Director of Nursing"),
        ("HEADN", "护士长", "Head Nurse"),
        ("NIC", "主管护师", "Nurse in Charge"),
        ("SENN", "护师", "Senior Nurse"),
        ("NURSE", "护士", "Nurse"),
        ("HRM", "人力资源经理", "HR Manager"),
        ("HRS", "人力资源专员", "HR Specialist"),
        ("ITM", "信息科科长", "Head of IT"),
        ("ITE", "信息工程师", "IT Engineer"),
    ),
    people=(
        PersonSpec("president", "周建国", "RH", "PRES"),
        PersonSpec(
            "hr",
            "刘芳",
            "HR",
            "HRM",
            "president",
            "h.hr",
            "HR partner, whole hospital",
            roles=((HR, "RH"),),
        ),
        PersonSpec("im_head", "吴志强", "IM", "CHIEF", "president", roles=((HEAD, "IM"),)),
        PersonSpec(
            "card_head",
            "陈国栋",
            "CARD",
            "CHIEF",
            "im_head",
            "h.head.cardiology",
            "department head, 心内科",
            roles=((HEAD, "CARD"),),
        ),
        PersonSpec(
            "li", "李明远", "CARD", "ATTEND", "card_head", "h.doctor.li", "employee, doctor"
        ),
        PersonSpec(
            "carter",
            "Emily Carter",
            "CARD",
            "ATTEND",
            "card_head",
            "h.doctor.carter",
            "employee, English UI",
            language=Language.EN,
        ),
        PersonSpec("gast_head", "郑海涛", "GAST", "CHIEF", "im_head", roles=((HEAD, "GAST"),)),
        PersonSpec("surg_head", "何振华", "SURG", "CHIEF", "president", roles=((HEAD, "SURG"),)),
        PersonSpec("gs_head", "冯立新", "GS", "CHIEF", "surg_head", roles=((HEAD, "GS"),)),
        PersonSpec(
            "zhao",
            "赵磊",
            "GS",
            "RESID",
            "gs_head",
            "h.doctor.zhao",
            "employee, another department",
        ),
        PersonSpec("er_head", "曹永刚", "ER", "CHIEF", "president", roles=((HEAD, "ER"),)),
        PersonSpec("don", "林秀英", "NURS", "DON", "president", roles=((HEAD, "NURS"),)),
        PersonSpec(
            "hn_card",
            "张丽",
            "N-CARD",
            "HEADN",
            "don",
            "h.headnurse.zhang",
            "manager, head nurse with a team",
        ),
        PersonSpec(
            "wang", "王晓燕", "N-CARD", "NURSE", "hn_card", "h.nurse.wang", "employee, nurse"
        ),
        PersonSpec("hn_er", "邓秀梅", "N-ER", "HEADN", "don"),
        PersonSpec(
            "it_head",
            "马骏",
            "IT",
            "ITM",
            "president",
            "h.admin",
            "administrator",
            roles=((ADMIN, None),),
        ),
        PersonSpec(
            "exec", "孙丽华", "RH", "VP", "president", "h.exec", "executive", roles=((EXEC, None),)
        ),
        PersonSpec("left_nurse", "韩雪", "N-CARD", "NURSE", "hn_card", left=True),
    ),
    staff=(
        StaffSpec("CARD", "card_head", (("ASSOC", 2), ("ATTEND", 4), ("RESID", 6))),
        StaffSpec("GAST", "gast_head", (("ASSOC", 2), ("ATTEND", 4), ("RESID", 5))),
        StaffSpec("GS", "gs_head", (("ASSOC", 2), ("ATTEND", 4), ("RESID", 6))),
        StaffSpec("ER", "er_head", (("ASSOC", 2), ("ATTEND", 5), ("RESID", 6))),
        StaffSpec("N-CARD", "hn_card", (("NIC", 3), ("SENN", 5), ("NURSE", 8))),
        StaffSpec("N-ER", "hn_er", (("NIC", 3), ("SENN", 5), ("NURSE", 9))),
        StaffSpec("HR", "hr", (("HRS", 4),)),
        StaffSpec("IT", "it_head", (("ITE", 3),)),
    ),
)

FACTORY = OrganisationSpec(
    slug="factory",
    name="华星智造",
    name_en="Huaxing Manufacturing",
    number_prefix="F",
    email_domain="huaxing-mfg.example",
    seed=2,
    departments=(
        ("HX", "总经办", "General Manager's Office", None),
        ("RD", "研发中心", "R&D Centre", "HX"),
        ("SW", "软件组", "Software Team", "RD"),
        ("HW", "硬件组", "Hardware Team", "RD"),
        ("PROD", "生产部", "Production", "HX"),
        ("WS1", "一车间", "Workshop 1", "PROD"),
        ("WS2", "二车间", "Workshop 2", "PROD"),
        ("QA", "质量部", "Quality", "HX"),
        ("SALES", "销售部", "Sales", "HX"),
        ("HR", "人力资源部", "Human Resources", "HX"),
    ),
    positions=(
        ("GM", "总经理", "General Manager"),
        ("DGM", "副总经理", "Deputy General Manager"),
        ("ITA", "IT管理员", "IT Administrator"),
        ("RDD", "研发总监", "R&D Director"),
        ("SWL", "软件组长", "Software Team Lead"),
        ("HWL", "硬件组长", "Hardware Team Lead"),
        ("SWE", "软件工程师", "Software Engineer"),
        ("HWE", "硬件工程师", "Hardware Engineer"),
        ("PM", "生产经理", "Production Manager"),
        ("WSS", "车间主任", "Workshop Supervisor"),
        ("TL", "班组长", "Team Leader"),
        ("OP", "操作工", "Line Operator"),
        ("QM", "质量经理", "Quality Manager"),
        ("QE", "质量工程师", "Quality Engineer"),
        ("QI", "质检员", "Quality Inspector"),
        ("SM", "销售经理", "Sales Manager"),
        ("SR", "销售代表", "Sales Representative"),
        ("HRM", "人力资源经理", "HR Manager"),
        ("HRS", "人力资源专员", "HR Specialist"),
    ),
    people=(
        PersonSpec("gm", "黄伟", "HX", "GM"),
        PersonSpec(
            "hr",
            "唐敏",
            "HR",
            "HRM",
            "gm",
            "f.hr",
            "HR partner, whole company",
            roles=((HR, "HX"),),
        ),
        PersonSpec("rd_head", "高峰", "RD", "RDD", "gm", roles=((HEAD, "RD"),)),
        PersonSpec("sw_lead", "彭宇航", "SW", "SWL", "rd_head"),
        PersonSpec(
            "miller",
            "David Miller",
            "SW",
            "SWE",
            "sw_lead",
            "f.engineer.miller",
            "employee, English UI",
            language=Language.EN,
        ),
        PersonSpec("hw_lead", "谢志明", "HW", "HWL", "rd_head"),
        PersonSpec(
            "prod_head",
            "罗建军",
            "PROD",
            "PM",
            "gm",
            "f.head.production",
            "department head, 生产部",
            roles=((HEAD, "PROD"),),
        ),
        PersonSpec("ws1_head", "董国强", "WS1", "WSS", "prod_head"),
        PersonSpec(
            "liang",
            "梁志勇",
            "WS1",
            "TL",
            "ws1_head",
            "f.teamlead.liang",
            "manager, team leader with a team",
        ),
        PersonSpec(
            "song", "宋小龙", "WS1", "OP", "liang", "f.worker.song", "employee, line operator"
        ),
        PersonSpec("ws1_tl", "潘建华", "WS1", "TL", "ws1_head"),
        PersonSpec("ws2_head", "田卫东", "WS2", "WSS", "prod_head"),
        PersonSpec("ws2_tl1", "蒋红梅", "WS2", "TL", "ws2_head"),
        PersonSpec("ws2_tl2", "韦志刚", "WS2", "TL", "ws2_head"),
        PersonSpec("qa_head", "袁丽萍", "QA", "QM", "gm"),
        PersonSpec("sales_head", "钟海燕", "SALES", "SM", "gm"),
        PersonSpec(
            "admin", "许文博", "HX", "ITA", "gm", "f.admin", "administrator", roles=((ADMIN, None),)
        ),
        PersonSpec("exec", "徐静", "HX", "DGM", "gm", "f.exec", "executive", roles=((EXEC, None),)),
        PersonSpec("left_op", "姚军", "WS2", "OP", "ws2_tl1", left=True),
    ),
    staff=(
        StaffSpec("SW", "sw_lead", (("SWE", 6),)),
        StaffSpec("HW", "hw_lead", (("HWE", 5),)),
        StaffSpec("WS1", "liang", (("OP", 11),)),
        StaffSpec("WS1", "ws1_tl", (("OP", 10),)),
        StaffSpec("WS2", "ws2_tl1", (("OP", 10),)),
        StaffSpec("WS2", "ws2_tl2", (("OP", 9),)),
        StaffSpec("QA", "qa_head", (("QE", 2), ("QI", 4))),
        StaffSpec("SALES", "sales_head", (("SR", 7),)),
        StaffSpec("HR", "hr", (("HRS", 2),)),
    ),
)

ORGANISATIONS = (HOSPITAL, FACTORY)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红燕鹏辉建文斌宇浩凯晨欣怡婷雪琳晶颖"
    "慧佳嘉梓思雨俊博天宏志海晓春秋云月兰梅峰波鑫亮健鸿瑞泽宁安心悦诗雅蕾倩子一凡"
)
ENGLISH_NAMES = ("Anna Becker", "James Wilson", "Sofia Rossi", "Lucas Martin", "Maria Santos")


@dataclass(frozen=True)
class DemoLogin:
    organisation: OrganisationSpec
    person: PersonSpec


# The order in which `demo_logins` lists each organisation's logins (by their label).
LOGIN_ORDER = ("HR partner", "department head", "manager", "employee", "executive", "admin")


def demo_logins() -> list[DemoLogin]:
    logins = [DemoLogin(org, p) for org in ORGANISATIONS for p in org.people if p.username]
    return sorted(logins, key=_listing_order)


def _listing_order(login: DemoLogin) -> tuple[int, int]:
    label = login.person.login_label
    kind = next(n for n, prefix in enumerate(LOGIN_ORDER) if label.startswith(prefix))
    return ORGANISATIONS.index(login.organisation), kind


def seed_demo(*, password: str = DEMO_PASSWORD) -> list[Organisation]:
    """Build both demo organisations in one transaction; the demo logins get `password`."""
    with transaction.atomic():
        built = [build_organisation(spec) for spec in ORGANISATIONS]
        usernames = [login.person.username for login in demo_logins()]
        # One hash for all demo logins: hashing each with argon2 would slow `make run` down.
        get_user_model().objects.filter(username__in=usernames).update(
            password=make_password(password)
        )
    return built


def build_organisation(spec: OrganisationSpec) -> Organisation:
    org = Organisation.objects.create(name=spec.name, name_en=spec.name_en, slug=spec.slug)
    record("people.organisation.created", actor=None, obj=org, organisation_id=org.pk)
    _Builder(spec, org).build()
    return org


class _Builder:
    """Creates one organisation's departments, positions and people, in the spec's order."""

    def __init__(self, spec: OrganisationSpec, org: Organisation) -> None:
        self.spec = spec
        self.org = org
        self.rng = random.Random(spec.seed)
        self.numbers = (f"{spec.number_prefix}{n:04d}" for n in range(1, 10_000))
        self.taken = {p.name for p in spec.people}
        self.departments: dict[str, Department] = {}
        self.positions: dict[str, Position] = {}
        self.people: dict[str, Employee] = {}

    def build(self) -> None:
        for code, name, name_en, parent in self.spec.departments:
            self.departments[code] = create_department(
                self.org, code=code, name=name, name_en=name_en, parent=self._department(parent)
            )
        for code, name, name_en in self.spec.positions:
            self.positions[code] = _create_position(self.org, code, name, name_en)
        for person in self.spec.people:
            self._add_person(person)
        for group in self.spec.staff:
            for position, count in group.positions:
                for _ in range(count):
                    name = _unique_name(self.rng, self.taken)
                    self._hire(name, group.department, position, self.people[group.manager])

    def _add_person(self, p: PersonSpec) -> None:
        manager = self.people[p.manager] if p.manager else None
        employee = self._hire(
            p.name, p.department, p.position, manager, language=p.language, username=p.username
        )
        self.people[p.key] = employee
        for role, scope in p.roles:
            assign_role(employee, role=role, department=self._department(scope), actor=None)
        if p.left:
            mark_left(employee, left_on=REFERENCE_DATE - timedelta(days=20), actor=None)

    def _hire(
        self,
        name: str,
        department: str,
        position: str,
        manager: Employee | None,
        *,
        language: str = Language.ZH_HANS,
        username: str = "",
    ) -> Employee:
        number = next(self.numbers)
        return create_employee(
            self.org,
            employee_number=number,
            name=name,
            department=self.departments[department],
            position=self.positions[position],
            manager=manager,
            hire_date=_hire_date(self.rng),
            email=f"{number.lower()}@{self.spec.email_domain}",
            language=language,
            username=username or None,
        )

    def _department(self, code: str | None) -> Department | None:
        return self.departments[code] if code else None


def _create_position(org: Organisation, code: str, name: str, name_en: str) -> Position:
    position = Position.objects.create(organisation=org, code=code, name=name, name_en=name_en)
    record(
        "people.position.created",
        actor=None,
        obj=position,
        organisation_id=org.pk,
        data={"code": code, "name": name},
    )
    return position


def _hire_date(rng: random.Random) -> date:
    return REFERENCE_DATE - timedelta(days=rng.randint(60, 25 * 365))


def chinese_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _unique_name(rng: random.Random, taken: set[str]) -> str:
    while (name := chinese_name(rng)) in taken:
        pass
    taken.add(name)
    return name
