"""The staging table of a KPI import: checked rows go in fast, then one set-based upsert.

PostgreSQL receives the rows with COPY in chunks; SQLite with batched inserts. Both then find
duplicates within the import with one grouped query, multiply the numbers of per cent KPIs
that the file gave as fractions (`scale`, decided by importing.py), and write the values with
one INSERT … SELECT … ON CONFLICT DO UPDATE that leaves unchanged rows alone. Every check of
a row happens before it reaches this table, in the same code for both databases.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .models import KpiValue

# row number, employee id, KPI id, period id, value, target (or None), source
StagedRow = tuple[int, int, int, int, str, str | None, str]

_TABLE = "metrics_value_staging"
_CHUNK = 50_000
_COLUMNS = "row_number, employee_id, kpi_id, period_id, value, target, source"
# Every name put into SQL text here is a constant of this module or a model's table name.
_DUPLICATES = f"""
    SELECT s.row_number, d.first_row
    FROM {_TABLE} s
    JOIN (
        SELECT employee_id, kpi_id, period_id, min(row_number) AS first_row
        FROM {_TABLE}
        GROUP BY employee_id, kpi_id, period_id
        HAVING count(*) > 1
    ) d ON d.employee_id = s.employee_id AND d.kpi_id = s.kpi_id AND d.period_id = s.period_id
    WHERE s.row_number > d.first_row
    ORDER BY s.row_number
    LIMIT %s
"""  # noqa: S608
# The numbers keep every decimal the file gave until after `scale`; the values table rounds
# them to its four places on the way in.
_SCALE = f"""
    UPDATE {_TABLE} SET value = round(value * %s, 4), target = round(target * %s, 4)
    WHERE kpi_id IN ({{ids}})
"""  # noqa: S608
# Target and source: a blank in the import leaves the stored one alone.
_UPSERT = """
    INSERT INTO {values} AS t
        (organisation_id, employee_id, kpi_id, period_id, value, target, source, updated_at)
    SELECT %s, employee_id, kpi_id, period_id, value, target, source, %s FROM {staging} WHERE true
    ON CONFLICT (employee_id, kpi_id, period_id) DO UPDATE SET
        value = excluded.value,
        target = COALESCE(excluded.target, t.target),
        source = CASE WHEN excluded.source = '' THEN t.source ELSE excluded.source END,
        updated_at = excluded.updated_at
    WHERE t.value {distinct} excluded.value
        OR (excluded.target IS NOT NULL AND t.target {distinct} excluded.target)
        OR (excluded.source <> '' AND t.source {distinct} excluded.source)
"""


class Staging:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.values_table = KpiValue._meta.db_table

    def create(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_TABLE}")
            cursor.execute(
                f"CREATE TEMP TABLE {_TABLE} (row_number integer NOT NULL, "
                "employee_id bigint NOT NULL, kpi_id bigint NOT NULL, period_id bigint NOT NULL, "
                "value numeric NOT NULL, target numeric, "
                "source varchar(50) NOT NULL)"
            )

    def drop(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_TABLE}")

    def add(self, row: StagedRow) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def duplicates(self, limit: int) -> list[tuple[int, int]]:
        """(row, first row) for every row that repeats an earlier row's employee, KPI, period."""
        with self.connection.cursor() as cursor:
            cursor.execute(_DUPLICATES, [limit])
            return [(row, first) for row, first in cursor.fetchall()]

    def scale(self, kpi_ids: Sequence[int], factor: int) -> None:
        """Multiply the staged values and targets of these KPIs (fractions into per cents)."""
        placeholders = ", ".join(["%s"] * len(kpi_ids))
        with self.connection.cursor() as cursor:
            cursor.execute(_SCALE.format(ids=placeholders), [factor, factor, *kpi_ids])

    def people(self) -> int:
        """How many different employees the staged rows are about."""
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT count(DISTINCT employee_id) FROM {_TABLE}")  # noqa: S608
            return int(cursor.fetchone()[0])

    def upsert(self, organisation_id: int, now: datetime) -> tuple[int, int, int]:
        """Write the staged rows; returns (created, updated, people with either)."""
        raise NotImplementedError

    def _upsert_sql(self, distinct: str) -> str:
        return _UPSERT.format(values=self.values_table, staging=_TABLE, distinct=distinct)

    def _now(self, now: datetime) -> Any:
        return self.connection.ops.adapt_datetimefield_value(now)


class PostgresStaging(Staging):
    """Rows are buffered as COPY text and sent in chunks; each chunk is one COPY."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        self.buffer: list[str] = []

    def add(self, row: StagedRow) -> None:
        number, employee, kpi, period, value, target, source = row
        target_text = r"\N" if target is None else target
        if source and not source.isalnum():
            source = _copy_escape(source)
        self.buffer.append(
            f"{number}\t{employee}\t{kpi}\t{period}\t{value}\t{target_text}\t{source}\n"
        )
        if len(self.buffer) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {_TABLE} ({_COLUMNS}) FROM STDIN") as copy,
        ):
            copy.write("".join(self.buffer))
        self.buffer.clear()

    def upsert(self, organisation_id: int, now: datetime) -> tuple[int, int, int]:
        returning = "RETURNING (xmax = 0) AS new, employee_id"
        sql = (
            f"WITH written AS ({self._upsert_sql('IS DISTINCT FROM')} {returning}) "  # noqa: S608
            "SELECT count(*) FILTER (WHERE new), count(*) FILTER (WHERE NOT new), "
            "count(DISTINCT employee_id) FROM written"
        )
        with self.connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_TABLE}")
            cursor.execute(sql, [organisation_id, self._now(now)])
            created, updated, people = cursor.fetchone()
        return int(created), int(updated), int(people)


class SqliteStaging(Staging):
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        self.buffer: list[StagedRow] = []

    def add(self, row: StagedRow) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                self.buffer,
            )
        self.buffer.clear()

    def upsert(self, organisation_id: int, now: datetime) -> tuple[int, int, int]:
        # SQLite's upsert cannot report which rows it inserted; count them first.
        counts = f"""
            SELECT count(*) - count(existing), coalesce(sum(existing IS NOT NULL AND changed), 0),
                   count(DISTINCT CASE WHEN existing IS NULL OR changed THEN employee_id END)
            FROM (
                SELECT s.employee_id, t.id AS existing, (t.value IS NOT s.value
                       OR (s.target IS NOT NULL AND t.target IS NOT s.target)
                       OR (s.source <> '' AND t.source IS NOT s.source)) AS changed
                FROM {_TABLE} s LEFT JOIN {self.values_table} t
                  ON t.employee_id = s.employee_id AND t.kpi_id = s.kpi_id
                 AND t.period_id = s.period_id
            )
        """  # noqa: S608
        with self.connection.cursor() as cursor:
            cursor.execute(counts)
            created, updated, people = cursor.fetchone()
            cursor.execute(self._upsert_sql("IS NOT"), [organisation_id, self._now(now)])
        return int(created), int(updated), int(people)


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@contextmanager
def staging_table(connection: BaseDatabaseWrapper) -> Iterator[Staging]:
    """A fresh staging table for the current transaction, dropped when the block succeeds.
    When it fails, the rollback of the surrounding transaction removes the table."""
    staging: Staging = (
        PostgresStaging(connection)
        if connection.vendor == "postgresql"
        else SqliteStaging(connection)
    )
    staging.create()
    yield staging
    staging.drop()
