"""Record templates (PRODUCT.md C1): the built-ins every organisation starts with, the
template a talk's topic chooses, and what HR does with templates.

A template's questions live in its versions. A record keeps the version it was opened with:
changing the questions of a template that a record uses makes a new version; otherwise the
current version is changed in place. HR for the whole organisation and administrators change
templates; every HR partner and administrator of the organisation reads them. Every change is
audited (`records.template.<event>`); a refusal is audited too.

A template travels as a JSON document (`export_template`, `import_template`)::

    {"format": "miantan.record-template", "format_version": 1, "key": "annual_review",
     "name": {"zh-hans": "年度绩效面谈", "en": "Annual review"}, "description": {…},
     "topics": ["quarterly_review"], "version": 3, "definition": {"sections": […]}}
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils.text import slugify
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import ConflictError
from miantan.interviews.enums import Topic
from miantan.people.models import Employee, Organisation
from miantan.people.scopes import scope_for

from . import builtin
from .definitions import KEY, LANGUAGES, MAX_HELP, MAX_LABEL, Definition, InvalidDefinition, parse
from .enums import FieldType, Filler
from .models import Record, Template, TemplateVersion
from .rules import can_edit_record_templates, can_view_record_templates

FORMAT = "miantan.record-template"
FORMAT_VERSION = 1
MAX_DOCUMENT_BYTES = 1_000_000
MAX_TEMPLATES = 200


# --- the built-ins and the template of a topic -------------------------------------------------


def install_builtin_templates(organisation: Organisation) -> list[Template]:
    """Give the organisation each built-in template it does not have yet (by key), each with
    its first version. Returns the templates created; running it again creates none."""
    existing = set(Template.objects.filter(organisation=organisation).values_list("key", flat=True))
    created: list[Template] = []
    for spec in builtin.BUILTINS:
        if spec.key in existing:
            continue
        definition = parse(spec.definition).as_json()
        try:
            with transaction.atomic():
                template = _create(
                    organisation,
                    key=spec.key,
                    name=dict(spec.name),
                    description=dict(spec.description),
                    topics=list(spec.topics),
                    definition=definition,
                    builtin_key=spec.key,
                    author=None,
                )
                audit(
                    "records.template.installed",
                    actor=None,
                    obj=template,
                    organisation_id=organisation.pk,
                    data={"key": spec.key, "version": 1},
                )
        except IntegrityError:
            # Installed at the same moment by another request: theirs stands.
            continue
        created.append(template)
    return created


def template_for_topic(organisation: Organisation, topic: str) -> TemplateVersion:
    """The current version of the active template listed for the topic (the first by key),
    else of the monthly check-in. An organisation without templates gets the built-ins first."""
    templates = list(
        Template.objects.filter(organisation=organisation).select_related("current").order_by("key")
    )
    if not templates:
        install_builtin_templates(organisation)
        return template_for_topic(organisation, topic)
    usable = [t for t in templates if t.is_active and t.current is not None]
    for template in usable:
        if isinstance(template.topics, list) and topic in template.topics:
            return _current(template)
    monthly = [t for t in templates if builtin.MONTHLY in (t.key, t.builtin) and t.current]
    fallback = next((t for t in monthly if t.is_active), None)
    fallback = fallback or (usable[0] if usable else None) or next(iter(monthly), None)
    if fallback is None:
        install_builtin_templates(organisation)
        fallback = Template.objects.select_related("current").get(
            organisation=organisation, key=builtin.MONTHLY
        )
    return _current(fallback)


def _current(template: Template) -> TemplateVersion:
    version = template.current
    if version is None:  # pragma: no cover - callers pass templates with a current version
        raise TemplateVersion.DoesNotExist(template.key)
    version.template = template
    return version


# --- reads -------------------------------------------------------------------------------------


def templates_visible_to(user: Any) -> QuerySet[Template]:
    """The organisation's templates for its HR partners and administrators (none for anyone
    else), by key, with the current version and the number of records using any version."""
    scope = scope_for(user)
    if scope.organisation_id is None or not can_view_record_templates.test(user):
        return Template.objects.none()
    return (
        Template.objects.filter(organisation_id=scope.organisation_id)
        .select_related("current")
        .annotate(record_count=Count("versions__records"))
        .order_by("key")
    )


def access_template(user: Any, template_id: int) -> Template:
    """The template, for a reader of templates; 404 for one of another organisation or
    unknown, PermissionDenied (audited) for somebody who reads no templates."""
    scope = scope_for(user)
    if scope.organisation_id is None or not can_view_record_templates.test(user):
        _deny("records.template.viewed", user, template_id)
    template = templates_visible_to(user).filter(pk=template_id).first()
    if template is None:
        raise Http404
    return template


def may_edit(user: Any, organisation_id: int) -> bool:
    """The user may change the templates of this organisation (to show the buttons)."""
    scope = scope_for(user)
    return scope.organisation_id == organisation_id and bool(can_edit_record_templates.test(user))


def ensure_editor(user: Any, template: Template) -> None:
    """Refuse (audited) somebody who may not change the template, before showing its editor."""
    _ensure_editor(user, template.organisation, "records.template.edited", template)


def ensure_creator(user: Any, organisation: Organisation, *, importing: bool = False) -> None:
    """Refuse (audited) somebody who may not add templates, before reading their input."""
    action = "records.template.imported" if importing else "records.template.created"
    _ensure_editor(user, organisation, action)


def record_count(template: Template) -> int:
    annotated = getattr(template, "record_count", None)
    if isinstance(annotated, int):
        return annotated
    return Record.objects.filter(template_version__template=template).count()


def versions_of(template: Template) -> list[tuple[TemplateVersion, int]]:
    """Every version, newest first, with the number of records that use it."""
    rows = (
        TemplateVersion.objects.filter(template=template)
        .select_related("created_by")
        .annotate(uses=Count("records"))
        .order_by("-number")
    )
    return [(version, version.uses) for version in rows]


def definition_of(template: Template) -> Definition:
    """The current version's definition, parsed."""
    return parse(_current(template).definition)


