"""HR and administrators import KPI values from a spreadsheet and follow its progress."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from miantan.core.leases import max_attempts
from miantan.metrics.enums import ImportStatus
from miantan.metrics.models import MetricsImport
from miantan.metrics.uploads import (
    access_metrics_import,
    metrics_imports_visible_to,
    start_metrics_import,
    take_back_stalled_metrics_imports,
)
from miantan.metrics.values_file import HEADERS
from miantan.people.scopes import scope_for

from .spreadsheets import (
    SpreadsheetForm,
    column_help,
    csv_response,
    excel_safe,
    require_org_manager,
)

MAX_UPLOAD_MB = 200
RECENT_IMPORTS = 20
ERRORS_SHOWN = 200

# The columns as the upload page explains them: (field, required, what goes in).
COLUMNS = [
    ("employee_number", True, gettext_lazy("An employee of the organisation.")),
    ("kpi", True, gettext_lazy("KPI code or name, e.g. outpatient_visits or 门诊量.")),
    (
        "period",
        True,
        gettext_lazy("2026-11, 2026年11月, 2026-Q4, 2026年第4季度, 2026, or a date (its month)."),
    ),
    (
        "value",
        True,
        gettext_lazy(
            "A number within the KPI's valid range. For a per cent KPI: 85, 85%, a "
            "percentage cell, or 0.85 as explained below."
        ),
    ),
    (
        "target",
        False,
        gettext_lazy(
            "This person's target for the period, within the KPI's valid range; empty keeps it."
        ),
    ),
    ("source", False, gettext_lazy("Where the value comes from, e.g. HIS.")),
]


class MetricsImportForm(SpreadsheetForm):
    max_mb = MAX_UPLOAD_MB


@login_required
def metrics_import(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    _take_back_stalled(request)
    form = MetricsImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        employee = scope_for(request.user).employee
        assert employee is not None  # can_import_org needs an employee
        started = start_metrics_import(
            employee.organisation, upload=upload, original_name=upload.name, actor=request.user
        )
        return redirect("web:metrics_import_detail", metrics_import_id=started.pk)
    imports = metrics_imports_visible_to(request.user).order_by("-created_at")[:RECENT_IMPORTS]
    columns = column_help(COLUMNS, HEADERS)
    return render(
        request,
        "web/metrics_import.html",
        {"form": form, "imports": imports, "columns": columns, "max_mb": MAX_UPLOAD_MB},
    )


@login_required
def metrics_import_detail(request: HttpRequest, metrics_import_id: int) -> HttpResponse:
    require_org_manager(request)
    _take_back_stalled(request)
    found = access_metrics_import(request.user, metrics_import_id)
    partial = bool(request.headers.get("HX-Request"))
    template = "web/_metrics_import_progress.html" if partial else "web/metrics_import_detail.html"
    return render(request, template, {"metrics_import": found, **_report(found)})


@login_required
def metrics_import_report(request: HttpRequest, metrics_import_id: int) -> HttpResponse:
    """The problems as CSV that Excel opens (with a byte order mark, so Chinese stays legible)."""
    require_org_manager(request)
    found = access_metrics_import(request.user, metrics_import_id)
    response = csv_response(f"kpi-import-{found.pk}-problems.csv")
    writer = csv.writer(response)
    writer.writerow([_("Row"), _("Column"), _("Problem")])
    for error in found.report.get("errors", []):
        writer.writerow(excel_safe([error["row"] or "", error["column"], error["message"]]))
    return response


@login_required
def metrics_import_template(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    response = csv_response("kpi-import-template.csv")
    csv.writer(response).writerow([HEADERS[name][0] for name, _required, _hint in COLUMNS])
    return response


def _take_back_stalled(request: HttpRequest) -> None:
    """An import whose worker stopped shows as retried or failed, not as running forever."""
    organisation_id = scope_for(request.user).organisation_id
    if organisation_id is not None:
        take_back_stalled_metrics_imports(organisation_id)


def _rows_not_read(found: MetricsImport) -> dict[str, Any]:
    """Titles above the header and notes after the data, and how the attempts went."""
    above = found.report.get("rows_above", [])
    after = found.report.get("rows_after", [])
    running = found.status in (ImportStatus.PENDING, ImportStatus.RUNNING)
    return {
        "header_row": found.report.get("header_row"),
        "rows_above": above,
        "rows_after": after,
        "rows_not_read": len(above) + len(after),
        # An attempt before this one was interrupted (its worker stopped).
        "retrying": running and found.attempts > (1 if found.status == ImportStatus.RUNNING else 0),
        "attempt": found.attempts + (1 if found.status == ImportStatus.PENDING else 0),
        "max_attempts": max_attempts(),
    }


def _report(found: MetricsImport) -> dict[str, Any]:
    errors = found.report.get("errors", [])
    notes = found.report.get("notes", [])
    summary = found.report.get("summary", {})
    message = found.report.get("message", "")
    # The message ends with the notes, which the page lists on their own.
    for note in reversed(notes):
        message = message.removesuffix(note).rstrip()
    return {
        "errors": errors[:ERRORS_SHOWN],
        "errors_not_shown": max(0, found.report.get("problem_count", len(errors)) - ERRORS_SHOWN),
        "problem_count": found.report.get("problem_count", len(errors)),
        "summary": summary,
        # Imports from before people were counted have no such number.
        "people_counted": "people_changed" in summary,
        "outcome": message,
        "notes": notes,
        "ignored_columns": found.report.get("ignored_columns", []),
        "in_progress": found.status in ("pending", "running"),
        **_rows_not_read(found),
    }
