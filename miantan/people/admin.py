"""The technical admin site: the organisation's structure and the role table.

Administrators (role "admin") are staff, not superusers: every model admin here limits them to
their own organisation. Employee records are deliberately not registered: personal data is read
only through the scoped, audited pages and API.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import Department, Organisation, Position, RoleAssignment
from .rules import is_admin
from .scopes import scope_for
from .services import assign_role, revoke_role


class OrganisationScopedAdmin(admin.ModelAdmin):
    """Open to organisation administrators and installation superusers, each within their reach."""

    organisation_field = "organisation"

    def _allowed(self, request: HttpRequest) -> bool:
        return bool(
            request.user.is_active and (request.user.is_superuser or is_admin.test(request.user))
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.organisation_field: scope_for(request.user).organisation_id})


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin):
    organisation_field = "pk"
    list_display = ["name", "slug", "time_zone"]
    # Switched on HR's record templates page, where the change is audited (records.cues).
    readonly_fields = ["talk_cues_enabled"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Department)
class DepartmentAdmin(OrganisationScopedAdmin):
    list_display = ["name", "code", "parent", "depth"]
    search_fields = ["name", "code"]
    readonly_fields = ["organisation", "path", "depth", "parent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # New departments come from the organisation import, which keeps the tree consistent.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Position)
class PositionAdmin(OrganisationScopedAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]
    readonly_fields = ["organisation"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(OrganisationScopedAdmin):
    list_display = ["employee", "role", "department", "created_at"]
    list_filter = ["role"]
    raw_id_fields = ["employee", "department"]
    fields = ["employee", "role", "department"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A role is granted or revoked, never edited in place: both go through the services,
        # which audit the change and keep the admin-site access flag in step.
        return False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        own_organisation = (
            None if request.user.is_superuser else scope_for(request.user).organisation_id
        )

        class ScopedForm(form):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean()
                employee = data.get("employee")
                department = data.get("department")
                if employee is not None and own_organisation not in (
                    None,
                    employee.organisation_id,
                ):
                    raise ValidationError(_("The employee belongs to another organisation."))
                if (
                    employee is not None
                    and department is not None
                    and (department.organisation_id != employee.organisation_id)
                ):
                    raise ValidationError(_("The department belongs to another organisation."))
                return data

        return ScopedForm

    def save_model(
        self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool
    ) -> None:
        # The form has checked organisation, scope and uniqueness; the service audits the grant.
        saved = assign_role(
            obj.employee, role=obj.role, department=obj.department, actor=request.user
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        revoke_role(obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleAssignment]) -> None:
        for assignment in queryset.select_related("employee"):
            revoke_role(assignment, actor=request.user)
