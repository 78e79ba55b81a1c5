"""Who may see what of the archive. Signing and resolving are decided in `services`
(`may_sign`, `may_resolve_appeal`); these are the reading rules, shared by pages and API.

The employee's file (档案) is open to whoever may see the employee's personal records
(`people.queries.access_employee`); the employee, HR and administrators following them see
every signed talk there, the others (managers, department heads) the talks they held."""

from __future__ import annotations

from typing import Any

import rules

from miantan.people.models import Employee
from miantan.people.rules import is_admin_of, is_hr_for, is_self

sees_whole_file: Any = is_self | is_hr_for | is_admin_of

__all__ = ["Employee", "rules", "sees_whole_file"]
