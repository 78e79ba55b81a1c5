"""Talk record templates over the API: the same capabilities as HR's template pages. List and
read the organisation's templates, create one (from scratch, from a definition or as a copy),
change its name, topics, questions and whether it is in use, export it as a JSON document and
import one.

Every HR partner and administrator of the organisation reads; HR for the whole organisation and
administrators write (`records.templates` decides and audits). Templates of another organisation
answer 404. A refused input answers 400 with every problem by its place
(`definition.sections[2].fields[0].type`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from miantan.people.models import Organisation
from miantan.people.scopes import scope_for
from miantan.records import templates as services
from miantan.records.definitions import InvalidDefinition
from miantan.records.models import Template
from miantan.records.rules import can_view_record_templates

from .bodies import body_of, parse
from .schemas import ErrorOut

router = Router(tags=["templates"])

Text = dict[str, str]
TEXT = '{"zh-hans": …, "en": …}; a plain string is taken as Chinese'


class TemplateOut(Schema):
    id: int
    key: str
    name: Text
    description: Text
    topics: list[str]
    # The built-in template this one was made from ("" for one HR wrote).
    builtin: str
    is_active: bool
    version: int = Field(description="the current version, which new talks use")
    records: int = Field(description="records of talks that use any version")
    updated_at: datetime


class VersionOut(Schema):
    number: int
    created_at: datetime
    records: int


class TemplateDetailOut(TemplateOut):
    definition: dict[str, Any] = Field(description="the current version's sections and fields")
    fingerprint: str = Field(
        description="send it back as based_on to refuse a save over somebody else's change"
    )
    versions: list[VersionOut]


class TemplateErrorOut(Schema):
    detail: str
    code: str
    errors: dict[str, str]


class TemplateIn(Schema):
    name: Text | str = Field(description=TEXT)
    key: str = Field(default="", description="made from the English name when empty")
    description: Text | str = Field(default_factory=dict, description=TEXT)
    topics: list[str] = Field(default_factory=list)
    definition: dict[str, Any] | None = Field(
        default=None,
        description="the sections; one open question when neither this nor copy_from_id is given",
    )
    copy_from_id: int | None = Field(default=None, description="copy this template's questions")


class TemplateUpdateIn(Schema):
    """What to change; what is left out stays as it is."""

    name: Text | str | None = Field(default=None, description=TEXT)
    description: Text | str | None = Field(default=None, description=TEXT)
    topics: list[str] | None = None
    definition: dict[str, Any] | None = Field(
        default=None,
        description="new questions: a new version when a record uses the current one",
    )
    is_active: bool | None = None
    based_on: str | None = Field(
        default=None, description="the fingerprint the change was made from"
    )


class DocumentOut(Schema):
    format: str
    format_version: int
    key: str
    name: Text
    description: Text
    topics: list[str]
    version: int
    definition: dict[str, Any]


class DocumentIn(Schema):
    format: str = Field(description=services.FORMAT)
    format_version: int = services.FORMAT_VERSION
    key: str
    name: Text | str
    description: Text | str = Field(default_factory=dict)
    topics: list[str] = Field(default_factory=list)
    version: int | None = Field(default=None, description="ignored: the version is counted here")
    definition: dict[str, Any]


class ImportOut(Schema):
    created: bool
    template: TemplateDetailOut


def _answer_refusals(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except InvalidDefinition as error:
            errors = {place: str(message) for place, message in error.errors.items()}
            return Status(400, {"detail": str(error.message), "code": error.code, "errors": errors})

    return run


router.add_decorator(_answer_refusals)

REFUSED: dict[int, type[Schema]] = {
    400: TemplateErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
}


# --- reads ------------------------------------------------------------------------------------


def _organisation(request: HttpRequest, *, reading: bool = True) -> Organisation:
    """The user's organisation. Writes leave the decision (and its audit) to the service."""
    scope = scope_for(request.user)
    if scope.organisation_id is None:
        raise PermissionDenied
    if reading and not can_view_record_templates.test(request.user):
        raise PermissionDenied
    return Organisation.objects.get(pk=scope.organisation_id)


