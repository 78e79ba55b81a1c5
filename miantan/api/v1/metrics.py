"""KPI catalogue and values: other systems (HIS, ERP) push values here, like a file import."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from miantan.metrics.catalogue import assignments_visible_to, kpis_visible_to
from miantan.metrics.importing import import_values
from miantan.people.models import Organisation
from miantan.people.rules import can_import_org
from miantan.people.scopes import scope_for

from .paging import BoundedPageNumberPagination
from .schemas import DepartmentRef, ErrorOut, PositionRef

router = Router(tags=["metrics"])

MAX_ITEMS = 10_000
_FIELDS = ("employee_number", "kpi", "period", "value", "target", "source")


class KpiOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    unit: str
    direction: str
    aggregation: str
    decimals: int
    # The valid range of values and targets; null is an open end.
    min_value: Decimal | None
    max_value: Decimal | None
    pack: str


class KpiRef(Schema):
    id: int
    code: str
    name: str
    name_en: str


class KpiAssignmentOut(Schema):
    id: int
    kpi: KpiRef
    department: DepartmentRef | None
    position: PositionRef | None
    period_kind: str
    weight: Decimal
    target: Decimal


class ValueIn(Schema):
    employee_number: str
    kpi: str
    period: str
    value: Decimal | str
    target: Decimal | str | None = None
    source: str = "api"


class ValuesIn(Schema):
    values: list[ValueIn]


class ItemError(Schema):
    index: int | None
    field: str
    message: str


class PushErrorOut(Schema):
    detail: str
    code: str
    errors: list[ItemError]


class PushOut(Schema):
    rows: int
    created: int
    updated: int
    unchanged: int
    # Different employees among the items, and those with a new or changed value.
    people: int
    people_changed: int
    # KPIs added to the catalogue from an industry pack, then how per cent KPIs given as
    # numbers between 0 and 1 were read: one sentence per KPI.
    notes: list[str]
    detail: str


@router.get("/kpis", response=list[KpiOut])
def list_kpis(request: HttpRequest) -> object:
    return kpis_visible_to(request.user)


@router.get("/kpis/assignments", response=list[KpiAssignmentOut])
@paginate(BoundedPageNumberPagination, page_size=200)
def list_kpi_assignments(request: HttpRequest) -> object:
    """Which KPI applies to which department and position, with weight and target per period
    kind. The organisation's own, for every employee, like the catalogue."""
    return assignments_visible_to(request.user)


@router.post(
    "/values",
    response={200: PushOut, 400: PushErrorOut, 403: ErrorOut},
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": ValuesIn.model_json_schema()}},
            "required": True,
        }
    },
)
def push_values(request: HttpRequest) -> object:
    """Upsert up to 10,000 KPI values (employee number, KPI code or name, period label, value,
    optional target and source). All or nothing: any bad item rejects the whole request with
    every problem listed by index and field. A KPI only an industry pack has is added to the
    catalogue from the pack, as a file import does. Sending the same values again changes
    nothing."""
    scope = scope_for(request.user)
    if scope.organisation_id is None or not can_import_org.test(request.user):
        message = _("Only HR for the whole organisation and administrators may push values.")
        return Status(403, {"detail": message})
    items = _items(request.body)
    if isinstance(items, str):
        return Status(400, {"detail": items, "code": "invalid", "errors": []})
    organisation = Organisation.objects.get(pk=scope.organisation_id)
    outcome = import_values(organisation, items, actor=request.user, label="api")
    if outcome.problem_count:
        errors = [
            {"index": p.row, "field": p.field, "message": p.message} for p in outcome.problems
        ]
        return Status(400, {"detail": outcome.message(), "code": "invalid", "errors": errors})
    return Status(200, {**outcome.summary(), "notes": outcome.notes, "detail": outcome.message()})


def _items(body: bytes) -> list[dict[str, Any]] | str:
    """The pushed items, or why the body is not a list of them."""
    try:
        data = json.loads(body or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return _("The body is not valid JSON.")
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, list):
        return _("Send a JSON object with a list under “values”.")
    if len(values) > MAX_ITEMS:
        return _("At most %(limit)s values per request.") % {"limit": MAX_ITEMS}
    items = []
    for item in values:
        if not isinstance(item, dict):
            item = {}
        items.append(
            {name: item.get(name) for name in _FIELDS} | {"source": item.get("source", "api")}
        )
    return items
