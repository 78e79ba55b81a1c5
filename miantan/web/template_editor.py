"""The template editor's form: a template's sections and fields as plain inputs, changed step by
step (add, remove, move) without saving, then saved at once as one definition.

Every input of every section and field is posted with each step, so the page keeps what HR
typed while it adds a section or moves a field; nothing is stored until "Save". The names are
`s<i>-<name>` for a section and `s<i>-f<j>-<name>` for a field. What the inputs hold becomes
the JSON definition of `records.definitions`, whose checks (`parse`, run by the service) name
each problem by its place (`sections[2].fields[0].type`); the page shows it at that place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext as _

from miantan.records.definitions import KEY, MAX_FIELDS, MAX_SECTIONS, Definition
from miantan.records.enums import FieldType, Filler

# Above the limits, so that the service names the problem instead of the page dropping input.
MAX_POSTED = MAX_SECTIONS + 5
NUMERIC_TYPES = (FieldType.NUMBER, FieldType.RATING)
DEFAULT_STEPS = (1, 5)
_PLACE = re.compile(r"^sections\[(\d+)\](?:\.fields\[(\d+)\])?(?:\.(.+))?$")


@dataclass
class FieldDraft:
    key: str = ""
    type: str = FieldType.SHORT_TEXT.value
    label_zh: str = ""
    label_en: str = ""
    help_zh: str = ""
    help_en: str = ""
    required: bool = False
    min: str = ""
    max: str = ""
    unit: str = ""
    # step → (Chinese, English)
    anchors: dict[int, tuple[str, str]] = field(default_factory=dict)
    # one option a line: "value | 中文 | English"
    choices: str = ""
    errors: list[str] = field(default_factory=list)
    is_new: bool = False

    @property
    def title(self) -> str:
        return self.label_zh or self.label_en or self.key

    @property
    def type_label(self) -> str:
        return str(FieldType(self.type).label) if self.type in FieldType.values else self.type

    def steps(self) -> list[tuple[int, str, str]]:
        """The steps of the rating scale with their anchors, for the anchor inputs."""
        low, high = _whole(self.min, DEFAULT_STEPS[0]), _whole(self.max, DEFAULT_STEPS[1])
        if not 0 <= low < high <= 10:
            low, high = DEFAULT_STEPS
        return [(step, *self.anchors.get(step, ("", ""))) for step in range(low, high + 1)]


@dataclass
class SectionDraft:
    key: str = ""
    title_zh: str = ""
    title_en: str = ""
    help_zh: str = ""
    help_en: str = ""
    filled_by: str = Filler.BOTH.value
    sealed: bool = False
    repeatable: bool = False
    fields: list[FieldDraft] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    is_new: bool = False

    @property
    def title(self) -> str:
        return self.title_zh or self.title_en or self.key


@dataclass
class Problem:
    """An error as the summary above the editor lists it."""

    section: int | None
    field: int | None
    message: str

    @property
    def anchor(self) -> str:
        if self.section is None:
            return "sections"
        if self.field is None:
            return f"s{self.section}"
        return f"s{self.section}-f{self.field}"


# --- from a definition and from the posted form ------------------------------------------------


def draft_from_definition(definition: Definition) -> list[SectionDraft]:
    sections = []
    for section in definition.sections:
        fields = [
            FieldDraft(
                key=f.key,
                type=f.type,
                label_zh=f.label.get("zh-hans", ""),
                label_en=f.label.get("en", ""),
                help_zh=f.help.get("zh-hans", ""),
                help_en=f.help.get("en", ""),
                required=f.required,
                min=_plain(f.minimum),
                max=_plain(f.maximum),
                unit=f.unit,
                anchors={
                    int(step): (text.get("zh-hans", ""), text.get("en", ""))
                    for step, text in f.anchors.items()
                },
                choices="\n".join(
                    " | ".join(
                        part
                        for part in (c.value, c.label.get("zh-hans", ""), c.label.get("en", ""))
                    )
                    for c in f.choices
                ),
            )
            for f in section.fields
        ]
        sections.append(
            SectionDraft(
                key=section.key,
                title_zh=section.title.get("zh-hans", ""),
                title_en=section.title.get("en", ""),
                help_zh=section.help.get("zh-hans", ""),
                help_en=section.help.get("en", ""),
                filled_by=section.filled_by,
                sealed=section.sealed,
                repeatable=section.repeatable,
                fields=fields,
            )
        )
    return sections


def draft_from_post(data: QueryDict) -> list[SectionDraft]:
    sections = []
    for i in range(_count(data.get("section_count"))):
        prefix = f"s{i}-"
        fields = []
        for j in range(_count(data.get(f"{prefix}field_count"))):
            fp = f"{prefix}f{j}-"
            anchors: dict[int, tuple[str, str]] = {}
            for step in range(0, 11):
                zh = data.get(f"{fp}anchor{step}_zh", "").strip()
                en = data.get(f"{fp}anchor{step}_en", "").strip()
                if zh or en:
                    anchors[step] = (zh, en)
            fields.append(
                FieldDraft(
                    key=data.get(f"{fp}key", "").strip(),
                    type=data.get(f"{fp}type", FieldType.SHORT_TEXT),
                    label_zh=data.get(f"{fp}label_zh", "").strip(),
                    label_en=data.get(f"{fp}label_en", "").strip(),
                    help_zh=data.get(f"{fp}help_zh", "").strip(),
                    help_en=data.get(f"{fp}help_en", "").strip(),
                    required=bool(data.get(f"{fp}required")),
                    min=data.get(f"{fp}min", "").strip(),
                    max=data.get(f"{fp}max", "").strip(),
                    unit=data.get(f"{fp}unit", "").strip(),
                    anchors=anchors,
                    choices=data.get(f"{fp}choices", "").strip(),
                )
            )
        sections.append(
            SectionDraft(
                key=data.get(f"{prefix}key", "").strip(),
                title_zh=data.get(f"{prefix}title_zh", "").strip(),
                title_en=data.get(f"{prefix}title_en", "").strip(),
                help_zh=data.get(f"{prefix}help_zh", "").strip(),
                help_en=data.get(f"{prefix}help_en", "").strip(),
                filled_by=data.get(f"{prefix}filled_by", Filler.BOTH),
                sealed=bool(data.get(f"{prefix}sealed")),
                repeatable=bool(data.get(f"{prefix}repeatable")),
                fields=fields,
            )
        )
    return sections


def _count(raw: Any) -> int:
    try:
        return max(0, min(int(raw or 0), MAX_POSTED))
    except (TypeError, ValueError):
        return 0


# --- the steps ---------------------------------------------------------------------------------


def apply(operation: str, sections: list[SectionDraft]) -> bool:
    """Change the draft as the pressed button says ("add_field:2", "up_section:1" …).
    Returns False for an operation that does not apply (an index out of range)."""
    name, _sep, rest = operation.partition(":")
    numbers = [int(part) for part in rest.split(":") if part.isdigit()]
    if name == "add_section":
        if len(sections) >= MAX_SECTIONS:
            return False
        sections.append(new_section(sections))
        return True
    if not numbers or not 0 <= numbers[0] < len(sections):
        return False
    i = numbers[0]
    section = sections[i]
    if name == "remove_section":
        del sections[i]
    elif name == "up_section":
        _swap(sections, i, i - 1)
    elif name == "down_section":
        _swap(sections, i, i + 1)
    elif name == "add_field":
        if len(section.fields) >= MAX_FIELDS:
            return False
        section.fields.append(new_field(section))
    else:
        if len(numbers) < 2 or not 0 <= numbers[1] < len(section.fields):
            return False
        j = numbers[1]
        if name == "remove_field":
            del section.fields[j]
        elif name == "up_field":
            _swap(section.fields, j, j - 1)
        elif name == "down_field":
            _swap(section.fields, j, j + 1)
        else:
            return False
    return True


def _swap(items: list[Any], a: int, b: int) -> None:
    if 0 <= b < len(items):
        items[a], items[b] = items[b], items[a]


def _free_key(stem: str, taken: set[str]) -> str:
    number = len(taken) + 1
    while f"{stem}_{number}" in taken:
        number += 1
    return f"{stem}_{number}"


def new_section(sections: list[SectionDraft]) -> SectionDraft:
    section = SectionDraft(key=_free_key("section", {s.key for s in sections}), is_new=True)
    section.fields.append(new_field(section))
    return section


def new_field(section: SectionDraft) -> FieldDraft:
    return FieldDraft(key=_free_key("field", {f.key for f in section.fields}), is_new=True)


# --- to a definition ---------------------------------------------------------------------------


def to_definition(sections: list[SectionDraft]) -> tuple[dict[str, Any], dict[str, str]]:
    """The definition the inputs describe, and what could not even be read (a minimum that is
    no number, an option line without a label), by place. Settings that do not belong to the
    field's type are left out."""
    errors: dict[str, str] = {}
    data: list[dict[str, Any]] = []
    for i, section in enumerate(sections):
        fields = []
        for j, draft in enumerate(section.fields):
            place = f"sections[{i}].fields[{j}]"
            spec: dict[str, Any] = {
                "key": draft.key,
                "type": draft.type,
                "label": _text(draft.label_zh, draft.label_en),
                "help": _text(draft.help_zh, draft.help_en),
            }
            if draft.required:
                spec["required"] = True
            if draft.type in NUMERIC_TYPES:
                for name in ("min", "max"):
                    raw = getattr(draft, name)
                    if raw:
                        number = _number(raw)
                        if number is None:
                            errors[f"{place}.{name}"] = _("“%(value)s” is not a number.") % {
                                "value": raw
                            }
                        else:
                            spec[name] = number
                if draft.unit and draft.type == FieldType.NUMBER:
                    spec["unit"] = draft.unit
            if draft.type == FieldType.RATING:
                steps = {step for step, _zh, _en in draft.steps()}
                spec["anchors"] = {
                    str(step): _text(zh, en)
                    for step, (zh, en) in sorted(draft.anchors.items())
                    if step in steps and (zh or en)
                }
            if draft.type == FieldType.CHOICE:
                spec["choices"] = _choices(draft.choices, f"{place}.choices", errors)
            fields.append(spec)
        data.append(
            {
                "key": section.key,
                "title": _text(section.title_zh, section.title_en),
                "help": _text(section.help_zh, section.help_en),
                "filled_by": section.filled_by,
                "sealed": section.sealed,
                "repeatable": section.repeatable,
                "fields": fields,
            }
        )
    return {"sections": data}, errors


