"""What of an audit event is signed, its link in the keyed chain (miantan.core.chain), and the
chains themselves: one per organisation and a global one."""

from __future__ import annotations

import re
from typing import Any

from miantan.core.chain import GENESIS, KeyRing, Link, link_hash

__all__ = [
    "CHAIN",
    "GENESIS",
    "GLOBAL_CHAIN",
    "HASHED_FIELDS",
    "chain_name",
    "chain_of",
    "event_fields",
    "event_hash",
    "event_link",
    "parse_chain_name",
]

# The name of the global chain in its checkpoints; an organisation's chain is "audit:org:<id>".
CHAIN = "audit"
# Events without an organisation, and every event written before the trail had a chain per
# organisation, are in the global chain. Organisation ids start at 1.
GLOBAL_CHAIN = 0
_ORGANISATION_CHAIN = re.compile(rf"^{CHAIN}:org:([1-9][0-9]*)$")

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


def chain_of(organisation_id: int | None) -> int:
    """The chain a new event of this organisation (None: of none) is appended to."""
    return GLOBAL_CHAIN if organisation_id is None else organisation_id


def chain_name(chain: int) -> str:
    """How checkpoints and verification name a chain."""
    return CHAIN if chain == GLOBAL_CHAIN else f"{CHAIN}:org:{chain}"


def parse_chain_name(name: str) -> int | None:
    """The chain a checkpoint names, or None for a name that is not one of the audit trail."""
    if name == CHAIN:
        return GLOBAL_CHAIN
    match = _ORGANISATION_CHAIN.match(name)
    return int(match.group(1)) if match else None


def event_fields(event: Any) -> dict[str, Any]:
    """The signed fields. An organisation's events also sign their chain; the global chain's
    are signed as the single chain's were, so events written before the split still verify."""
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    if event.chain != GLOBAL_CHAIN:
        fields["chain"] = event.chain
    return fields


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
