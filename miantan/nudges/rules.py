"""Who may see and change an organisation's nudge rules. They nudge everyone in the
organisation: every HR partner and administrator reads them, HR for the whole organisation
and administrators change them."""

from __future__ import annotations

from typing import Any

import rules

from miantan.people.rules import is_admin, is_hr, is_hr_for_whole_organisation
from miantan.people.scopes import scope_for

can_view_nudge_rules = is_admin | is_hr
can_edit_nudge_rules = is_admin | is_hr_for_whole_organisation

rules.add_perm("nudges.view_rules", can_view_nudge_rules)
rules.add_perm("nudges.edit_rules", can_edit_nudge_rules)


def organisation_of(user: Any) -> int | None:
    """The organisation id of the signed-in, active employee, or None."""
    own = scope_for(user).employee
    return own.organisation_id if own is not None and own.is_active else None