def _text(zh: str, en: str) -> dict[str, str]:
    return {language: text for language, text in (("zh-hans", zh), ("en", en)) if text}


def _choices(text: str, place: str, errors: dict[str, str]) -> list[dict[str, Any]]:
    """Options, one a line: "value | 中文 | English"; a line without a value gets one."""
    options = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3:
            errors[place] = _("Option %(n)s: write “value | 中文 | English”.") % {"n": number}
            continue
        if len(parts) == 3 or (len(parts) == 2 and KEY.match(parts[0])):
            value, texts = parts[0], parts[1:]
        else:
            value, texts = f"option_{number}", parts
        zh, en = [*texts, "", ""][:2]
        if not zh and not en:
            errors[place] = _("Option %(n)s has no label.") % {"n": number}
            continue
        options.append({"value": value, "label": _text(zh, en)})
    return options


def _number(raw: str) -> float | int | None:
    try:
        number = float(raw.replace("，", ".").replace(",", "."))
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number) if number.is_integer() else number


def _whole(raw: str, default: int) -> int:
    number = _number(raw) if raw else None
    return int(number) if isinstance(number, int) else default


def _plain(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


# --- errors at their place -------------------------------------------------------------------


def place_errors(sections: list[SectionDraft], errors: dict[str, Any]) -> list[Problem]:
    """Put each error on its section or field; returns them all for the summary, in order."""
    problems: list[Problem] = []
    for place, message in errors.items():
        text = str(message)
        match = _PLACE.match(place.removeprefix("definition."))
        if match is None:
            problems.append(Problem(None, None, text))
            continue
        i = int(match.group(1))
        j = int(match.group(2)) if match.group(2) is not None else None
        if i >= len(sections):
            problems.append(Problem(None, None, text))
            continue
        if j is not None and j < len(sections[i].fields):
            sections[i].fields[j].errors.append(text)
            problems.append(Problem(i, j, text))
        else:
            sections[i].errors.append(text)
            problems.append(Problem(i, None, text))
    problems.sort(key=lambda p: (p.section if p.section is not None else -1, p.field or -1))
    return problems


def form_data(sections: list[SectionDraft]) -> dict[str, str]:
    """The inputs the editor shows for these sections, as the browser posts them back."""
    data = {"section_count": str(len(sections))}
    for i, section in enumerate(sections):
        prefix = f"s{i}-"
        data.update(
            {
                f"{prefix}key": section.key,
                f"{prefix}title_zh": section.title_zh,
                f"{prefix}title_en": section.title_en,
                f"{prefix}help_zh": section.help_zh,
                f"{prefix}help_en": section.help_en,
                f"{prefix}filled_by": section.filled_by,
                f"{prefix}field_count": str(len(section.fields)),
            }
        )
        data.update(
            {f"{prefix}{flag}": "1" for flag in ("sealed", "repeatable") if getattr(section, flag)}
        )
        for j, draft in enumerate(section.fields):
            fp = f"{prefix}f{j}-"
            data.update(
                {
                    f"{fp}{name}": getattr(draft, name)
                    for name in (
                        "key",
                        "type",
                        "label_zh",
                        "label_en",
                        "help_zh",
                        "help_en",
                        "min",
                        "max",
                        "unit",
                        "choices",
                    )
                }
            )
            if draft.required:
                data[f"{fp}required"] = "1"
            for step, zh, en in draft.steps():
                data[f"{fp}anchor{step}_zh"] = zh
                data[f"{fp}anchor{step}_en"] = en
    return data