def fingerprint(template: Template) -> str:
    """What an editor saw: the current version and its definition. A save based on another
    one is refused (`ConflictError`), so two editors never overwrite each other silently."""
    version = template.current
    data = json.dumps(
        [version.number if version else 0, version.definition if version else None],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


# --- writes ------------------------------------------------------------------------------------


def starter_definition() -> dict[str, Any]:
    """What a template made from scratch asks until HR changes it: one open question."""
    return {
        "sections": [
            {
                "key": "notes",
                "title": {"zh-hans": "面谈要点", "en": "Points of the talk"},
                "filled_by": Filler.BOTH.value,
                "fields": [
                    {
                        "key": "notes",
                        "type": FieldType.LONG_TEXT.value,
                        "label": {"zh-hans": "要点", "en": "Points"},
                    }
                ],
            }
        ]
    }


def create_template(
    organisation: Organisation,
    *,
    actor: Any,
    name: Any,
    key: str = "",
    description: Any = None,
    topics: Any = (),
    definition: Any = None,
    copy_from: Template | None = None,
) -> Template:
    """A new template: a copy of `copy_from`'s current questions, the `definition` given, or
    one open question to start from. The key is made from the name when none is given."""
    author = _ensure_editor(actor, organisation, "records.template.created")
    errors: dict[str, str] = {}
    clean_name = _text(name, "name", errors, limit=MAX_LABEL, required=True)
    clean_description = _text(description, "description", errors, limit=MAX_HELP, required=False)
    clean_topics = _topics(topics, "topics", errors)
    if copy_from is not None and copy_from.organisation_id != organisation.pk:
        raise Http404
    if definition is None:
        definition = (
            _current(copy_from).definition if copy_from is not None else starter_definition()
        )
    parsed = _definition(definition, "definition", errors)
    key = (key or "").strip() or _key_from(clean_name, organisation)
    _check_key(key, organisation, errors)
    if errors:
        raise InvalidDefinition(errors)
    assert parsed is not None
    with transaction.atomic():
        try:
            with transaction.atomic():
                template = _create(
                    organisation,
                    key=key,
                    name=clean_name,
                    description=clean_description,
                    topics=clean_topics,
                    definition=parsed.as_json(),
                    builtin_key=copy_from.builtin if copy_from is not None else "",
                    author=author,
                )
        except IntegrityError:
            raise InvalidDefinition({"key": _key_taken(key)}) from None
        audit(
            "records.template.created",
            actor=actor,
            obj=template,
            organisation_id=organisation.pk,
            data={
                "key": key,
                "copied_from": copy_from.key if copy_from is not None else "",
            },
        )
    return template


def update_definition(
    template: Template, definition: Any, *, actor: Any, based_on: str | None = None
) -> TemplateVersion:
    """New questions for the template, checked by `definitions.parse`. When a record uses the
    current version, a new version is made (the record keeps its own); otherwise the current
    version is changed in place. `based_on` is the `fingerprint` the editor started from."""
    _ensure_editor(actor, template.organisation, "records.template.edited", template)
    errors: dict[str, str] = {}
    parsed = _definition(definition, "definition", errors)
    if errors or parsed is None:
        raise InvalidDefinition(errors)
    with transaction.atomic():
        locked = (
            Template.objects.select_for_update(of=("self",))
            .select_related("current")
            .get(pk=template.pk)
        )
        if based_on is not None and based_on != fingerprint(locked):
            raise ConflictError(
                _(
                    "Somebody changed this template while you were editing it. Your changes "
                    "were not saved; open the template again to see the new questions."
                ),
                code="stale_template",
            )
        current = _current(locked)
        new_definition = parsed.as_json()
        if new_definition == current.definition:
            return current
        in_use = Record.objects.filter(template_version=current).exists()
        if in_use:
            version = TemplateVersion.objects.create(
                template=locked,
                number=current.number + 1,
                definition=new_definition,
                created_by=scope_for(actor).employee,
            )
            locked.current = version
            locked.save(update_fields=["current", "updated_at"])
        else:
            version = current
            version.definition = new_definition
            version.save(update_fields=["definition"])
            locked.save(update_fields=["updated_at"])
        audit(
            "records.template.edited",
            actor=actor,
            obj=locked,
            organisation_id=locked.organisation_id,
            data={"key": locked.key, "version": version.number, "new_version": in_use},
        )
    template.current = version
    template.updated_at = locked.updated_at
    return version


def rename_template(template: Template, *, actor: Any, name: Any, description: Any) -> Template:
    """The template's name and description, in Chinese and English."""
    _ensure_editor(actor, template.organisation, "records.template.renamed", template)
    errors: dict[str, str] = {}
    clean_name = _text(name, "name", errors, limit=MAX_LABEL, required=True)
    clean_description = _text(description, "description", errors, limit=MAX_HELP, required=False)
    if errors:
        raise InvalidDefinition(errors)
    if (clean_name, clean_description) == (template.name, template.description):
        return template
    with transaction.atomic():
        template.name, template.description = clean_name, clean_description
        template.save(update_fields=["name", "description", "updated_at"])
        audit(
            "records.template.renamed",
            actor=actor,
            obj=template,
            organisation_id=template.organisation_id,
            data={"key": template.key},
        )
    return template


def set_topics(template: Template, topics: Any, *, actor: Any) -> Template:
    """The talk topics the template is chosen for (`template_for_topic`)."""
    _ensure_editor(actor, template.organisation, "records.template.topics_changed", template)
    errors: dict[str, str] = {}
    clean = _topics(topics, "topics", errors)
    if errors:
        raise InvalidDefinition(errors)
    if clean == template.topics:
        return template
    with transaction.atomic():
        template.topics = clean
        template.save(update_fields=["topics", "updated_at"])
        audit(
            "records.template.topics_changed",
            actor=actor,
            obj=template,
            organisation_id=template.organisation_id,
            data={"key": template.key, "topics": clean},
        )
    return template


def set_active(template: Template, active: bool, *, actor: Any) -> Template:
    """Deactivate a template (no new talk chooses it; records that use it keep it) or use it
    again."""
    action = "records.template.reactivated" if active else "records.template.deactivated"
    _ensure_editor(actor, template.organisation, action, template)
    if template.is_active == active:
        return template
    with transaction.atomic():
        template.is_active = active
        template.save(update_fields=["is_active", "updated_at"])
        audit(
            action,
            actor=actor,
            obj=template,
            organisation_id=template.organisation_id,
            data={"key": template.key},
        )
    return template


# --- export and import -------------------------------------------------------------------------


def export_template(template: Template) -> dict[str, Any]:
    """The template as a JSON document that `import_template` takes back (here or elsewhere)."""
    version = _current(template)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "key": template.key,
        "name": template.name,
        "description": template.description,
        "topics": list(template.topics or []),
        "version": version.number,
        "definition": parse(version.definition).as_json(),
    }


