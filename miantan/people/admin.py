"""The technical admin site shows the organisation's structure and the role table.

Employee records are deliberately not registered: personal data is read only through the
scoped, audited pages and API.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from miantan.core.errors import DomainError

from .models import Department, Organisation, Position, RoleAssignment
from .services import assign_role, revoke_role


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "parent", "depth"]
    search_fields = ["name", "code"]
    readonly_fields = ["path", "depth", "parent"]


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["employee", "role", "department", "created_at"]
    list_filter = ["role"]
    raw_id_fields = ["employee", "department"]
    fields = ["employee", "role", "department"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A role is granted or revoked, never edited in place: both go through the services,
        # which audit the change and keep the admin-site access flag in step.
        return False

    def save_model(
        self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool
    ) -> None:
        try:
            saved = assign_role(
                obj.employee, role=obj.role, department=obj.department, actor=request.user
            )
        except DomainError as error:
            raise ValidationError(str(error.message)) from error
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        revoke_role(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleAssignment]) -> None:
        for assignment in queryset.select_related("employee"):
            revoke_role(assignment, actor=request.user)
