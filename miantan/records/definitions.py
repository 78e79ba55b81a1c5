"""A template's definition: ordered sections of typed fields, bilingual labels, who fills what.

Stored as JSON in `TemplateVersion.definition` and exchanged as JSON (import/export)::

    {"sections": [
      {"key": "went_well", "filled_by": "employee", "sealed": false, "repeatable": true,
       "title": {"zh-hans": "做得好的", "en": "What went well"},
       "help": {"zh-hans": "…", "en": "…"},
       "fields": [
         {"key": "project", "type": "short_text", "required": true,
          "label": {"zh-hans": "项目", "en": "Project"}, "help": {…}},
         {"key": "completion", "type": "number", "min": 0, "max": 100, "unit": "%", …},
         {"key": "overall", "type": "rating", "min": 1, "max": 5,
          "anchors": {"1": {"zh-hans": "远低于期望", "en": "Far below"}, "5": {…}}},
         {"key": "track", "type": "choice",
          "choices": [{"value": "expert", "label": {…}}, …]}]}]}

`parse` checks all of it and returns the typed form; `clean_values` checks what somebody
entered into one section against it. Both raise `InvalidDefinition` / `InvalidValues` with a
translated message per place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from miantan.core.errors import InvalidFields

from .enums import FieldType, Filler

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LANGUAGES = ("zh-hans", "en")
MAX_SECTIONS = 30
MAX_FIELDS = 30
MAX_CHOICES = 30
MAX_ITEMS = 20  # entries of a repeatable section, goals of a goal list, rows of a KPI table
MAX_SHORT = 200
MAX_LONG = 5000
MAX_LABEL = 200
MAX_HELP = 1000


class InvalidDefinition(InvalidFields):
    error_code = "invalid_template"


class InvalidValues(InvalidFields):
    error_code = "invalid_values"


def localized(text: dict[str, str] | str | None, language: str | None = None) -> str:
    """The text in the active language, else Chinese, else whatever there is."""
    if not text:
        return ""
    if isinstance(text, str):
        return text
    language = (language or get_language() or "zh-hans").lower()
    for candidate in (language, language.split("-")[0], "zh-hans", "en"):
        if text.get(candidate):
            return text[candidate]
    return next((value for value in text.values() if value), "")


@dataclass(frozen=True)
class Choice:
    value: str
    label: dict[str, str]


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    label: dict[str, str]
    help: dict[str, str] = field(default_factory=dict)
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    anchors: dict[str, dict[str, str]] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "type": self.type, "label": self.label}
        if self.help:
            data["help"] = self.help
        if self.required:
            data["required"] = True
        if self.minimum is not None:
            data["min"] = self.minimum
        if self.maximum is not None:
            data["max"] = self.maximum
        if self.unit:
            data["unit"] = self.unit
        if self.anchors:
            data["anchors"] = self.anchors
        if self.choices:
            data["choices"] = [{"value": c.value, "label": c.label} for c in self.choices]
        return data

    def rating_steps(self) -> list[tuple[int, str]]:
        low, high = int(self.minimum or 1), int(self.maximum or 5)
        return [(step, localized(self.anchors.get(str(step)))) for step in range(low, high + 1)]


@dataclass(frozen=True)
class Section:
    key: str
    title: dict[str, str]
    filled_by: str
    fields: tuple[Field, ...]
    help: dict[str, str] = field(default_factory=dict)
    sealed: bool = False
    repeatable: bool = False

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "title": self.title,
            "filled_by": self.filled_by,
            "fields": [f.as_json() for f in self.fields],
        }
        if self.help:
            data["help"] = self.help
        if self.sealed:
            data["sealed"] = True
        if self.repeatable:
            data["repeatable"] = True
        return data

    @property
    def per_side(self) -> bool:
        """Each side writes its own copy (sealed sections filled by both)."""
        return self.sealed and self.filled_by == Filler.BOTH

    def field_named(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


@dataclass(frozen=True)
class Definition:
    sections: tuple[Section, ...]

    def as_json(self) -> dict[str, Any]:
        return {"sections": [s.as_json() for s in self.sections]}

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def parse(data: Any) -> Definition:
    """The definition, checked; every problem is named by its place ("sections[2].fields[0]")."""
    errors: dict[str, str] = {}
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise InvalidDefinition({"sections": _("A template needs a list of sections.")})
    raw_sections = data["sections"]
    if not raw_sections:
        errors["sections"] = _("A template needs at least one section.")
    if len(raw_sections) > MAX_SECTIONS:
        errors["sections"] = _("At most %(limit)s sections.") % {"limit": MAX_SECTIONS}
    sections: list[Section] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_sections[:MAX_SECTIONS]):
        place = f"sections[{number}]"
        section = _section(raw, place, errors)
        if section is None:
            continue
        if section.key in seen:
            errors[f"{place}.key"] = _("The key “%(key)s” is used twice.") % {"key": section.key}
        seen.add(section.key)
        sections.append(section)
    if errors:
        raise InvalidDefinition(errors)
    return Definition(sections=tuple(sections))


def _text(raw: Any, place: str, errors: dict[str, str], *, limit: int, required: bool) -> dict:
    if isinstance(raw, str):
        raw = {"zh-hans": raw}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict) or any(
        not isinstance(k, str) or not isinstance(v, str) for k, v in raw.items()
    ):
        errors[place] = _('Give the text as {"zh-hans": …, "en": …}.')
        return {}
    cleaned = {k.lower(): v.strip() for k, v in raw.items() if k.lower() in LANGUAGES}
    cleaned = {k: v for k, v in cleaned.items() if v}
    if required and not cleaned:
        errors[place] = _("This needs a text in Chinese or English.")
    for value in cleaned.values():
        if len(value) > limit:
            errors[place] = _("Keep it to %(limit)s characters.") % {"limit": limit}
    return cleaned


def _key(raw: Any, place: str, errors: dict[str, str]) -> str:
    if not isinstance(raw, str) or not KEY.match(raw):
        errors[place] = _(
            "A key is 1–40 lower-case letters, digits or “_”, starting with a letter."
        )
        return ""
    return raw


def _section(raw: Any, place: str, errors: dict[str, str]) -> Section | None:
    if not isinstance(raw, dict):
        errors[place] = _("A section is an object with a key, a title and fields.")
        return None
    key = _key(raw.get("key"), f"{place}.key", errors)
    title = _text(raw.get("title"), f"{place}.title", errors, limit=MAX_LABEL, required=True)
    help_text = _text(raw.get("help"), f"{place}.help", errors, limit=MAX_HELP, required=False)
    filled_by = raw.get("filled_by", Filler.BOTH)
    if filled_by not in Filler.values:
        errors[f"{place}.filled_by"] = _("Who fills it: employee, manager, hr or both.")
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        errors[f"{place}.fields"] = _("A section needs at least one field.")
        raw_fields = []
    if len(raw_fields) > MAX_FIELDS:
        errors[f"{place}.fields"] = _("At most %(limit)s fields.") % {"limit": MAX_FIELDS}
    fields: list[Field] = []
    seen: set[str] = set()
    for number, raw_field in enumerate(raw_fields[:MAX_FIELDS]):
        parsed = _field(raw_field, f"{place}.fields[{number}]", errors)
        if parsed is None:
            continue
        if parsed.key in seen:
            errors[f"{place}.fields[{number}].key"] = _("The key “%(key)s” is used twice.") % {
                "key": parsed.key
            }
        seen.add(parsed.key)
        fields.append(parsed)
    sealed = bool(raw.get("sealed", False))
    repeatable = bool(raw.get("repeatable", False))
    if repeatable and any(f.type in (FieldType.KPI_TABLE, FieldType.GOALS) for f in fields):
        errors[f"{place}.repeatable"] = _(
            "A repeatable section cannot hold a KPI table or a goal list (they repeat already)."
        )
    if not key or filled_by not in Filler.values:
        return None
    return Section(
        key=key,
        title=title,
        filled_by=filled_by,
        fields=tuple(fields),
        help=help_text,
        sealed=sealed,
        repeatable=repeatable,
    )


def _number(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    return None


def _field(raw: Any, place: str, errors: dict[str, str]) -> Field | None:
    if not isinstance(raw, dict):
        errors[place] = _("A field is an object with a key, a type and a label.")
        return None
    key = _key(raw.get("key"), f"{place}.key", errors)
    kind = raw.get("type")
    if kind not in FieldType.values:
        errors[f"{place}.type"] = _("Unknown field type “%(type)s”.") % {"type": kind}
    label = _text(raw.get("label"), f"{place}.label", errors, limit=MAX_LABEL, required=True)
    help_text = _text(raw.get("help"), f"{place}.help", errors, limit=MAX_HELP, required=False)
    minimum, maximum = _number(raw.get("min")), _number(raw.get("max"))
    if kind == FieldType.RATING:
        minimum = 1.0 if minimum is None else minimum
        maximum = 5.0 if maximum is None else maximum
        if not (minimum.is_integer() and maximum.is_integer() and 0 <= minimum < maximum <= 10):
            errors[f"{place}.max"] = _("A rating scale runs between whole numbers from 0 to 10.")
    if minimum is not None and maximum is not None and minimum >= maximum:
        errors[f"{place}.max"] = _("The maximum must be above the minimum.")
    anchors: dict[str, dict[str, str]] = {}
    raw_anchors = raw.get("anchors") or {}
    if not isinstance(raw_anchors, dict):
        errors[f"{place}.anchors"] = _("Anchors map a step of the scale to its text.")
        raw_anchors = {}
    for step, text in raw_anchors.items():
        anchor = _text(text, f"{place}.anchors.{step}", errors, limit=MAX_LABEL, required=True)
        if (
            kind != FieldType.RATING
            or not str(step).isdigit()
            or not (minimum or 0) <= int(step) <= (maximum or 0)
        ):
            errors[f"{place}.anchors"] = _("Anchors belong to steps of a rating scale.")
        anchors[str(step)] = anchor
    choices: list[Choice] = []
    if kind == FieldType.CHOICE:
        raw_choices = raw.get("choices")
        if not isinstance(raw_choices, list) or not 2 <= len(raw_choices) <= MAX_CHOICES:
            errors[f"{place}.choices"] = _("A choice needs between 2 and %(limit)s options.") % {
                "limit": MAX_CHOICES
            }
            raw_choices = []
        values: set[str] = set()
        for number, option in enumerate(raw_choices):
            option_place = f"{place}.choices[{number}]"
            if not isinstance(option, dict):
                errors[option_place] = _("An option has a value and a label.")
                continue
            value = _key(option.get("value"), f"{option_place}.value", errors)
            text = _text(
                option.get("label"), f"{option_place}.label", errors, limit=MAX_LABEL, required=True
            )
            if value in values:
                errors[f"{option_place}.value"] = _("The value “%(key)s” is used twice.") % {
                    "key": value
                }
            values.add(value)
            choices.append(Choice(value=value, label=text))
    unit = raw.get("unit", "")
    if not isinstance(unit, str) or len(unit) > 20:
        errors[f"{place}.unit"] = _("A unit is a short text such as “%”.")
        unit = ""
    if not key or kind not in FieldType.values:
        return None
    return Field(
        key=key,
        type=kind,
        label=label,
        help=help_text,
        required=bool(raw.get("required", False)),
        minimum=minimum,
        maximum=maximum,
        unit=unit,
        anchors=anchors,
        choices=tuple(choices),
    )


# --- values --------------------------------------------------------------------------------


def empty_values(section: Section) -> dict[str, Any]:
    """What a new block of the section holds."""
    if section.repeatable:
        return {"items": [{}]}
    return {}


def clean_values(section: Section, raw: Any) -> dict[str, Any]:
    """What was entered into one section, checked field by field. Unknown keys are refused;
    missing fields are simply empty (required fields are checked when confirming)."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise InvalidValues({"values": _("The section's values are an object.")})
    if section.repeatable:
        items = raw.get("items")
        if not isinstance(items, list):
            raise InvalidValues({"items": _("A repeatable section holds a list of entries.")})
        if len(items) > MAX_ITEMS:
            raise InvalidValues({"items": _("At most %(limit)s entries.") % {"limit": MAX_ITEMS}})
        cleaned_items = [
            _clean_one(section, item, f"items[{number}].", errors)
            for number, item in enumerate(items)
        ]
        if errors:
            raise InvalidValues(errors)
        return {"items": cleaned_items}
    cleaned = _clean_one(section, raw, "", errors)
    if errors:
        raise InvalidValues(errors)
    return cleaned


