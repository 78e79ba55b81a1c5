"""The record page's section forms: field names in a posted form, read back into the values a
section holds (`records.definitions` checks them in the service).

Names: ``f-<field>`` in a plain section, ``f-<entry>-<field>`` in a repeatable one (with
``entries`` for their number), ``f-<field>-<row>-<column>`` for goal lists and KPI comments
(with ``f-<field>-rows``). The buttons ``add`` (a field key, or ``entry``) and ``remove``
(``entry-<n>`` or ``<field>-<row>``) change the number of entries or rows while saving. A
goal list always shows one empty row at its end to type the next goal into.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from miantan.records.definitions import GOAL_KEYS, MAX_ITEMS, Field, FieldType, Section

ENTRY = "entry"


def values_from_post(section: Section, post: QueryDict, current: dict[str, Any]) -> dict[str, Any]:
    """The section's values as the form sends them; KPI figures are kept from `current`
    (only their comments are typed)."""
    add = post.get("add", "")
    remove = post.get("remove", "")
    if section.repeatable:
        count = _count(post.get("entries"))
        items = []
        for number in range(count):
            if remove == f"{ENTRY}-{number}":
                continue
            items.append(_entry(section, post, f"f-{number}-", {}, remove=""))
        if add == ENTRY and len(items) < MAX_ITEMS:
            items.append({})
        return {"items": items}
    return _entry(section, post, "f-", current, remove=remove)


def _entry(
    section: Section, post: QueryDict, prefix: str, current: dict[str, Any], *, remove: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in section.fields:
        name = prefix + spec.key
        if spec.type == FieldType.GOALS:
            values[spec.key] = _goals(spec, post, name, remove=remove)
        elif spec.type == FieldType.KPI_TABLE:
            values[spec.key] = _kpi_comments(post, name, current.get(spec.key) or [])
        else:
            values[spec.key] = post.get(name, "")
    return values


def _goals(spec: Field, post: QueryDict, name: str, *, remove: str) -> list[dict]:
    goals = []
    for row in range(_count(post.get(f"{name}-rows"))):
        if remove == f"{spec.key}-{row}":
            continue
        goal = {key: post.get(f"{name}-{row}-{key}", "") for key in GOAL_KEYS}
        goals.append(goal)
    return goals


def _kpi_comments(post: QueryDict, name: str, rows: list[dict]) -> list[dict]:
    return [
        {**row, "comment": post.get(f"{name}-{number}-comment", row.get("comment", ""))}
        for number, row in enumerate(rows)
    ]


def _count(raw: str | None) -> int:
    try:
        return max(0, min(int(raw or 0), MAX_ITEMS))
    except ValueError:
        return 0


def with_blank_rows(section: Section, values: dict[str, Any]) -> dict[str, Any]:
    """What the form shows: at least one entry in a repeatable section and one row in each
    goal list, so there is always somewhere to start typing."""
    if section.repeatable:
        items = list(values.get("items") or []) or [{}]
        return {"items": items}
    shown = dict(values)
    for spec in section.fields:
        if spec.type == FieldType.GOALS and len(shown.get(spec.key) or []) < MAX_ITEMS:
            shown[spec.key] = [*(shown.get(spec.key) or []), dict.fromkeys(GOAL_KEYS, "")]
    return shown
