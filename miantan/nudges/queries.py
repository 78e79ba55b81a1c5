"""Reading an organisation's nudge rules: the list (the missing kinds seeded with their
defaults first) and one rule by id (404 for another organisation's or an unknown one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import Http404

from miantan.people.models import Organisation

from .enums import NudgeKind
from .models import NudgeRule, ScanMark
from .rules import can_view_nudge_rules, organisation_of


def ensure_rules(organisation_ids: list[int]) -> None:
    """Every organisation has one rule of every kind, on, with the kind's defaults (one
    insert; a rule already there is kept as it is)."""
    from .params import defaults

    NudgeRule.objects.bulk_create(
        [
            NudgeRule(organisation_id=org, kind=kind, params=defaults(kind))
            for org in organisation_ids
            for kind in NudgeKind.values
        ],
        ignore_conflicts=True,
    )


def rules_of(organisation: Organisation) -> list[NudgeRule]:
    ensure_rules([organisation.pk])
    order = {kind: i for i, kind in enumerate(NudgeKind.values)}
    found = NudgeRule.objects.filter(organisation=organisation).select_related("updated_by")
    return sorted(found, key=lambda rule: order.get(rule.kind, len(order)))


def rules_visible_to(user: Any) -> list[NudgeRule]:
    """The rules of the user's organisation, for HR and administrators (403 for others)."""
    org = organisation_of(user)
    if org is None or not can_view_nudge_rules.test(user):
        raise PermissionDenied
    return rules_of(Organisation.objects.get(pk=org))


def access_rule(user: Any, rule_id: int) -> NudgeRule:
    """One rule of the user's organisation; 403 for who may not read rules, 404 for a rule of
    another organisation or none."""
    org = organisation_of(user)
    if org is None or not can_view_nudge_rules.test(user):
        raise PermissionDenied
    ensure_rules([org])
    rule = NudgeRule.objects.filter(pk=rule_id, organisation_id=org).first()
    if rule is None:
        raise Http404
    return rule


def last_scan_started() -> datetime | None:
    """When a worker round last started a nudge scan (every MIANTAN_NUDGE_SCAN_MINUTES while
    a worker runs): the delivery workers' sign of life when they have nothing to send."""
    return ScanMark.objects.aggregate(last=Max("started_at"))["last"]
