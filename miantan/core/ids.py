"""Ids from URLs and request bodies: whatever was sent, an int or nothing."""

from __future__ import annotations

from typing import Any

# The largest id a database column can hold (a signed 64-bit integer). A larger number names no
# row, and handed to the database it fails ("Python int too large to convert to SQLite INTEGER").
LARGEST_ID = 2**63 - 1


def as_id(value: Any) -> int | None:
    """`value` as an int, or None when it is not one ("12" → 12, "abc" → None) or is beyond what
    any id column holds."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -LARGEST_ID <= number <= LARGEST_ID else None
