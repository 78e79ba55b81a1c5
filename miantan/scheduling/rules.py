"""Who may see and change an organisation's scheduling data (predicates, no queries beyond
`is_hr_for_whole_organisation`'s one on departments)."""

from __future__ import annotations

from typing import Any

import rules

from miantan.people.rules import is_admin, is_hr, is_hr_for_whole_organisation
from miantan.people.scopes import scope_for

# The holiday calendar is the organisation's: HR partners of one department may look at it,
# only HR for the whole organisation and administrators change it.
can_view_holidays = is_admin | is_hr
can_manage_holidays = is_admin | is_hr_for_whole_organisation


def organisation_of(user: Any) -> int | None:
    """The organisation id of the signed-in, active employee, or None."""
    own = scope_for(user).employee
    return own.organisation_id if own is not None and own.is_active else None


rules.add_perm("scheduling.view_holidays", can_view_holidays)
rules.add_perm("scheduling.manage_holidays", can_manage_holidays)


@rules.predicate
def is_in_organisation(user: Any, organisation: Any) -> bool:
    """The user is an active employee of this organisation."""
    return organisation is not None and organisation_of(user) == organisation.pk


# Shift codes and the default working hours hold for everyone in the organisation: HR partners
# of one department may read them, HR for the whole organisation and administrators change them.
can_view_work_patterns = is_in_organisation & (is_admin | is_hr)
can_manage_work_patterns = is_in_organisation & (is_admin | is_hr_for_whole_organisation)
