"""Ids from URLs and request bodies: whatever was sent, an int or nothing."""

from __future__ import annotations

from typing import Any


def as_id(value: Any) -> int | None:
    """`value` as an int, or None when it is not one ("12" → 12, "abc" → None)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
