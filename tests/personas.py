"""The people every test talks about.

The hospital (市第一人民医院):

    市第一人民医院 (root)            executive 钱进 (no reports), HR partner 孙丽 (hr on the root)
    ├── 人力资源部                    孙丽, HR partner 陈静 (hr on 心内科 only)
    ├── 信息科                        admin 郑毅
    ├── 内科
    │   └── 心内科                    head 张伟 (department_head on 心内科), doctor 李明 → 张伟
    │       └── 心内科护理组          head nurse 周敏 → 张伟, nurse 王芳 → 周敏
    └── 急诊科                        赵强 (unrelated to everyone above, no manager)

A second organisation (星河科技) has one department and one employee, 冯涛, for cross-tenant
tests. Every login's password is `factories.PASSWORD`.
"""

from __future__ import annotations

from dataclasses import dataclass

from miantan.people.enums import Role
from miantan.people.models import Department, Employee, Organisation
from tests.factories import (
    DepartmentFactory,
    EmployeeFactory,
    OrganisationFactory,
    PositionFactory,
    RoleAssignmentFactory,
)


@dataclass(frozen=True)
class Hospital:
    organisation: Organisation
    root: Department
    hr_department: Department
    it: Department
    internal_medicine: Department
    cardiology: Department
    cardiology_nursing: Department
    emergency: Department
    hr_partner: Employee
    hr_cardiology: Employee
    head: Employee
    doctor_li: Employee
    head_nurse: Employee
    nurse_wang: Employee
    zhao: Employee
    executive: Employee
    admin: Employee

    def by_role(self, role: str) -> Employee:
        """The persona that stands for a role in the permission table."""
        return {
            "employee": self.doctor_li,
            "manager": self.head_nurse,
            "department head": self.head,
            "HR": self.hr_partner,
            "executive": self.executive,
            "admin": self.admin,
            "department HR": self.hr_cardiology,
            "nurse": self.nurse_wang,
        }[role]


@dataclass(frozen=True)
class OtherOrganisation:
    organisation: Organisation
    department: Department
    employee: Employee


def build_hospital() -> Hospital:
    org = OrganisationFactory(
        name="市第一人民医院", name_en="First People's Hospital", slug="hospital"
    )
    root = DepartmentFactory(organisation=org, code="H", name="市第一人民医院", name_en="Hospital")
    hr_department = DepartmentFactory(parent=root, code="HR", name="人力资源部", name_en="HR")
    it = DepartmentFactory(parent=root, code="IT", name="信息科", name_en="IT")
    internal_medicine = DepartmentFactory(
        parent=root, code="NK", name="内科", name_en="Internal Medicine"
    )
    cardiology = DepartmentFactory(
        parent=internal_medicine, code="XNK", name="心内科", name_en="Cardiology"
    )
    cardiology_nursing = DepartmentFactory(
        parent=cardiology, code="XNK-HL", name="心内科护理组", name_en="Cardiology Nursing"
    )
    emergency = DepartmentFactory(parent=root, code="JZK", name="急诊科", name_en="Emergency")
    physician = PositionFactory(organisation=org, code="ZR", name="主任医师", name_en="Chief")
    doctor = PositionFactory(organisation=org, code="YS", name="医生", name_en="Doctor")
    nurse = PositionFactory(organisation=org, code="HS", name="护士", name_en="Nurse")

    def person(number: str, name: str, username: str, department: Department, **extra: object):
        return EmployeeFactory(
            department=department,
            employee_number=number,
            name=name,
            username=username,
            **extra,
        )

    executive = person("H0001", "钱进", "exec.qian", root)
    hr_partner = person("H0002", "孙丽", "hr.sun", hr_department)
    admin = person("H0003", "郑毅", "admin.zheng", it)
    hr_cardiology = person("H0004", "陈静", "hr.chen", hr_department)
    head = person("H0010", "张伟", "head.zhang", cardiology, position=physician)
    doctor_li = person("H0011", "李明", "doctor.li", cardiology, position=doctor, manager=head)
    head_nurse = person("H0012", "周敏", "headnurse.zhou", cardiology_nursing, manager=head)
    nurse_wang = person(
        "H0013", "王芳", "nurse.wang", cardiology_nursing, position=nurse, manager=head_nurse
    )
    zhao = person("H0020", "赵强", "zhao", emergency, position=doctor)

    RoleAssignmentFactory(employee=executive, role=Role.EXECUTIVE)
    RoleAssignmentFactory(employee=hr_partner, role=Role.HR, department=root)
    RoleAssignmentFactory(employee=admin, role=Role.ADMIN)
    RoleAssignmentFactory(employee=hr_cardiology, role=Role.HR, department=cardiology)
    RoleAssignmentFactory(employee=head, role=Role.DEPARTMENT_HEAD, department=cardiology)
    return Hospital(
        organisation=org,
        root=root,
        hr_department=hr_department,
        it=it,
        internal_medicine=internal_medicine,
        cardiology=cardiology,
        cardiology_nursing=cardiology_nursing,
        emergency=emergency,
        hr_partner=_fresh(hr_partner),
        hr_cardiology=_fresh(hr_cardiology),
        head=_fresh(head),
        doctor_li=_fresh(doctor_li),
        head_nurse=_fresh(head_nurse),
        nurse_wang=_fresh(nurse_wang),
        zhao=_fresh(zhao),
        executive=_fresh(executive),
        admin=_fresh(admin),
    )


def build_other_organisation() -> OtherOrganisation:
    org = OrganisationFactory(name="星河科技", name_en="Xinghe Tech", slug="xinghe")
    department = DepartmentFactory(organisation=org, code="RD", name="研发部", name_en="R&D")
    employee = EmployeeFactory(
        department=department, employee_number="X0001", name="冯涛", username="feng"
    )
    RoleAssignmentFactory(employee=employee, role=Role.HR, department=department)
    RoleAssignmentFactory(employee=employee, role=Role.ADMIN)
    return OtherOrganisation(organisation=org, department=department, employee=_fresh(employee))


def _fresh(employee: Employee) -> Employee:
    """Reload so staff flags set by role assignments are on the user object the tests hold."""
    return Employee.objects.select_related("user", "department", "organisation").get(pk=employee.pk)
