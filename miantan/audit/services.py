"""Appending to the audit trail. Every read or write of a personal record calls `record`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from . import context
from .enums import Outcome
from .hashing import chain_hash, event_fields
from .models import AuditChainHead, AuditEvent


def record(
    action: str,
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    outcome: str = Outcome.OK,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    subject_id: int | None = None,
    organisation_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event, chained to the previous one.

    The chain head row is locked for the append, so concurrent requests queue here and the
    sequence has no gaps. Called inside the caller's transaction when there is one, so a write
    and its audit event commit or roll back together.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    ctx = context.current()
    user = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        head = _locked_head()
        event = AuditEvent(
            seq=head.seq + 1,
            at=timezone.now(),
            organisation_id=organisation_id,
            actor_id=user.pk if user is not None else None,
            actor_label=_label(user),
            action=action,
            outcome=str(outcome),
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            subject_id=subject_id,
            ip=ctx.ip,
            request_id=ctx.request_id,
            channel=ctx.channel,
            data=data or {},
            prev_hash=head.hash,
        )
        event.hash = chain_hash(head.hash, event_fields(event))
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=head.pk).update(seq=event.seq, hash=event.hash)
    return event


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        head, _ = AuditChainHead.objects.get_or_create(pk=1)
    return head


def _label(user: Any) -> str:
    if user is None:
        return ""
    employee = getattr(user, "employee", None)
    if employee is not None:
        return f"{employee.name} ({employee.employee_number})"
    return str(user.get_username())