def _clean_one(section: Section, raw: Any, prefix: str, errors: dict[str, str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors[prefix.rstrip(".") or "values"] = _("An entry is an object of field values.")
        return {}
    unknown = [key for key in raw if section.field_named(key) is None]
    if unknown:
        errors[prefix + unknown[0]] = _("“%(key)s” is not a field of this section.") % {
            "key": unknown[0]
        }
    cleaned: dict[str, Any] = {}
    for spec in section.fields:
        if spec.key not in raw:
            continue
        value = _clean_field(spec, raw[spec.key], prefix + spec.key, errors)
        if value not in (None, "", []):
            cleaned[spec.key] = value
    return cleaned


def _clean_field(spec: Field, value: Any, place: str, errors: dict[str, str]) -> Any:
    name = localized(spec.label)
    if value is None or value == "":
        return None
    kind = spec.type
    if kind in (FieldType.SHORT_TEXT, FieldType.LONG_TEXT):
        if not isinstance(value, str):
            errors[place] = _("%(field)s: expected text.") % {"field": name}
            return None
        value = value.strip()
        limit = MAX_SHORT if kind == FieldType.SHORT_TEXT else MAX_LONG
        if len(value) > limit:
            errors[place] = _("%(field)s: keep it to %(limit)s characters (it has %(length)s).") % {
                "field": name,
                "limit": limit,
                "length": len(value),
            }
        return value
    if kind in (FieldType.NUMBER, FieldType.RATING):
        number = _as_decimal(value)
        if number is None:
            errors[place] = _("%(field)s: expected a number.") % {"field": name}
            return None
        if kind == FieldType.RATING and number != number.to_integral_value():
            errors[place] = _("%(field)s: choose a step of the scale.") % {"field": name}
            return None
        low, high = spec.minimum, spec.maximum
        if (low is not None and number < Decimal(str(low))) or (
            high is not None and number > Decimal(str(high))
        ):
            errors[place] = _("%(field)s: %(value)s is outside %(low)s–%(high)s.") % {
                "field": name,
                "value": number,
                "low": _plain(low),
                "high": _plain(high),
            }
            return None
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == FieldType.CHOICE:
        if value not in {choice.value for choice in spec.choices}:
            errors[place] = _("%(field)s: choose one of the options.") % {"field": name}
            return None
        return value
    if kind == FieldType.DATE:
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            errors[place] = _("%(field)s: expected a date such as 2027-03-31.") % {"field": name}
            return None
    if kind == FieldType.GOALS:
        return _clean_goals(value, place, name, errors)
    if kind == FieldType.KPI_TABLE:
        return _clean_kpi_rows(value, place, name, errors)
    return None


GOAL_KEYS = ("goal", "measure", "due", "support")


def _clean_goals(value: Any, place: str, name: str, errors: dict[str, str]) -> list[dict]:
    """A SMART goal list: each goal has what (specific), how it is measured, a due date and
    the support needed."""
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        errors[place] = _("%(field)s: a list of at most %(limit)s goals.") % {
            "field": name,
            "limit": MAX_ITEMS,
        }
        return []
    goals = []
    for number, goal in enumerate(value):
        if not isinstance(goal, dict) or any(key not in GOAL_KEYS for key in goal):
            errors[f"{place}[{number}]"] = _(
                "%(field)s: a goal has goal, measure, due, support."
            ) % {"field": name}
            continue
        cleaned = {key: str(goal.get(key) or "").strip() for key in GOAL_KEYS}
        if not any(cleaned.values()):
            continue
        if not cleaned["goal"]:
            errors[f"{place}[{number}].goal"] = _("%(field)s: each goal needs its aim.") % {
                "field": name
            }
        if cleaned["due"]:
            try:
                cleaned["due"] = date.fromisoformat(cleaned["due"]).isoformat()
            except ValueError:
                errors[f"{place}[{number}].due"] = _(
                    "%(field)s: expected a date such as 2027-03-31."
                ) % {"field": name}
        for key in ("goal", "measure", "support"):
            if len(cleaned[key]) > MAX_SHORT * 2:
                errors[f"{place}[{number}].{key}"] = _(
                    "%(field)s: keep it to %(limit)s characters."
                ) % {
                    "field": name,
                    "limit": MAX_SHORT * 2,
                }
        goals.append(cleaned)
    return goals


KPI_KEYS = ("kpi", "name", "unit", "actual", "target", "team", "comment")


def _clean_kpi_rows(value: Any, place: str, name: str, errors: dict[str, str]) -> list[dict]:
    """A KPI table is filled from the performance data when the record opens; people add a
    comment per row. The figures are kept as they were taken."""
    if not isinstance(value, list) or len(value) > 100:
        errors[place] = _("%(field)s: expected the KPI rows.") % {"field": name}
        return []
    rows = []
    for number, row in enumerate(value):
        if not isinstance(row, dict) or any(key not in KPI_KEYS for key in row):
            errors[f"{place}[{number}]"] = _("%(field)s: unknown column in a KPI row.") % {
                "field": name
            }
            continue
        comment = str(row.get("comment") or "").strip()
        if len(comment) > MAX_SHORT * 2:
            errors[f"{place}[{number}].comment"] = _(
                "%(field)s: keep it to %(limit)s characters."
            ) % {
                "field": name,
                "limit": MAX_SHORT * 2,
            }
        rows.append({**{key: row.get(key) for key in KPI_KEYS if key in row}, "comment": comment})
    return rows


def missing_required(section: Section, values: dict[str, Any]) -> list[str]:
    """Labels of required fields left empty (in any entry of a repeatable section)."""
    entries = values.get("items", [{}]) if section.repeatable else [values]
    if not entries:
        entries = [{}]
    missing = []
    for spec in section.fields:
        if spec.required and any(entry.get(spec.key) in (None, "", []) for entry in entries):
            missing.append(localized(spec.label))
    return missing


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _plain(number: float | None) -> str:
    if number is None:
        return "…"
    return str(int(number)) if float(number).is_integer() else str(number)