def _out(template: Template) -> dict[str, Any]:
    return {
        "id": template.pk,
        "key": template.key,
        "name": template.name,
        "description": template.description or {},
        "topics": list(template.topics or []),
        "builtin": template.builtin,
        "is_active": template.is_active,
        "version": template.current.number if template.current else 0,
        "records": services.record_count(template),
        "updated_at": template.updated_at,
    }


def _detail(template: Template) -> dict[str, Any]:
    return {
        **_out(template),
        "definition": services.definition_of(template).as_json(),
        "fingerprint": services.fingerprint(template),
        "versions": [
            {"number": v.number, "created_at": v.created_at, "records": uses}
            for v, uses in services.versions_of(template)
        ],
    }


@router.get("/templates", response={200: list[TemplateOut], 403: ErrorOut})
def list_templates(request: HttpRequest) -> object:
    """The organisation's talk record templates, by key."""
    _organisation(request)
    return [_out(t) for t in services.templates_visible_to(request.user)]


@router.get("/templates/{int:template_id}", response={200: TemplateDetailOut, **REFUSED})
def get_template(request: HttpRequest, template_id: int) -> object:
    """One template with its current questions and its versions."""
    return _detail(services.access_template(request.user, template_id))


@router.get("/templates/{int:template_id}/export", response={200: DocumentOut, **REFUSED})
def export_template(request: HttpRequest, template_id: int) -> object:
    """The template as a document that POST /templates/import takes back, here or elsewhere."""
    return services.export_template(services.access_template(request.user, template_id))


# --- writes -----------------------------------------------------------------------------------


@router.post(
    "/templates", response={201: TemplateDetailOut, **REFUSED}, openapi_extra=body_of(TemplateIn)
)
def create_template(request: HttpRequest) -> object:
    """A new template: a copy of another one's questions, the definition given, or one open
    question to start from."""
    organisation = _organisation(request, reading=False)
    services.ensure_creator(request.user, organisation)
    data = parse(TemplateIn, request, error=InvalidDefinition)
    copy_from = None
    if data.copy_from_id is not None:
        copy_from = services.access_template(request.user, data.copy_from_id)
    made = services.create_template(
        organisation,
        actor=request.user,
        key=data.key,
        name=data.name,
        description=data.description,
        topics=data.topics,
        definition=data.definition,
        copy_from=copy_from,
    )
    return Status(201, _detail(made))


@router.put(
    "/templates/{int:template_id}",
    response={200: TemplateDetailOut, **REFUSED},
    openapi_extra=body_of(TemplateUpdateIn),
)
def update_template(request: HttpRequest, template_id: int) -> object:
    """Change the name, description, topics, questions or whether new talks may choose the
    template. All or nothing."""
    template = services.access_template(request.user, template_id)
    # Refused (and audited) before anything is read or written.
    services.ensure_editor(request.user, template)
    data = parse(TemplateUpdateIn, request, error=InvalidDefinition)
    with transaction.atomic():
        if data.name is not None or data.description is not None:
            services.rename_template(
                template,
                actor=request.user,
                name=data.name if data.name is not None else template.name,
                description=(
                    data.description if data.description is not None else template.description
                ),
            )
        if data.topics is not None:
            services.set_topics(template, data.topics, actor=request.user)
        if data.definition is not None:
            services.update_definition(
                template, data.definition, actor=request.user, based_on=data.based_on
            )
        if data.is_active is not None:
            services.set_active(template, data.is_active, actor=request.user)
    return _detail(services.access_template(request.user, template_id))


@router.post(
    "/templates/import",
    response={201: ImportOut, 200: ImportOut, **REFUSED},
    openapi_extra=body_of(DocumentIn),
)
def import_template(request: HttpRequest, replace: bool = False) -> object:
    """A template from an exported document (the body). All or nothing: every problem is named
    by its place. A key the organisation has already is refused unless ?replace=true, which
    makes the document's questions that template's (a new version when a record uses it)."""
    organisation = _organisation(request, reading=False)
    services.ensure_creator(request.user, organisation, importing=True)
    document = services.read_document(request.body or b"")
    made, created = services.import_template(
        organisation, document, actor=request.user, replace=replace
    )
    fresh = services.access_template(request.user, made.pk)
    return Status(201 if created else 200, {"created": created, "template": _detail(fresh)})
