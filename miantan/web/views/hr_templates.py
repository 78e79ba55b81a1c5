"""HR's record templates (PRODUCT.md C1): the list, one template with its versions and a preview,
the editor of its questions, export and import as JSON.

Every HR partner and administrator of the organisation reads the templates; HR for the whole
organisation and administrators change them. The services in `records.templates` decide and
audit; these views only show what they may and put the services' errors on the inputs."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from miantan.core.errors import ConflictError, DomainError, InvalidFields
from miantan.interviews.enums import Topic
from miantan.people.models import Organisation
from miantan.people.scopes import scope_for
from miantan.records import templates as services
from miantan.records.definitions import Definition, InvalidDefinition, localized, parse
from miantan.records.enums import FieldType, Filler
from miantan.records.models import Template
from miantan.records.rules import can_view_record_templates

from .. import template_editor as editor
from .hr_cues import cues_panel

MAX_UPLOAD_MB = 1


class NewTemplateForm(forms.Form):
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=200, required=False)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200, required=False)
    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=40,
        required=False,
        help_text=gettext_lazy(
            "Names the template in exports and the API: lower-case letters, digits and “_”. "
            "Made from the English name when left empty."
        ),
    )
    copy_from = forms.ChoiceField(label=gettext_lazy("Start from"), required=False)

    def __init__(self, *args: Any, templates: list[Template], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates = {str(t.pk): t for t in templates}
        self.fields["copy_from"].choices = [  # type: ignore[attr-defined]
            ("", pgettext_lazy("new template", "One open question")),
            *[
                (str(t.pk), _("A copy of %(name)s") % {"name": localized(t.name)})
                for t in templates
            ],
        ]

    def copied(self) -> Template | None:
        return self.templates.get(self.cleaned_data.get("copy_from") or "")


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Template file (.json)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
    replace = forms.BooleanField(
        label=gettext_lazy("Replace the template with the same key"),
        required=False,
        help_text=gettext_lazy(
            "Its questions become those of the file; talks that started earlier keep theirs."
        ),
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if (upload.size or 0) > MAX_UPLOAD_MB * 1024 * 1024:
            message = _("The file is larger than %(limit)s MB.") % {"limit": MAX_UPLOAD_MB}
            raise ValidationError(message)
        return upload


class SettingsForm(forms.Form):
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=200, required=False)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200, required=False)
    description_zh = forms.CharField(
        label=gettext_lazy("Description (Chinese)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description_en = forms.CharField(
        label=gettext_lazy("Description (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    topics = forms.MultipleChoiceField(
        label=gettext_lazy("Chosen for talks about"),
        choices=Topic.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy(
            "A talk opens its record with the active template listed for its topic (the first "
            "by key when several are); with none, with the monthly check-in."
        ),
    )

    @classmethod
    def of(cls, template: Template) -> SettingsForm:
        return cls(
            initial={
                "name_zh": template.name.get("zh-hans", ""),
                "name_en": template.name.get("en", ""),
                "description_zh": (template.description or {}).get("zh-hans", ""),
                "description_en": (template.description or {}).get("en", ""),
                "topics": list(template.topics or []),
            }
        )


def _pair(zh: str, en: str) -> dict[str, str]:
    return {"zh-hans": zh, "en": en}


def _put_errors(form: forms.Form, error: DomainError, fields: dict[str, str]) -> None:
    """The service's errors on the form's inputs (`fields` maps the service's names)."""
    if isinstance(error, InvalidFields):
        for place, message in error.errors.items():
            target = fields.get(place.split(".")[0])
            form.add_error(target if target in form.fields else None, str(message))
    else:
        form.add_error(None, str(error.message))


def _require_reader(request: HttpRequest) -> Organisation:
    scope = scope_for(request.user)
    if scope.organisation_id is None or not can_view_record_templates.test(request.user):
        raise PermissionDenied
    return Organisation.objects.get(pk=scope.organisation_id)


def _own_organisation(request: HttpRequest) -> Organisation:
    """For a write: the service decides who may, and audits a refusal."""
    scope = scope_for(request.user)
    if scope.organisation_id is None:
        raise PermissionDenied
    return Organisation.objects.get(pk=scope.organisation_id)


def _topic_labels(template: Template) -> list[str]:
    labels = dict(Topic.choices)
    return [str(labels.get(topic, topic)) for topic in template.topics or []]


# --- the list ----------------------------------------------------------------------------------


@login_required
def record_templates(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    return _list_page(request)


def _list_page(
    request: HttpRequest,
    *,
    new_form: NewTemplateForm | None = None,
    import_form: ImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    organisation_id = scope_for(request.user).organisation_id or 0
    templates = list(services.templates_visible_to(request.user))
    rows = [
        {
            "template": t,
            "name": localized(t.name),
            "topics": _topic_labels(t),
            "version": t.current.number if t.current else None,
            "records": services.record_count(t),
        }
        for t in templates
    ]
    may_edit = services.may_edit(request.user, organisation_id)
    return render(
        request,
        "web/hr/templates/list.html",
        {
            "rows": rows,
            "may_edit": may_edit,
            "new_form": new_form or NewTemplateForm(templates=templates),
            "import_form": import_form or ImportForm(),
            "talk_cues": cues_panel(request.user),
        },
        status=status,
    )


@login_required
@require_POST
def record_template_create(request: HttpRequest) -> HttpResponse:
    organisation = _own_organisation(request)
    services.ensure_creator(request.user, organisation)
    templates = list(services.templates_visible_to(request.user))
    form = NewTemplateForm(request.POST, templates=templates)
    if form.is_valid():
        data = form.cleaned_data
        try:
            made = services.create_template(
                organisation,
                actor=request.user,
                key=data["key"],
                name=_pair(data["name_zh"], data["name_en"]),
                copy_from=form.copied(),
            )
        except DomainError as error:
            _put_errors(form, error, {"name": "name_zh", "key": "key", "definition": "copy_from"})
        else:
            messages.success(
                request,
                _("The template %(name)s was created. Now write its questions.")
                % {"name": localized(made.name)},
            )
            return redirect("web:record_template_edit", template_id=made.pk)
    return _list_page(request, new_form=form, status=400)


@login_required
@require_POST
def record_template_import(request: HttpRequest) -> HttpResponse:
    organisation = _own_organisation(request)
    services.ensure_creator(request.user, organisation, importing=True)
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            document = services.read_document(form.cleaned_data["file"].read())
            made, created = services.import_template(
                organisation, document, actor=request.user, replace=form.cleaned_data["replace"]
            )
        except DomainError as error:
            if isinstance(error, InvalidFields):
                for place, message in error.errors.items():
                    form.add_error(None, f"{place}: {message}" if place != "file" else message)
            else:
                form.add_error(None, str(error.message))
        else:
            message = (
                _("The template %(name)s was imported.")
                if created
                else _("The template %(name)s was replaced by the file's version.")
            )
            messages.success(request, message % {"name": localized(made.name)})
            return redirect("web:record_template", template_id=made.pk)
    return _list_page(request, import_form=form, status=400)


# --- one template ------------------------------------------------------------------------------


@login_required
def record_template(request: HttpRequest, template_id: int) -> HttpResponse:
    template = services.access_template(request.user, template_id)
    if request.method == "POST":
        return _save_settings(request, template)
    return _detail_page(request, template)


def _save_settings(request: HttpRequest, template: Template) -> HttpResponse:
    # Refused (and audited) before the changes, which are made together.
    services.ensure_editor(request.user, template)
    form = SettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.rename_template(
                    template,
                    actor=request.user,
                    name=_pair(data["name_zh"], data["name_en"]),
                    description=_pair(data["description_zh"], data["description_en"]),
                )
                services.set_topics(template, data["topics"], actor=request.user)
        except DomainError as error:
            template.refresh_from_db()
            _put_errors(
                form,
                error,
                {"name": "name_zh", "description": "description_zh", "topics": "topics"},
            )
        else:
            messages.success(request, _("The name and topics were saved."))
            return redirect("web:record_template", template_id=template.pk)
    return _detail_page(request, template, settings_form=form, status=400)


def _detail_page(
    request: HttpRequest,
    template: Template,
    *,
    settings_form: SettingsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    definition = services.definition_of(template)
    return render(
        request,
        "web/hr/templates/detail.html",
        {
            "template": template,
            "name": localized(template.name),
            "description": localized(template.description),
            "topics": _topic_labels(template),
            "records": services.record_count(template),
            "versions": services.versions_of(template),
            "may_edit": services.may_edit(request.user, template.organisation_id),
            "settings_form": settings_form or SettingsForm.of(template),
            "preview": preview_of(definition),
        },
        status=status,
    )


@login_required
def record_template_export(request: HttpRequest, template_id: int) -> HttpResponse:
    template = services.access_template(request.user, template_id)
    document = services.export_template(template)
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n",
        content_type="application/json; charset=utf-8",
    )
    filename = services.export_filename(template)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def record_template_deactivate(request: HttpRequest, template_id: int) -> HttpResponse:
    return _set_active(request, template_id, active=False)


@login_required
@require_POST
def record_template_reactivate(request: HttpRequest, template_id: int) -> HttpResponse:
    return _set_active(request, template_id, active=True)


def _set_active(request: HttpRequest, template_id: int, *, active: bool) -> HttpResponse:
    template = services.access_template(request.user, template_id)
    services.set_active(template, active, actor=request.user)
    name = localized(template.name)
    if active:
        messages.success(request, _("%(name)s is in use again.") % {"name": name})
    else:
        messages.success(
            request,
            _("%(name)s was deactivated: no new talk chooses it; talks using it keep it.")
            % {"name": name},
        )
    return redirect("web:record_template", template_id=template.pk)


# --- the editor --------------------------------------------------------------------------------


@login_required
def record_template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    template = services.access_template(request.user, template_id)
    services.ensure_editor(request.user, template)
    if request.method != "POST":
        sections = editor.draft_from_definition(services.definition_of(template))
        return _editor_page(request, template, sections, base=services.fingerprint(template))
    sections = editor.draft_from_post(request.POST)
    base = request.POST.get("base", "")
    operation = request.POST.get("op", "preview")
    if operation != "save":
        # Adding, moving, removing: the page again, unsaved. "Preview" also names the problems.
        editor.apply(operation, sections)
        return _editor_page(
            request, template, sections, base=base, show_preview=operation == "preview"
        )
    definition, problems = editor.to_definition(sections)
    if problems:
        return _editor_page(request, template, sections, base=base, errors=problems, status=400)
    previous = template.current.number if template.current else 0
    try:
        version = services.update_definition(
            template, definition, actor=request.user, based_on=base
        )
    except InvalidDefinition as error:
        return _editor_page(request, template, sections, base=base, errors=error.errors, status=400)
    except ConflictError as error:
        return _editor_page(
            request, template, sections, base=base, conflict=str(error.message), status=409
        )
    if version.number != previous:
        messages.success(
            request,
            _(
                "Saved as version %(new)s: new talks use it; talks that started earlier keep "
                "version %(old)s."
            )
            % {"new": version.number, "old": previous},
        )
    else:
        messages.success(
            request, _("Saved. New talks use these questions (version %(n)s).") % {"n": previous}
        )
    return redirect("web:record_template", template_id=template.pk)


def _editor_page(
    request: HttpRequest,
    template: Template,
    sections: list[editor.SectionDraft],
    *,
    base: str,
    errors: dict[str, Any] | None = None,
    conflict: str = "",
    show_preview: bool = False,
    status: int = 200,
) -> HttpResponse:
    problems = editor.place_errors(sections, errors or {})
    preview = None
    if not problems and not conflict:
        definition, unreadable = editor.to_definition(sections)
        if not unreadable:
            try:
                preview = preview_of(parse(definition))
            except InvalidDefinition as error:
                if show_preview:
                    problems = editor.place_errors(sections, error.errors)
    return render(
        request,
        "web/hr/templates/edit.html",
        {
            "template": template,
            "name": localized(template.name),
            "sections": sections,
            "section_count": len(sections),
            "base": base,
            "problems": problems,
            "conflict": conflict,
            "preview": preview,
            "field_types": FieldType.choices,
            "fillers": Filler.choices,
            "numeric_types": [t.value for t in editor.NUMERIC_TYPES],
            "records": services.record_count(template),
        },
        status=status,
    )


# --- the preview -------------------------------------------------------------------------------


def preview_of(definition: Definition) -> list[dict[str, Any]]:
    """The sections as the record will show them, in the page's language."""
    fillers = dict(Filler.choices)
    sections = []
    for i, section in enumerate(definition.sections):
        fields = []
        for f in section.fields:
            fields.append(
                {
                    "id": f"pv-{i}-{f.key}",
                    "key": f.key,
                    "type": f.type,
                    "label": localized(f.label),
                    "help": localized(f.help),
                    "required": f.required,
                    "unit": f.unit,
                    "minimum": _plain(f.minimum),
                    "maximum": _plain(f.maximum),
                    "steps": f.rating_steps() if f.type == FieldType.RATING else [],
                    "choices": [(c.value, localized(c.label)) for c in f.choices],
                }
            )
        sections.append(
            {
                "key": section.key,
                "title": localized(section.title),
                "help": localized(section.help),
                "filled_by": fillers.get(section.filled_by, section.filled_by),
                "sealed": section.sealed,
                "per_side": section.per_side,
                "repeatable": section.repeatable,
                "fields": fields,
            }
        )
    return sections


def _plain(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)
