"""New departments a file creates: where one named without a parent belongs, and the tree
that is shown for confirmation before anything is saved (`department_tree`).

HR rosters (花名册) list each person's department and manager, not the department tree. A
department the organisation does not have yet is placed by its reporting line:

1. Its most senior members are those who stand highest in the reporting line (fewest managers
   above them, counted through the file and the organisation together).
2. Each of them "votes" for the department of their own manager; someone who reports to nobody
   votes for the top department (the root of the organisation's tree).
3. The department with the most votes becomes the parent. A tie goes to the department that the
   most senior member with the lowest employee number votes for (numbers compared as people
   read them: 2 before 10).

This cannot make a circle: a parent's own most senior members stand at least one level higher
in the reporting line than the child's, so going up the tree always goes up the reporting line.
(A reporting line that is itself a circle is refused before the tree is looked at.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

if TYPE_CHECKING:
    from .models import Department

__all__ = [
    "TOP",
    "NewDepartment",
    "Placement",
    "department_tree",
    "natural_key",
    "place_departments",
]

# The vote of someone who reports to nobody: the top of the tree.
TOP: Any = object()


@dataclass(eq=False)
class NewDepartment:
    """A department the file creates: a row names one that does not exist, with its parent
    (`parent_value`), or without one: then the parent is inferred and `reason` says why."""

    code: str
    name: str
    parent_value: str
    row: int
    parent: Department | NewDepartment | None = None
    inferred: bool = False
    reason: str = ""
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Placement:
    """Where one department goes (a department, or TOP) and why, in a sentence."""

    parent: Any
    reason: str


def natural_key(number: str) -> tuple[tuple[int, int, str], ...]:
    """Employee numbers as people compare them: "H2" before "H10", "0099" before "100"."""
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", number)
        if part
    )


def place_departments(
    members: Mapping[Any, list[str]],
    manager_of: Mapping[str, str | None],
    department_of: Callable[[str], Any],
    describe: Callable[[Any], str],
    person: Callable[[str], str],
) -> dict[Any, Placement]:
    """A placement for each department in `members` (department → its members' numbers).

    `manager_of` is the whole reporting line after the import (number → manager's number or
    None); `department_of(number)` the department a person will be in; `describe(department or
    TOP)` names a department in the reasons, and `describe(None)` where the top lies ("under the
    top department 市第一人民医院"); `person(number)` names a person.
    """
    depth = _Depths(manager_of)
    placements: dict[Any, Placement] = {}
    for department, numbers in members.items():
        top = min(depth(number) for number in numbers)
        seniors = sorted((n for n in numbers if depth(n) == top), key=natural_key)
        votes: dict[Any, list[str]] = {}
        for number in seniors:
            manager = manager_of.get(number)
            target = department_of(manager) if manager else TOP
            if target is None or target is department:
                target = TOP
            votes.setdefault(target, []).append(number)
        # Most votes; among equals, the department of the lowest employee number.
        ranked = sorted(votes.items(), key=lambda item: (-len(item[1]), natural_key(item[1][0])))
        parent = ranked[0][0]
        placements[department] = Placement(
            parent, _reason(parent, ranked, seniors, manager_of, describe, person)
        )
    return placements


def _reason(
    parent: Any,
    ranked: list[tuple[Any, list[str]]],
    seniors: list[str],
    manager_of: Mapping[str, str | None],
    describe: Callable[[Any], str],
    person: Callable[[str], str],
) -> str:
    where = describe(parent)
    separator = pgettext("list separator", ", ")
    people = separator.join(person(number) for number in seniors)
    if len(ranked) == 1 and parent is TOP:
        if len(seniors) == 1:
            message = _(
                "%(people)s stands highest in it and reports to nobody, so it goes %(top)s."
            )
        else:
            message = _("%(people)s stand highest in it and report to nobody, so it goes %(top)s.")
        return message % {"people": people, "top": describe(None)}
    if len(seniors) == 1:
        manager = manager_of.get(seniors[0])
        return _("%(person)s stands highest in it and reports to %(manager)s in %(parent)s.") % {
            "person": people,
            "manager": person(manager) if manager else "",
            "parent": where,
        }
    if len(ranked) == 1:
        return _("%(people)s stand highest in it and all report into %(parent)s.") % {
            "people": people,
            "parent": where,
        }
    if len(ranked[0][1]) > len(ranked[1][1]):
        others = separator.join(
            _("%(department)s (%(count)s)") % {"department": describe(target), "count": len(voters)}
            for target, voters in ranked[1:]
        )
        return _(
            "Of the %(total)s people who stand highest in it, %(count)s report into %(parent)s, "
            "more than into any other department (%(others)s)."
        ) % {"total": len(seniors), "count": len(ranked[0][1]), "parent": where, "others": others}
    tied = [describe(target) for target, voters in ranked[1:] if len(voters) == len(ranked[0][1])]
    return _(
        "%(people)s stand highest in it and report into %(parent)s and %(others)s equally "
        "often; the tie goes to %(parent)s, where %(person)s, the lowest employee number among "
        "them, reports."
    ) % {
        "people": people,
        "parent": where,
        "others": separator.join(tied),
        "person": person(ranked[0][1][0]),
    }


class _Depths:
    """How many managers stand above each person (0 for the top), computed once per person."""

    def __init__(self, manager_of: Mapping[str, str | None]) -> None:
        self.manager_of = manager_of
        self.known: dict[str, int] = {}

    def __call__(self, number: str) -> int:
        chain: list[str] = []
        node: str | None = number
        seen: set[str] = set()
        while node is not None and node not in self.known and node not in seen:
            seen.add(node)
            chain.append(node)
            node = self.manager_of.get(node)
        # A circle (reported as an error elsewhere) counts from where it closes.
        depth = self.known.get(node, -1) if node is not None else -1
        for member in reversed(chain):
            depth += 1
            self.known[member] = depth
        return self.known[number]


def department_tree(
    new_departments: Iterable[NewDepartment], existing: Mapping[int, Department]
) -> list[dict[str, Any]]:
    """The new departments where they will stand, under their existing ancestors (not their
    siblings), as nested nodes {name, code, new, inferred, reason, members, children}."""
    return _Tree(new_departments, existing).nodes()


class _Tree:
    def __init__(
        self, new_departments: Iterable[NewDepartment], existing: Mapping[int, Department]
    ) -> None:
        self.by_id = existing
        self.children: dict[int | None, list[Any]] = {}
        placed: set[int] = set()
        for new in new_departments:
            node: Any = new
            while node is not None and id(node) not in placed:
                placed.add(id(node))
                parent = self._parent(node)
                self.children.setdefault(id(parent) if parent is not None else None, []).append(
                    node
                )
                node = parent

    def nodes(self, parent: Any = None) -> list[dict[str, Any]]:
        below = self.children.get(id(parent) if parent is not None else None, [])
        return [self._node(node) for node in sorted(below, key=lambda node: node.name)]

    def _parent(self, node: Any) -> Any:
        if isinstance(node, NewDepartment):
            return node.parent
        return self.by_id.get(node.parent_id) if node.parent_id else None

    def _node(self, node: Any) -> dict[str, Any]:
        new = isinstance(node, NewDepartment)
        return {
            "name": node.name,
            "code": node.code,
            "new": new,
            "inferred": new and node.inferred,
            "reason": node.reason if new else "",
            "members": len(node.members) if new else 0,
            "children": self.nodes(node),
        }
