"""Cues on or off for a whole organisation: administrators and HR for the whole organisation
switch them; every switch is audited (who, when, on or off; never a sentence or a label)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.people.models import Organisation
from miantan.people.rules import is_admin, is_hr_for_whole_organisation
from miantan.people.scopes import scope_for

SWITCHED = "records.cues.switched"
can_switch_talk_cues = is_admin | is_hr_for_whole_organisation


def is_enabled(organisation: Organisation | None) -> bool:
    """Cues are shown in this organisation's talks."""
    return organisation is not None and bool(organisation.talk_cues_enabled)


def may_switch(user: Any, organisation: Organisation) -> bool:
    """The user may switch cues for this organisation (to show the switch)."""
    own = scope_for(user).employee
    return (
        own is not None
        and own.is_active
        and own.organisation_id == organisation.pk
        and bool(can_switch_talk_cues.test(user))
    )


def ensure_may_switch(actor: Any, organisation: Organisation) -> None:
    """Refuse (audited) somebody who may not switch the cues, before reading their input."""
    if not may_switch(actor, organisation):
        own = scope_for(actor).employee
        audit(
            SWITCHED,
            actor=actor,
            outcome=Outcome.DENIED,
            obj=organisation,
            organisation_id=own.organisation_id if own is not None else None,
        )
        raise PermissionDenied


def set_enabled(organisation: Organisation, enabled: bool, *, actor: Any) -> Organisation:
    """Switch the cues of an organisation's talks on or off."""
    ensure_may_switch(actor, organisation)
    if organisation.talk_cues_enabled == enabled:
        return organisation
    with transaction.atomic():
        organisation.talk_cues_enabled = bool(enabled)
        organisation.save(update_fields=["talk_cues_enabled", "updated_at"])
        audit(
            SWITCHED,
            actor=actor,
            obj=organisation,
            organisation_id=organisation.pk,
            data={"enabled": bool(enabled)},
        )
    return organisation
