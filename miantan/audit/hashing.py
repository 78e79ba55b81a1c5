"""What of an audit event is signed, and its link in the keyed chain (miantan.core.chain)."""

from __future__ import annotations

from typing import Any

from miantan.core.chain import GENESIS, KeyRing, Link, link_hash

__all__ = ["CHAIN", "GENESIS", "HASHED_FIELDS", "event_fields", "event_hash", "event_link"]

# The name of the audit trail in its checkpoints.
CHAIN = "audit"

HASHED_FIELDS = (
    "seq",
    "at",
    "organisation_id",
    "actor_id",
    "actor_label",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "subject_id",
    "ip",
    "request_id",
    "channel",
    "data",
)


def event_fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in HASHED_FIELDS}


def event_hash(ring: KeyRing, event: Any) -> str:
    """The event's signature over its fields, its key id and its predecessor's hash."""
    return link_hash(ring, event.key_id, event.prev_hash, event_fields(event))


def event_link(event: Any) -> Link:
    return Link(
        seq=event.seq,
        prev_hash=event.prev_hash,
        hash=event.hash,
        key_id=event.key_id,
        fields=event_fields(event),
        position=event.pk,
    )
