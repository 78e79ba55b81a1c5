"""Half-open intervals [start, end): merge, union, intersect, subtract, clip, duration.

Pure functions on lists of (start, end) pairs. Points are timezone-aware datetimes (normalised
to UTC by `normalise`) or plain integers (seconds since the epoch, which the slot search uses
for speed); the algebra is the same for both. Every function returns a sorted list of disjoint,
non-empty intervals in which touching intervals ([1, 2) and [2, 3)) are joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

P = TypeVar("P", datetime, int)
Interval = tuple[P, P]

__all__ = [
    "clip",
    "contains",
    "duration",
    "intersect",
    "merge",
    "normalise",
    "overlaps",
    "subtract",
    "union",
]


def normalise(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Aware datetimes in UTC, merged. Raises ValueError for a naive datetime."""
    converted = []
    for start, end in intervals:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("intervals need timezone-aware datetimes")
        converted.append((start.astimezone(UTC), end.astimezone(UTC)))
    return merge(converted)


def merge(intervals: Iterable[tuple[P, P]]) -> list[tuple[P, P]]:
    """Sorted, with overlapping and touching intervals joined and empty ones dropped."""
    result: list[tuple[P, P]] = []
    for start, end in sorted(intervals):
        if not start < end:
            continue
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def union(*groups: Iterable[tuple[P, P]]) -> list[tuple[P, P]]:
    return merge(interval for group in groups for interval in group)


def intersect(first: Sequence[tuple[P, P]], second: Sequence[tuple[P, P]]) -> list[tuple[P, P]]:
    """Where both are covered. Both inputs must be merged (sorted and disjoint)."""
    result: list[tuple[P, P]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if start < end:
            result.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return result


def subtract(base: Sequence[tuple[P, P]], removed: Sequence[tuple[P, P]]) -> list[tuple[P, P]]:
    """What of `base` is not covered by `removed`. Both inputs must be merged."""
    result: list[tuple[P, P]] = []
    j = 0
    for start, end in base:
        # Removed intervals that end before this one starts cannot touch it or any later one.
        while j < len(removed) and removed[j][1] <= start:
            j += 1
        cursor = start
        k = j
        while k < len(removed) and removed[k][0] < end:
            if removed[k][0] > cursor:
                result.append((cursor, removed[k][0]))
            cursor = max(cursor, removed[k][1])
            k += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def clip(intervals: Sequence[tuple[P, P]], window: tuple[P, P]) -> list[tuple[P, P]]:
    """The parts of merged `intervals` inside `window`."""
    return intersect(intervals, [window] if window[0] < window[1] else [])


def overlaps(intervals: Sequence[tuple[P, P]], start: P, end: P) -> bool:
    return any(a < end and start < b for a, b in intervals)


def contains(intervals: Sequence[tuple[P, P]], start: P, end: P) -> bool:
    """Whether one interval of merged `intervals` covers all of [start, end)."""
    return any(a <= start and end <= b for a, b in intervals)


def duration(intervals: Iterable[tuple[datetime, datetime]]) -> timedelta:
    """Total length of merged datetime intervals."""
    return sum((end - start for start, end in intervals), timedelta())
