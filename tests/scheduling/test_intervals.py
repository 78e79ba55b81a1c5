"""The interval algebra against a model: a set of covered points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miantan.scheduling import intervals

raw = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda pair: (min(pair), max(pair))),
    max_size=8,
)


def points(spans: list[tuple[int, int]]) -> set[int]:
    return {point for start, end in spans for point in range(start, end)}


def is_canonical(spans: list[tuple[int, int]]) -> bool:
    return all(start < end for start, end in spans) and all(
        first[1] < second[0] for first, second in pairwise(spans)
    )


@settings(max_examples=500)
@given(raw)
def test_merge_keeps_the_points_and_is_canonical(spans: list[tuple[int, int]]) -> None:
    merged = intervals.merge(spans)
    assert points(merged) == points(spans)
    assert is_canonical(merged)


@settings(max_examples=500)
@given(raw, raw)
def test_set_operations_match_the_points(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    first, second = intervals.merge(a), intervals.merge(b)
    for result, expected in (
        (intervals.union(first, second), points(a) | points(b)),
        (intervals.intersect(first, second), points(a) & points(b)),
        (intervals.subtract(first, second), points(a) - points(b)),
    ):
        assert points(result) == expected
        assert is_canonical(result)


@settings(max_examples=500)
@given(raw, st.tuples(st.integers(0, 60), st.integers(0, 60)))
def test_clip_keeps_what_is_inside_the_window(
    a: list[tuple[int, int]], window: tuple[int, int]
) -> None:
    clipped = intervals.clip(intervals.merge(a), window)
    assert points(clipped) == points(a) & set(range(*window))


@settings(max_examples=200)
@given(raw, st.integers(-12, 14))
def test_datetimes_are_normalised_to_utc(a: list[tuple[int, int]], offset: int) -> None:
    zone = timezone(timedelta(hours=offset))
    base = datetime(2026, 11, 30, tzinfo=zone)
    spans = [(base + timedelta(hours=s), base + timedelta(hours=e)) for s, e in a]
    normalised = intervals.normalise(spans)
    assert all(start.tzinfo is UTC for start, _end in normalised)
    assert intervals.duration(normalised) == timedelta(hours=len(points(a)))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        intervals.normalise([(datetime(2026, 1, 1), datetime(2026, 1, 2))])


def test_touching_intervals_merge_and_half_open_ends_do_not_overlap() -> None:
    assert intervals.merge([(1, 2), (2, 3)]) == [(1, 3)]
    assert not intervals.overlaps([(1, 2)], 2, 3)
    assert intervals.contains([(1, 5)], 2, 5)
