"""HR and administrators import the organisation from a spreadsheet and follow its progress."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError
from miantan.core.leases import max_attempts
from miantan.people.enums import EmploymentStatus, ImportStatus, Language
from miantan.people.importing import (
    access_org_import,
    confirm_org_import,
    discard_org_import,
    org_imports_visible_to,
    start_org_import,
    take_back_stalled_org_imports,
)
from miantan.people.models import OrgImport
from miantan.people.org_file import HEADERS
from miantan.people.scopes import scope_for

from .spreadsheets import (
    SpreadsheetForm,
    column_help,
    csv_response,
    excel_safe,
    require_org_manager,
)

MAX_UPLOAD_MB = 10
RECENT_IMPORTS = 20
CHANGES_SHOWN = 500

FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "email": gettext_lazy("E-mail"),
    "department": gettext_lazy("Department"),
    "position": gettext_lazy("Position"),
    "manager": gettext_lazy("Manager"),
    "hire_date": gettext_lazy("Hire date"),
    "language": gettext_lazy("Language"),
    "status": gettext_lazy("Status"),
}

# The columns as the upload page explains them: (field, required, what goes in).
COLUMNS = [
    ("employee_number", True, gettext_lazy("Matches the row to an employee; never changes.")),
    ("name", True, ""),
    (
        "department",
        True,
        gettext_lazy(
            "Department code or name (科室 works too). Instead, a column 部门编码 may give the "
            "code. A department that does not exist yet is created."
        ),
    ),
    (
        "parent_department",
        False,
        gettext_lazy(
            "Only for a department that does not exist yet: it is created below this one. "
            "Without it, the reporting line decides, and you confirm the result first."
        ),
    ),
    ("manager_number", False, gettext_lazy("Employee number of the manager; empty for the top.")),
    (
        "manager_name",
        False,
        gettext_lazy(
            "The manager's name, as rosters give it (直属上级), where no manager number is "
            "given; it must name one person."
        ),
    ),
    ("position", False, gettext_lazy("Position code or name; a new name creates the position.")),
    (
        "hire_date",
        False,
        gettext_lazy("2024-01-05, 2024/1/5, 2024年1月5日, 20240105 or a date cell."),
    ),
    ("email", False, ""),
    ("language", False, gettext_lazy("中文 or English; empty keeps the current one.")),
    ("status", False, gettext_lazy("在职 (active) or 离职 (left); empty keeps the current one.")),
]
TEMPLATE_FIELDS = [name for name, _required, _hint in COLUMNS]


class OrgImportForm(SpreadsheetForm):
    max_mb = MAX_UPLOAD_MB


@login_required
def org_import(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    _take_back_stalled(request)
    form = OrgImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        employee = scope_for(request.user).employee
        assert employee is not None  # can_import_org needs an employee
        started = start_org_import(
            employee.organisation, upload=upload, original_name=upload.name, actor=request.user
        )
        return redirect("web:org_import_detail", import_id=started.pk)
    imports = org_imports_visible_to(request.user).order_by("-created_at")[:RECENT_IMPORTS]
    columns = column_help(COLUMNS, HEADERS)
    return render(
        request,
        "web/org_import.html",
        {"form": form, "imports": imports, "columns": columns, "max_mb": MAX_UPLOAD_MB},
    )


@login_required
def org_import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    require_org_manager(request)
    _take_back_stalled(request)
    found = access_org_import(request.user, import_id)
    partial = bool(request.headers.get("HX-Request"))
    template = "web/_org_import_progress.html" if partial else "web/org_import_detail.html"
    return render(request, template, {"org_import": found, **_report(found)})


@login_required
@require_POST
def org_import_confirm(request: HttpRequest, import_id: int) -> HttpResponse:
    """HR agrees to the departments placed by the reporting line; the import applies."""
    require_org_manager(request)
    found = access_org_import(request.user, import_id)
    try:
        confirm_org_import(found, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    return redirect("web:org_import_detail", import_id=found.pk)


@login_required
@require_POST
def org_import_discard(request: HttpRequest, import_id: int) -> HttpResponse:
    require_org_manager(request)
    found = access_org_import(request.user, import_id)
    try:
        discard_org_import(found, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The import was discarded; nothing was changed."))
    return redirect("web:org_import_detail", import_id=found.pk)


@login_required
def org_import_report(request: HttpRequest, import_id: int) -> HttpResponse:
    """The problems (or, after a successful import, the changes) as CSV that Excel opens."""
    require_org_manager(request)
    found = access_org_import(request.user, import_id)
    response = csv_response(f"org-import-{found.pk}-report.csv")
    writer = csv.writer(response)
    errors = found.report.get("errors", [])
    if errors or found.status != "done":
        writer.writerow([_("Row"), _("Column"), _("Problem")])
        for error in errors:
            writer.writerow(excel_safe([error["row"] or "", error["column"], error["message"]]))
        return response
    writer.writerow(
        [_("Employee number"), _("Name"), _("Change"), _("Field"), _("Before"), _("After")]
    )
    for change in _changes(found.report.get("changes", [])):
        for label, old, new in change["fields"] or [("", "", "")]:
            row = [change["employee_number"], change["name"], change["action"], label, old, new]
            writer.writerow(excel_safe(row))
    return response


@login_required
def org_import_template(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    response = csv_response("org-import-template.csv")
    csv.writer(response).writerow([HEADERS[name][0] for name in TEMPLATE_FIELDS])
    return response


def _take_back_stalled(request: HttpRequest) -> None:
    """An import whose worker stopped shows as retried or failed, not as running forever."""
    organisation_id = scope_for(request.user).organisation_id
    if organisation_id is not None:
        take_back_stalled_org_imports(organisation_id)


def _report(found: OrgImport) -> dict[str, Any]:
    changes = found.report.get("changes", [])
    return {
        "errors": found.report.get("errors", []),
        "summary": found.report.get("summary", {}),
        "changes": _changes(changes[:CHANGES_SHOWN]),
        "changes_not_shown": max(0, len(changes) - CHANGES_SHOWN),
        "ignored_columns": found.report.get("ignored_columns", []),
        "in_progress": found.status in (ImportStatus.PENDING, ImportStatus.RUNNING),
        "awaiting_confirmation": found.status == ImportStatus.CHECKED,
        "departments": found.report.get("departments", []),
        "reconfirm": found.report.get("reconfirm", False),
        "header_row": found.report.get("header_row"),
        "rows_above": found.report.get("rows_above", []),
        "rows_after": found.report.get("rows_after", []),
        "rows_not_read": len(found.report.get("rows_above", []))
        + len(found.report.get("rows_after", [])),
        # An attempt before this one was interrupted (its worker stopped).
        "retrying": found.attempts > (1 if found.status == ImportStatus.RUNNING else 0)
        and found.status in (ImportStatus.PENDING, ImportStatus.RUNNING),
        "attempt": found.attempts + (1 if found.status == ImportStatus.PENDING else 0),
        "max_attempts": max_attempts(),
    }


def _changes(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    action_labels = {
        "created": pgettext_lazy("org import change", "new"),
        "updated": pgettext_lazy("org import change", "changed"),
    }
    return [
        {
            "employee_number": change["employee_number"],
            "name": change["name"],
            "action": str(action_labels.get(change["action"], change["action"])),
            "fields": [
                (str(FIELD_LABELS.get(name, name)), _value(name, old), _value(name, new))
                for name, (old, new) in change["fields"].items()
            ],
        }
        for change in changes
    ]


def _value(field: str, value: str) -> str:
    choices = {"status": EmploymentStatus, "language": Language}.get(field)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    return value
