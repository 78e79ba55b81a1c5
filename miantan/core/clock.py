"""The database's clock, for leases several processes compare.

A worker's own clock may be wrong or jump (a virtual machine resumed, an operator's fix, a
test that travels in time); leases that workers compare across processes are read and written
on the database server's clock instead, which every worker shares.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.db import connection


def database_now() -> datetime:
    """The database server's current time (UTC, aware), read anew on every call."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp()")
            value = cursor.fetchone()[0]
            return value.astimezone(UTC)
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        text = cursor.fetchone()[0]
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class DatabaseClock:
    """The database's clock read once, then carried forward by this process's monotonic clock
    (which never jumps): one query for a whole batch of lease decisions instead of one each."""

    def __init__(self) -> None:
        self._start = database_now()
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)
