"""Database triggers that refuse changes to locked rows (e.g. archived records), registered by
the apps that own them, and lifted only for one transaction of a maintenance command that must
rewrite those rows byte for byte the same in meaning (re-encrypting under a new key,
`rotate_keys`). Lifting drops the triggers inside the caller's transaction and creates them
again before it commits; on both SQLite and PostgreSQL that is transactional, so no other
connection ever sees the rows unguarded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction

# name -> (create statements, drop statements) for the current database vendor
_LOCKS: dict[str, Callable[[str], tuple[list[str], list[str]]]] = {}


def register(name: str, statements: Callable[[str], tuple[list[str], list[str]]]) -> None:
    _LOCKS[name] = statements


@contextmanager
def lifted() -> Iterator[None]:
    """Inside an atomic block: the registered triggers are gone until the block ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("row locks are lifted only inside a transaction")
    plans = [statements(connection.vendor) for statements in _LOCKS.values()]
    with connection.cursor() as cursor:
        for _create, drop in plans:
            for sql in drop:
                cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for create, _drop in plans:
                for sql in create:
                    cursor.execute(sql)
