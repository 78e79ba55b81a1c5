"""The organisation: departments (a tree), positions, employees (a reporting tree), roles.

Both trees keep a materialised path ("/1/7/42/") so that "everything below X" is one indexed
prefix query on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from miantan.core.models import TimeStampedModel

from .enums import EmploymentStatus, ImportStatus, Language, Role


def _path_index(name: str, field: str) -> models.Index:
    # varchar_pattern_ops lets PostgreSQL use the index for LIKE 'prefix%' in any collation;
    # other databases ignore the operator class.
    return models.Index(fields=[field], name=name, opclasses=["varchar_pattern_ops"])


class Organisation(TimeStampedModel):
    """The tenant key: every person-related row belongs to exactly one organisation."""

    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    slug = models.SlugField(_("short name"), unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    # Emotion cues for interviewers during talks (records.cues); switched by records.cues.
    talk_cues_enabled = models.BooleanField(_("emotion cues during talks"), default=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Department(TimeStampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="departments"
    )
    code = models.CharField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent department"),
    )
    path = models.CharField(max_length=1000, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="department_code_unique"),
        ]
        indexes = [
            _path_index("department_path_idx", "path"),
            # A plain index too: the pattern index serves LIKE 'prefix%' on PostgreSQL but not
            # ORDER BY path, the people directory's order (bench/README.md).
            models.Index(fields=["path"], name="department_path_order_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str = "zh-hans") -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class Position(TimeStampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="positions"
    )
    code = models.CharField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="position_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def display_name(self, language: str = "zh-hans") -> str:
        return self.name_en if language == "en" and self.name_en else self.name


class Employee(TimeStampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="employees"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="employee",
        verbose_name=_("login"),
    )
    employee_number = models.CharField(_("employee number"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="employees", verbose_name=_("department")
    )
    position = models.ForeignKey(
        Position,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="employees",
        verbose_name=_("position"),
    )
    manager = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="direct_reports",
        verbose_name=_("manager"),
    )
    # The reporting line from the top down to this employee, ids only: "/3/17/42/".
    manager_path = models.CharField(max_length=1000, editable=False, default="")
    hire_date = models.DateField(_("hire date"), null=True, blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EmploymentStatus.choices,
        default=EmploymentStatus.ACTIVE,
    )
    left_on = models.DateField(_("left on"), null=True, blank=True)

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        ordering = ["employee_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "employee_number"], name="employee_number_unique"
            ),
        ]
        indexes = [
            _path_index("employee_manager_path_idx", "manager_path"),
            # Covering on PostgreSQL: the directory's count and page for a name search read the
            # index alone (index-only scan), not the wide table rows.
            models.Index(
                fields=["organisation", "status", "name"],
                include=["employee_number", "id"],
                name="employee_directory_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.employee_number})"

    @property
    def is_active(self) -> bool:
        return self.status == EmploymentStatus.ACTIVE


class RoleAssignment(TimeStampedModel):
    """One row per role held. Department heads and HR hold it for a department subtree."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(
        Employee,
        on_delete=models.CASCADE,
        related_name="role_assignments",
        verbose_name=_("employee"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    department = models.ForeignKey(
        Department,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="role_assignments",
        verbose_name=_("department (scope)"),
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["employee", "role", "department"], name="role_assignment_unique"
            ),
            models.UniqueConstraint(
                fields=["employee", "role"],
                condition=models.Q(department__isnull=True),
                name="role_assignment_unscoped_unique",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=["department_head", "hr"], department__isnull=False)
                    | models.Q(role__in=["executive", "admin"], department__isnull=True)
                ),
                name="role_assignment_scope_matches_role",
            ),
        ]

    def __str__(self) -> str:
        scope = f" @ {self.department}" if self.department_id else ""
        return f"{self.employee}: {self.get_role_display()}{scope}"


class OrgImport(TimeStampedModel):
    """One uploaded organisation file and what became of it (progress, report, changes)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file = models.FileField(_("file"), upload_to="imports/org/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    # {"errors": [{"row": 7, "column": "上级工号", "message": "..."}], "changes": {...}}
    report = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker's lease (core/leases.py): an attempt whose lease runs out is taken back.
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Who agreed to the departments placed by the reporting line (status "checked" → pending).
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("organisation import")
        verbose_name_plural = _("organisation imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status in {ImportStatus.DONE, ImportStatus.REJECTED} else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))
