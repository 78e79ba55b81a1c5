"""The database's own refusal to change what is archived (PRODUCT.md D3).

PostgreSQL: UPDATE and DELETE are refused on an archived record and its blocks, on an archived
addendum (one waiting for its second signature may be archived, never deleted), and on every
snapshot, signature and archive entry (those are append-only from the start). SQLite: the same
for UPDATE; DELETE is left to the chain to detect, because Django empties SQLite tables with
DELETE (the `flush` command, the test runner). The triggers are lifted only inside one
transaction of `rotate_keys`, which rewrites sealed values under a new key
(`miantan.core.rowlocks`).
"""

from __future__ import annotations

APPEND_ONLY = ("archive_snapshot", "archive_signature", "archive_archiveentry")
MESSAGE = "archived: this row cannot be changed"

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION miantan_refuse_archived() RETURNS trigger AS $$
BEGIN
  IF TG_TABLE_NAME = 'records_record' THEN
    IF OLD.state = 'archived' THEN
      RAISE EXCEPTION 'record %: archived, it cannot be changed', OLD.id
        USING ERRCODE = 'P0001';
    END IF;
  ELSIF TG_TABLE_NAME = 'archive_addendum' THEN
    IF TG_OP = 'DELETE' OR OLD.state = 'archived' THEN
      RAISE EXCEPTION 'addendum %: archived, it cannot be changed', OLD.id
        USING ERRCODE = 'P0001';
    END IF;
  ELSIF TG_TABLE_NAME = 'records_block' THEN
    IF EXISTS (SELECT 1 FROM records_record r WHERE r.id = OLD.record_id
               AND r.state = 'archived') THEN
      RAISE EXCEPTION 'block % of an archived record: it cannot be changed', OLD.id
        USING ERRCODE = 'P0001';
    END IF;
  ELSE
    RAISE EXCEPTION '% %: append-only, it cannot be changed', TG_TABLE_NAME, OLD.id
      USING ERRCODE = 'P0001';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

# The tables of the first migration (0002), and those of today.
FIRST_TABLES = ("records_record", "records_block", *APPEND_ONLY)
TABLES = (*FIRST_TABLES, "archive_addendum")


def _name(table: str) -> str:
    return f"miantan_lock_{table}"


def statements(vendor: str, tables: tuple[str, ...] = TABLES) -> tuple[list[str], list[str]]:
    """(create, drop) statements for the vendor and those of `tables`; none for a database
    without triggers."""
    if vendor == "postgresql":
        create = [_PG_FUNCTION] + [
            f"CREATE TRIGGER {_name(t)} BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION miantan_refuse_archived()"
            for t in tables
        ]
        drop = [f"DROP TRIGGER IF EXISTS {_name(t)} ON {t}" for t in tables]
        return create, drop
    if vendor == "sqlite":
        abort = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        sqlite = [
            f"CREATE TRIGGER {_name('records_record')} BEFORE UPDATE ON records_record "
            f"FOR EACH ROW WHEN OLD.state = 'archived' {abort}",
            f"CREATE TRIGGER {_name('archive_addendum')} BEFORE UPDATE ON archive_addendum "
            f"FOR EACH ROW WHEN OLD.state = 'archived' {abort}",
            f"CREATE TRIGGER {_name('records_block')} BEFORE UPDATE ON records_block "  # noqa: S608
            "FOR EACH ROW WHEN EXISTS (SELECT 1 FROM records_record r "
            f"WHERE r.id = OLD.record_id AND r.state = 'archived') {abort}",
        ] + [
            f"CREATE TRIGGER {_name(t)} BEFORE UPDATE ON {t} FOR EACH ROW {abort}"
            for t in APPEND_ONLY
        ]
        create = [sql for sql in sqlite if any(f" ON {t} " in sql for t in tables)]
        drop = [f"DROP TRIGGER IF EXISTS {_name(t)}" for t in tables]
        return create, drop
    return [], []


def install(apps: object, schema_editor: object, tables: tuple[str, ...] = TABLES) -> None:
    create, _drop = statements(schema_editor.connection.vendor, tables)  # type: ignore[attr-defined]
    for sql in create:
        schema_editor.execute(sql, params=None)  # type: ignore[attr-defined]


def install_first(apps: object, schema_editor: object) -> None:
    """The triggers of migration 0002, before addenda existed."""
    install(apps, schema_editor, FIRST_TABLES)


def remove_first(apps: object, schema_editor: object) -> None:
    remove(apps, schema_editor, FIRST_TABLES)


def reinstall(apps: object, schema_editor: object) -> None:
    """Every trigger again, after a migration added a table to them."""
    remove(apps, schema_editor)
    install(apps, schema_editor)


def remove(apps: object, schema_editor: object, tables: tuple[str, ...] = TABLES) -> None:
    _create, drop = statements(schema_editor.connection.vendor, tables)  # type: ignore[attr-defined]
    for sql in drop:
        schema_editor.execute(sql, params=None)  # type: ignore[attr-defined]
