"""Changing nudge rules and running them.

`update_rule` is the one write of a rule (HR's page and the API call it); `scan` runs every
enabled rule, each with one set-based query (or a few) over the whole organisation, and
queues what is new; `scan_if_due` is the worker round's call, at most once per SCAN_INTERVAL
whatever the number of workers; `preview` counts the people a rule would nudge now.
"""

from __future__ import annotations

from copy import copy
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import InvalidFields
from miantan.notifications.enums import Channel
from miantan.people.models import Organisation

from .delivery import queue_nudges
from .enums import NudgeKind
from .finders import FINDERS, waiting_reminders
from .models import NudgeRule, ScanMark
from .params import clean, effective
from .queries import ensure_rules
from .rules import can_edit_nudge_rules, organisation_of

UPDATED = "nudges.rule.updated"
MAX_NAME = 200
MAX_DESCRIPTION = 2000
SCAN_MARK = "scan"


def scan_interval() -> timedelta:
    return timedelta(minutes=settings.MIANTAN_NUDGE_SCAN_MINUTES)


# --- who may change rules ----------------------------------------------------------------------


def may_edit(user: Any, rule: NudgeRule) -> bool:
    return organisation_of(user) == rule.organisation_id and bool(can_edit_nudge_rules.test(user))


def ensure_may_edit(user: Any, rule: NudgeRule) -> None:
    """Refuse (audited) somebody who may not change the rule, before reading their input."""
    if not may_edit(user, rule):
        audit(
            UPDATED,
            actor=user,
            outcome=Outcome.DENIED,
            obj=rule,
            organisation_id=rule.organisation_id,
        )
        raise PermissionDenied


# --- the one write -----------------------------------------------------------------------------


def update_rule(
    rule: NudgeRule,
    *,
    actor: Any,
    params: dict[str, Any] | None = None,
    enabled: bool | None = None,
    name: str | None = None,
    description: str | None = None,
) -> NudgeRule:
    """Change a rule's settings, switch it on or off, rename it or describe it; what is None
    stays. All or nothing: a refused value (InvalidFields, per field) changes nothing."""
    ensure_may_edit(actor, rule)
    changes: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    if params is not None:
        try:
            changes["params"] = clean(rule.kind, params)
        except InvalidFields as error:
            errors.update(error.errors)
    if name is not None:
        if len(name.strip()) > MAX_NAME:
            errors["name"] = _("Keep the name under %(count)s characters.") % {"count": MAX_NAME}
        changes["name"] = name.strip()
    if description is not None:
        if len(description.strip()) > MAX_DESCRIPTION:
            errors["description"] = _("Keep the description under %(count)s characters.") % {
                "count": MAX_DESCRIPTION
            }
        changes["description"] = description.strip()
    if enabled is not None:
        changes["enabled"] = bool(enabled)
    if errors:
        raise InvalidFields(errors)
    changed = {k: v for k, v in changes.items() if getattr(rule, k) != v}
    if not changed:
        return rule
    with transaction.atomic():
        for attribute, value in changed.items():
            setattr(rule, attribute, value)
        rule.updated_by = actor
        rule.save(update_fields=[*changed, "updated_by", "updated_at"])
        audit(
            UPDATED,
            actor=actor,
            obj=rule,
            organisation_id=rule.organisation_id,
            data={"kind": rule.kind, **{k: v for k, v in changed.items() if k != "description"}},
        )
    return rule


# --- running the rules -------------------------------------------------------------------------


def scan(organisation: Organisation | None = None, now: datetime | None = None) -> dict[str, int]:
    """Run every enabled rule (of one organisation, or of all) and queue the new nudges.
    Returns how many were nudged per kind. The number of queries depends on the number of
    rules, never on the number of employees."""
    now = now or timezone.now()
    organisations = (
        [organisation.pk]
        if organisation is not None
        else list(Organisation.objects.values_list("pk", flat=True))
    )
    ensure_rules(organisations)
    counts = dict.fromkeys(NudgeKind.values, 0)
    enabled = NudgeRule.objects.filter(organisation_id__in=organisations, enabled=True)
    for rule in enabled.order_by("pk"):
        counts[rule.kind] += run_rule(rule, now=now)
    return counts


def run_rule(rule: NudgeRule, *, now: datetime) -> int:
    """Run one rule: queue its new nudges and note when it ran and how many it nudged."""
    params = effective(rule.kind, rule.params)
    with transaction.atomic():
        if rule.kind == NudgeKind.REQUEST_WAITING:
            # Extends the talks' own SLA reminder: the organisation's SLA makes it due now.
            due = waiting_reminders(rule, params, now)
            count = due.filter(channel=Channel.INBOX).count()
            due.update(due_at=now)
        else:
            nudges = FINDERS[rule.kind](rule, params, now)
            count = queue_nudges(rule, f"nudge.{rule.kind}", nudges, now=now)
        NudgeRule.objects.filter(pk=rule.pk).update(last_run_at=now, last_count=count)
    return count


def preview(
    rule: NudgeRule, *, params: dict[str, Any] | None = None, now: datetime | None = None
) -> int:
    """How many people the rule would nudge now, with its settings or with `params` (checked
    first, InvalidFields when refused); nothing is queued or changed."""
    now = now or timezone.now()
    probe = copy(rule)
    probe.params = clean(rule.kind, params) if params is not None else rule.params
    settled = effective(rule.kind, probe.params)
    if rule.kind == NudgeKind.REQUEST_WAITING:
        due = waiting_reminders(probe, settled, now).filter(channel=Channel.INBOX)
        return due.values("recipient_id").distinct().count()
    return len({nudge.recipient_id for nudge in FINDERS[rule.kind](probe, settled, now)})


def scan_if_due(now: datetime | None = None) -> dict[str, int] | None:
    """Scan when the last scan started at least SCAN_INTERVAL ago; None otherwise. The
    worker that moves the mark forward (one conditional UPDATE) scans, the others do not."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            ScanMark.objects.get_or_create(name=SCAN_MARK)
    except IntegrityError:
        pass
    moved = ScanMark.objects.filter(
        Q(started_at__isnull=True) | Q(started_at__lte=now - scan_interval()), name=SCAN_MARK
    ).update(started_at=now)
    if not moved:
        return None
    return scan(now=now)
