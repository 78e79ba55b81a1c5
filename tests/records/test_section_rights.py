"""Who may write which section of every built-in template, in every state of the record,
tried through the services (not only asked of the rules): the employee writes the employee's
sections, the talk's counterpart the manager's, HR for the employee the HR sections, both
sides the shared ones; nobody writes once both have confirmed; administrators only read.
A sealed section filled by both has one copy per side, written by that side only, and the
other side reads it once both copies are handed in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from miantan.core.errors import ConflictError
from miantan.records import definitions, queries, services
from miantan.records.builtin import BUILTINS
from miantan.records.definitions import FieldType, Section
from miantan.records.enums import RecordState
from miantan.records.models import Block, Record, Template
from miantan.records.templates import install_builtin_templates
from tests.personas import Hospital
from tests.records.builders import TALK_AT, scheduled_talk

pytestmark = pytest.mark.django_db

# Who writes what, written out here independently of the rules module.
EXPECTED_WRITERS = {
    "employee": {"employee"},
    "manager": {"manager"},
    "hr": {"hr"},
    "both": {"employee", "manager"},
}
STATES = (RecordState.PREPARING, RecordState.IN_PROGRESS, RecordState.CONFIRMED)


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


def people(hospital: Hospital) -> dict[str, Any]:
    return {
        "employee": hospital.nurse_wang,
        "manager": hospital.head_nurse,
        "hr": hospital.hr_partner,
        "admin": hospital.admin,
    }


def record_from(hospital: Hospital, key: str, state: str) -> Record:
    install_builtin_templates(hospital.organisation)
    template = Template.objects.get(organisation=hospital.organisation, key=key)
    talk = scheduled_talk(hospital)
    record = Record.objects.create(
        talk=talk,
        organisation=hospital.organisation,
        template_version=template.current,
        state=state,
    )
    services._create_blocks(record, definitions.parse(template.current.definition), talk)
    return record


def some_values(section: Section, current: dict[str, Any]) -> dict[str, Any]:
    """Valid values for every field of the section."""
    entry: dict[str, Any] = {}
    for spec in section.fields:
        if spec.type in (FieldType.SHORT_TEXT, FieldType.LONG_TEXT):
            entry[spec.key] = "按时完成"
        elif spec.type in (FieldType.NUMBER, FieldType.RATING):
            entry[spec.key] = int(spec.minimum if spec.minimum is not None else 1)
        elif spec.type == FieldType.CHOICE:
            entry[spec.key] = spec.choices[0].value
        elif spec.type == FieldType.DATE:
            entry[spec.key] = "2026-06-30"
        elif spec.type == FieldType.GOALS:
            entry[spec.key] = [{"goal": "交接零差错", "measure": "", "due": "", "support": ""}]
        elif spec.type == FieldType.KPI_TABLE:
            entry[spec.key] = current.get(spec.key, [])
    return {"items": [entry]} if section.repeatable else entry


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("key", [builtin.key for builtin in BUILTINS])
def test_who_may_write_each_section(hospital, key, state):
    record = record_from(hospital, key, state)
    definition = definitions.parse(record.template_version.definition)
    writable = state in (RecordState.PREPARING, RecordState.IN_PROGRESS)
    tried = 0
    for section in definition.sections:
        for side, person in people(hospital).items():
            for block in Block.objects.filter(record=record, section=section.key):
                own_copy = not section.per_side or block.side == side
                may = writable and side in EXPECTED_WRITERS[section.filled_by] and own_copy
                values = some_values(section, block.values)
                record.refresh_from_db()
                try:
                    services.save_block(
                        record,
                        block.pk,
                        actor=person.user,
                        values=values,
                        base_version=block.version,
                    )
                    saved = True
                except (PermissionDenied, ConflictError):
                    saved = False
                assert saved == may, (key, state, section.key, block.side, side)
                tried += 1
    assert tried >= len(definition.sections) * 4


@pytest.mark.parametrize(
    "key",
    [
        b.key
        for b in BUILTINS
        if any(s.get("sealed") and s.get("filled_by") == "both" for s in b.definition["sections"])
    ],
)
def test_sealed_copies_are_read_by_the_other_side_once_both_are_handed_in(hospital, key):
    record = record_from(hospital, key, RecordState.IN_PROGRESS)
    definition = definitions.parse(record.template_version.definition)
    sealed = [s for s in definition.sections if s.per_side]
    assert sealed
    everyone = people(hospital)

    def readable(person) -> dict[tuple[str, str], bool]:
        page = queries.access_record(person.user, record.talk_id)
        return {
            (view.section.key, block.side): block.readable
            for view in page.sections
            for block in view.blocks
            if view.section.per_side
        }

    for section in sealed:
        for side in ("employee", "manager"):
            block = Block.objects.get(record=record, section=section.key, side=side)
            services.save_block(
                record,
                block.pk,
                actor=everyone[side].user,
                values=some_values(section, block.values),
                base_version=block.version,
            )
    for section in sealed:
        assert readable(everyone["employee"])[(section.key, "manager")] is False
        assert readable(everyone["manager"])[(section.key, "employee")] is False
        assert readable(everyone["hr"])[(section.key, "employee")] is False
    for section in sealed:
        for side in ("employee", "manager"):
            block = Block.objects.get(record=record, section=section.key, side=side)
            services.submit_block(
                record, block.pk, actor=everyone[side].user, base_version=block.version
            )
    for section in sealed:
        assert readable(everyone["employee"])[(section.key, "manager")] is True
        assert readable(everyone["hr"])[(section.key, "employee")] is True