def export_filename(template: Template) -> str:
    return f"template-{template.key}-v{_current(template).number}.json"


def read_document(content: bytes | str) -> Any:
    """The JSON of an uploaded or posted document; InvalidDefinition when it is none."""
    if isinstance(content, bytes):
        if len(content) > MAX_DOCUMENT_BYTES:
            raise InvalidDefinition(
                {"file": _("The file is larger than %(limit)s MB.") % {"limit": 1}}
            )
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidDefinition({"file": _("The file is not UTF-8 text.")}) from None
    try:
        return json.loads(content)
    except ValueError as error:
        raise InvalidDefinition(
            {"file": _("The file is not valid JSON (line %(line)s).") % {"line": _line(error)}}
        ) from None


def import_template(
    organisation: Organisation, document: Any, *, actor: Any, replace: bool = False
) -> tuple[Template, bool]:
    """A template from an exported document. All or nothing: every problem is named by its
    place in the document and nothing is written. A document whose key the organisation
    already has is refused, unless `replace`: then it changes that template (a new version when
    a record uses the current one). Returns the template and whether it was created."""
    _ensure_editor(actor, organisation, "records.template.imported")
    errors: dict[str, str] = {}
    if not isinstance(document, dict):
        raise InvalidDefinition({"document": _("A template file holds one JSON object.")})
    if document.get("format") != FORMAT:
        errors["format"] = _("This is not a Miantan template file (“format” must be “%(f)s”).") % {
            "f": FORMAT
        }
    elif document.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        errors["format_version"] = _("This file is of a newer format; it cannot be read here.")
    key = document.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        errors["key"] = _(
            "A key is 1–40 lower-case letters, digits or “_”, starting with a letter."
        )
        key = ""
    name = _text(document.get("name"), "name", errors, limit=MAX_LABEL, required=True)
    description = _text(
        document.get("description"), "description", errors, limit=MAX_HELP, required=False
    )
    topics = _topics(document.get("topics", []), "topics", errors)
    parsed = _definition(document.get("definition"), "definition", errors)
    same_key = Template.objects.filter(organisation=organisation, key=key)
    existing = same_key.select_related("current").first() if key else None
    if existing is not None and not replace:
        errors["key"] = _(
            "The template “%(name)s” has the key “%(key)s” already. Change the key in the file, "
            "or choose to replace that template."
        ) % {"name": existing, "key": key}
    if existing is None and key:
        _check_key(key, organisation, errors)
    if errors or parsed is None:
        raise InvalidDefinition(errors)
    with transaction.atomic():
        if existing is None:
            template = _create(
                organisation,
                key=key,
                name=name,
                description=description,
                topics=topics,
                definition=parsed.as_json(),
                builtin_key="",
                author=scope_for(actor).employee,
            )
            version_number = 1
        else:
            template = existing
            version_number = update_definition(template, parsed.as_json(), actor=actor).number
            template.name, template.description, template.topics = name, description, topics
            template.save(update_fields=["name", "description", "topics", "updated_at"])
        audit(
            "records.template.imported",
            actor=actor,
            obj=template,
            organisation_id=organisation.pk,
            data={"key": key, "version": version_number, "replaced": existing is not None},
        )
    return template, existing is None


