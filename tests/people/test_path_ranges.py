"""The SQLite range form of "path starts with" selects exactly what the prefix test selects."""

from hypothesis import given, settings
from hypothesis import strategies as st

from miantan.people.queries import under

segment = st.integers(min_value=1, max_value=2_000_000).map(str)
path = st.lists(segment, min_size=1, max_size=8).map(lambda ids: "/" + "/".join(ids) + "/")


@settings(max_examples=500)
@given(prefix=path, candidate=path)
def test_path_range_matches_prefix_test(prefix: str, candidate: str) -> None:
    upper = prefix[:-1] + "0"
    in_range = prefix <= candidate < upper

    assert in_range == candidate.startswith(prefix)


def test_path_under_uses_the_prefix_on_this_database() -> None:
    condition = under("manager_path", "/1/7/")

    assert condition.children in (
        [("manager_path__startswith", "/1/7/")],
        [("manager_path__gte", "/1/7/"), ("manager_path__lt", "/1/70")],
    )
