"""What the spreadsheet import pages share: the upload form, who may import, CSV downloads."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from miantan.people.rules import can_import_org


class SpreadsheetForm(forms.Form):
    """One .xlsx or .csv file, no larger than `max_mb` megabytes."""

    max_mb = 10

    file = forms.FileField(
        label=gettext_lazy("File (.xlsx or .csv)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        name = upload.name or ""
        if not name.lower().endswith((".xlsx", ".csv")):
            raise ValidationError(_("Only .xlsx and .csv files can be imported."))
        if (upload.size or 0) > self.max_mb * 1024 * 1024:
            message = _("The file is larger than %(limit)s MB.") % {"limit": self.max_mb}
            raise ValidationError(message)
        return upload


def require_org_manager(request: HttpRequest) -> None:
    if not can_import_org.test(request.user):
        raise PermissionDenied


def column_help(
    columns: list[tuple[str, bool, Any]], headers: dict[str, tuple[str, ...]]
) -> list[dict[str, Any]]:
    """The columns as the upload page explains them, from (field, required, what goes in)."""
    return [
        {"chinese": headers[name][0], "english": headers[name][1], "required": req, "hint": hint}
        for name, req, hint in columns
    ]


def csv_response(filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # The byte order mark makes Excel read the file as UTF-8 (Chinese text stays readable).
    response.write("\ufeff")
    return response


def excel_safe(cells: list[Any]) -> list[str]:
    """Cells that Excel would run as a formula are kept as text."""
    return [f"'{cell}" if str(cell)[:1] in ("=", "+", "-", "@") else str(cell) for cell in cells]
