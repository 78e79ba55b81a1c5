"""The technical admin site shows the organisation's structure and the role table.

Employee records are deliberately not registered: personal data is read only through the
scoped, audited pages and API.
"""

from django.contrib import admin

from .models import Department, Organisation, Position, RoleAssignment


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