# --- helpers -----------------------------------------------------------------------------------


def _create(
    organisation: Organisation,
    *,
    key: str,
    name: dict[str, str],
    description: dict[str, str],
    topics: list[str],
    definition: dict[str, Any],
    builtin_key: str,
    author: Employee | None,
) -> Template:
    template = Template.objects.create(
        organisation=organisation,
        key=key,
        name=name,
        description=description,
        topics=topics,
        builtin=builtin_key,
    )
    version = TemplateVersion.objects.create(
        template=template, number=1, definition=definition, created_by=author
    )
    template.current = version
    template.save(update_fields=["current", "updated_at"])
    return template


def _ensure_editor(
    actor: Any, organisation: Organisation, action: str, template: Template | None = None
) -> Employee:
    """The acting employee, if they may change the organisation's templates; else the refusal
    is audited and PermissionDenied raised."""
    own = scope_for(actor).employee
    if (
        own is None
        or not own.is_active
        or own.organisation_id != organisation.pk
        or not can_edit_record_templates.test(actor)
    ):
        _deny(action, actor, template.pk if template is not None else "")
    return own


def _deny(action: str, actor: Any, object_id: Any = "") -> NoReturn:
    own = scope_for(actor).employee
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        object_type="records.template",
        object_id=object_id,
        organisation_id=own.organisation_id if own is not None else None,
    )
    raise PermissionDenied


def _text(
    raw: Any, place: str, errors: dict[str, str], *, limit: int, required: bool
) -> dict[str, str]:
    """A bilingual text {"zh-hans": …, "en": …}; a plain string is taken as Chinese."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        raw = {"zh-hans": raw}
    if not isinstance(raw, dict) or any(
        not isinstance(k, str) or not isinstance(v, str) for k, v in raw.items()
    ):
        errors[place] = _('Give the text as {"zh-hans": …, "en": …}.')
        return {}
    cleaned = {k.lower(): v.strip() for k, v in raw.items() if k.lower() in LANGUAGES}
    cleaned = {k: v for k, v in cleaned.items() if v}
    if required and not cleaned:
        errors[place] = _("This needs a text in Chinese or English.")
    elif any(len(value) > limit for value in cleaned.values()):
        errors[place] = _("Keep it to %(limit)s characters.") % {"limit": limit}
    return cleaned


def _topics(raw: Any, place: str, errors: dict[str, str]) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        errors[place] = _('Topics are a list such as ["quarterly_review"].')
        return []
    topics: list[str] = []
    for value in raw:
        if value not in Topic.values:
            errors[place] = _("Unknown topic “%(topic)s”; the topics are %(topics)s.") % {
                "topic": value,
                "topics": ", ".join(Topic.values),
            }
            continue
        if str(value) not in topics:
            topics.append(str(value))
    return [topic for topic in Topic.values if topic in topics]


def _definition(raw: Any, place: str, errors: dict[str, str]) -> Definition | None:
    try:
        return parse(raw)
    except InvalidDefinition as error:
        for inner, message in error.errors.items():
            errors[f"{place}.{inner}"] = message
        return None


def _check_key(key: str, organisation: Organisation, errors: dict[str, str]) -> None:
    if not KEY.match(key):
        errors["key"] = _(
            "A key is 1–40 lower-case letters, digits or “_”, starting with a letter."
        )
    elif Template.objects.filter(organisation=organisation, key=key).exists():
        errors["key"] = _key_taken(key)
    elif Template.objects.filter(organisation=organisation).count() >= MAX_TEMPLATES:
        errors["key"] = _("An organisation has at most %(limit)s templates.") % {
            "limit": MAX_TEMPLATES
        }


def _key_taken(key: str) -> str:
    return _("Another template has the key “%(key)s”; choose another.") % {"key": key}


def _key_from(name: dict[str, str], organisation: Organisation) -> str:
    """A free key made from the English name, else "template_<n>"."""
    base = re.sub(r"[^a-z0-9]+", "_", slugify(name.get("en", ""))).strip("_")[:30]
    if not base or not base[0].isalpha():
        base = "template"
    taken = set(
        Template.objects.filter(organisation=organisation, key__startswith=base).values_list(
            "key", flat=True
        )
    )
    if base not in taken and base != "template":
        return base
    number = 1 if base == "template" else 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def _line(error: ValueError) -> int:
    return int(getattr(error, "lineno", 1) or 1)
