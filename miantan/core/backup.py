"""Backups (PRODUCT.md I4): one directory holding the database, the uploaded files and a
manifest, and its restore into an empty database, checked against that manifest.

A backup is a directory ``miantan-backup-<UTC time>/``:

- ``database.dump``: PostgreSQL's ``pg_dump -Fc`` (restored with ``pg_restore``), or
  ``database.sqlite3``: a copy made with SQLite's online backup API;
- ``files/<root>/…``: the uploaded files of every file root (MEDIA_ROOT, the attachments);
- ``manifest.json``: written last. It names the database vendor, the migration state, the row
  count and a content checksum of every table, the sha256 of every file of the backup, and what
  the caller adds (the audit chain heads, the key ids). Never a key.

The backup is written under a hidden ``.partial`` name and renamed when complete, so a backup
that stopped half-way never looks like one. On PostgreSQL the dump and the checksums read the
same snapshot (``pg_export_snapshot``); on SQLite the checksums are read from the copy.

A table's checksum is the sha256 of its rows in primary key order, each row in a canonical text
form (PostgreSQL's COPY text format under fixed session settings; for SQLite, JSON of the raw
values, 5,000 rows at a time): the same on the source and on the restored copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "miantan-backup/1"
MANIFEST = "manifest.json"
FILES = "files"
PG_DUMP = "database.dump"
SQLITE_DUMP = "database.sqlite3"
POSTGRESQL = "postgresql"
SQLITE = "sqlite"
_CHUNK = 1 << 20
_SQLITE_BATCH = 5000
# Session settings under which PostgreSQL's COPY text of a row is the same on every server.
_PG_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET DateStyle TO ISO, YMD",
    "SET IntervalStyle TO postgres",
    "SET extra_float_digits TO 1",
    "SET bytea_output TO hex",
    "SET client_encoding TO 'UTF8'",
)
# Libpq parameters of a database's OPTIONS that pg_dump and pg_restore need too.
_PG_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "options")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why."""


@dataclass
class Inventory:
    """What a database holds, as compared between a backup and its restored copy."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    migrations: dict[str, str] = field(default_factory=dict)
    queries: dict[str, list[list[Any]]] = field(default_factory=dict)


def vendor_of(settings_dict: Mapping[str, Any]) -> str:
    engine = str(settings_dict.get("ENGINE", ""))
    if engine.endswith("postgresql"):
        return POSTGRESQL
    if engine.endswith("sqlite3"):
        return SQLITE
    raise BackupError(f"backups support PostgreSQL and SQLite, not {engine or 'this database'}")


def database_label(settings_dict: Mapping[str, Any]) -> str:
    if vendor_of(settings_dict) == SQLITE:
        return f"SQLite file {settings_dict['NAME']}"
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"PostgreSQL database {settings_dict['NAME']} on {host}:{port}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- Backup --------------------------------------------------------------------------------


def create_backup(
    output: Path,
    *,
    alias: str = "default",
    file_roots: Mapping[str, Path | None] | None = None,
    queries: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a backup of the database `alias` and of `file_roots` (name → directory) into a
    new directory under `output`; returns its path. `queries` (name → SQL) are run on the
    backed-up state and stored in the manifest under their name, like `extra`."""
    from django.db import connections

    settings_dict = connections[alias].settings_dict
    vendor = vendor_of(settings_dict)
    output.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    name = f"miantan-backup-{created:%Y%m%dT%H%M%SZ}"
    final = output / name
    number = 1
    while final.exists():
        number += 1
        final = output / f"{name}-{number}"
    partial = output / f".{final.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        if vendor == POSTGRESQL:
            dump = partial / PG_DUMP
            inventory = _pg_backup(settings_dict, dump, queries or {})
        else:
            dump = partial / SQLITE_DUMP
            inventory = _sqlite_backup(alias, dump, queries or {})
        files = {
            root: _copy_tree(Path(source), partial / FILES / root, skip=output)
            for root, source in (file_roots or {}).items()
            if source is not None and Path(source).is_dir()
        }
        manifest = {
            "format": FORMAT,
            "created_at": created.isoformat(),
            "vendor": vendor,
            "database": {
                "file": dump.name,
                "bytes": dump.stat().st_size,
                "sha256": sha256_file(dump),
            },
            "migrations": inventory.migrations,
            "tables": inventory.tables,
            **inventory.queries,
            "files": files,
            **(extra or {}),
        }
        _write_durably(partial / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _write_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as stream:
        stream.write(text + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _copy_tree(source: Path, target: Path, *, skip: Path) -> dict[str, dict[str, Any]]:
    """Copy every regular file under `source` but those under `skip` (the backups, should
    they be written inside a file root); returns relative path → size and sha256."""
    copied: dict[str, dict[str, Any]] = {}
    skipped = skip.resolve()
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.resolve().is_relative_to(skipped):
            continue
        relative = path.relative_to(source).as_posix()
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        copied[relative] = {
            "bytes": destination.stat().st_size,
            "sha256": sha256_file(destination),
        }
    return copied


def _pg_backup(
    settings_dict: Mapping[str, Any], dump: Path, queries: Mapping[str, str]
) -> Inventory:
    import psycopg

    with _pg_connect(settings_dict) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.autocommit = False
        row = connection.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        command = ["pg_dump", "--format=custom", "--no-password", f"--snapshot={row[0]}"]
        # The dump runs while this transaction reads the checksums from the same snapshot.
        with _tool([*command, f"--file={dump}"], settings_dict) as dumping:
            inventory = _pg_inventory(connection, queries)
        _finish(dumping, "pg_dump")
        connection.rollback()
    return inventory


def _sqlite_backup(alias: str, dump: Path, queries: Mapping[str, str]) -> Inventory:
    from django.db import connections

    source = connections[alias]
    source.ensure_connection()
    with closing(sqlite3.connect(dump)) as copy:
        # One step: the copy is of one consistent state, even while others write.
        source.connection.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        return _sqlite_inventory(copy, queries)


# --- Restore -------------------------------------------------------------------------------


def read_manifest(backup: Path) -> dict[str, Any]:
    """The manifest of the backup at `backup`, after checking that every file it names is
    there unchanged. Raises BackupError naming every missing or changed file."""
    path = backup / MANIFEST
    if not backup.is_dir():
        raise BackupError(f"{backup} is not a backup directory")
    if not path.is_file():
        raise BackupError(f"{backup} has no {MANIFEST}: it is not a complete backup")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a manifest of format {FORMAT}")
    problems: list[str] = []
    database = manifest.get("database") or {}
    expected = [(backup / str(database.get("file", "")), database.get("sha256"))]
    for root, files in (manifest.get("files") or {}).items():
        expected += [
            (backup / FILES / root / relative, entry.get("sha256"))
            for relative, entry in files.items()
        ]
    for file, checksum in expected:
        if not file.is_file():
            problems.append(f"{file.relative_to(backup)} is missing")
        elif sha256_file(file) != checksum:
            problems.append(f"{file.relative_to(backup)} was changed: its sha256 differs")
    if problems:
        raise BackupError("the backup is damaged: " + "; ".join(problems))
    return manifest


def existing_tables(settings_dict: Mapping[str, Any]) -> list[str]:
    """The tables the database already holds (an SQLite file that does not exist holds none).
    Raises BackupError when the database cannot be reached."""
    if vendor_of(settings_dict) == SQLITE:
        path = Path(str(settings_dict["NAME"]))
        if not path.exists():
            return []
        with closing(sqlite3.connect(path)) as connection:
            return _sqlite_tables(connection)
    import psycopg

    try:
        with _pg_connect(settings_dict) as connection:
            return _pg_tables(connection)
    except psycopg.OperationalError as error:
        raise BackupError(
            f"cannot connect to {database_label(settings_dict)} (create it first): {error}"
        ) from None


def restore_database(
    backup: Path, manifest: Mapping[str, Any], settings_dict: Mapping[str, Any], *, force: bool
) -> None:
    """Load the backup's database into the database of `settings_dict`. A database that holds
    any table the backup has is refused unless `force` (which replaces them)."""
    vendor = vendor_of(settings_dict)
    if manifest["vendor"] != vendor:
        raise BackupError(
            f"the backup is of a {manifest['vendor']} database; it cannot be restored into"
            f" {database_label(settings_dict)}"
        )
    present = sorted(set(existing_tables(settings_dict)) & set(manifest["tables"]))
    if present and not force:
        raise BackupError(
            f"{database_label(settings_dict)} is not empty: it holds {len(present)} Miantan"
            f" table(s) ({', '.join(present[:3])}…). Restore into a new, empty database, or"
            " pass --force to replace its contents"
        )
    dump = backup / manifest["database"]["file"]
    if vendor == SQLITE:
        target = Path(str(settings_dict["NAME"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            closing(sqlite3.connect(f"file:{dump}?immutable=1", uri=True)) as source,
            closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
        return
    # Owners and grants are left out: the restoring user owns the tables, on any server.
    command = ["pg_restore", "--no-password", "--no-owner", "--no-privileges", "--exit-on-error"]
    command += ["--single-transaction", f"--dbname={settings_dict['NAME']}"]
    if force:
        command += ["--clean", "--if-exists"]
    with _tool([*command, str(dump)], settings_dict) as restoring:
        pass
    _finish(restoring, "pg_restore")


def restore_files(backup: Path, manifest: Mapping[str, Any], roots: Mapping[str, Path]) -> int:
    """Copy the backup's files into `roots` (name → directory); returns how many. The files
    were checked by `read_manifest`; a root the backup has but `roots` lacks is an error."""
    count = 0
    for root, files in (manifest.get("files") or {}).items():
        if root not in roots:
            raise BackupError(f"the backup holds files of '{root}', which has no directory here")
        for relative in files:
            destination = roots[root] / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(backup / FILES / root / relative, destination)
            count += 1
    return count


def inventory(settings_dict: Mapping[str, Any], queries: Mapping[str, str]) -> Inventory:
    """Row counts, checksums, migration state and `queries` of the database, read as the
    backup reads them."""
    if vendor_of(settings_dict) == SQLITE:
        uri = f"file:{settings_dict['NAME']}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            return _sqlite_inventory(connection, queries)
    import psycopg

    with _pg_connect(settings_dict) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        connection.autocommit = False
        found = _pg_inventory(connection, queries)
        connection.rollback()
    return found


def compare(manifest: Mapping[str, Any], found: Inventory) -> list[str]:
    """Every difference between the manifest and the restored database's inventory."""
    problems: list[str] = []
    expected_tables: Mapping[str, Mapping[str, Any]] = manifest["tables"]
    for table in sorted(set(expected_tables) | set(found.tables)):
        want, have = expected_tables.get(table), found.tables.get(table)
        if want is None:
            problems.append(f"table {table}: not in the backup")
        elif have is None:
            problems.append(f"table {table}: missing")
        elif want["rows"] != have["rows"]:
            problems.append(f"table {table}: {have['rows']} rows, the backup has {want['rows']}")
        elif want["sha256"] != have["sha256"]:
            problems.append(f"table {table}: its content differs from the backup's (checksum)")
    if manifest.get("migrations") != found.migrations:
        problems.append("the migration state differs from the backup's")
    for name, rows in found.queries.items():
        if manifest.get(name) != rows:
            problems.append(f"{name.replace('_', ' ')}: differ from the backup's")
    return problems


def mismatched_tables(problems: list[str]) -> int:
    return sum(1 for problem in problems if problem.startswith("table "))


# --- PostgreSQL ----------------------------------------------------------------------------


def _pg_params(settings_dict: Mapping[str, Any]) -> dict[str, str]:
    params = {
        "dbname": settings_dict.get("NAME"),
        "user": settings_dict.get("USER"),
        "password": settings_dict.get("PASSWORD"),
        "host": settings_dict.get("HOST"),
        "port": settings_dict.get("PORT"),
    }
    options = settings_dict.get("OPTIONS") or {}
    params.update({key: options[key] for key in _PG_OPTIONS if key in options})
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def _pg_connect(settings_dict: Mapping[str, Any]) -> Any:
    import psycopg
    from psycopg.conninfo import make_conninfo

    connection = psycopg.connect(make_conninfo(**_pg_params(settings_dict)), autocommit=True)
    for statement in _PG_SESSION:
        connection.execute(statement)
    return connection


@contextmanager
def _tool(
    command: list[str], settings_dict: Mapping[str, Any]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run pg_dump or pg_restore with the database's connection settings in its environment
    (the password never on a command line)."""
    names = {"dbname": "PGDATABASE", "user": "PGUSER", "password": "PGPASSWORD"}
    names |= {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "options": "PGOPTIONS"}
    names |= {"sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY"}
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment |= {names[key]: value for key, value in _pg_params(settings_dict).items()}
    try:
        process = subprocess.Popen(  # noqa: S603
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed (Debian: apt-get install postgresql-client)"
        ) from None
    try:
        yield process
    except BaseException:
        process.kill()
        process.wait()
        raise


def _finish(process: subprocess.Popen[bytes], name: str) -> None:
    _, errors = process.communicate()
    if process.returncode != 0:
        message = errors.decode(errors="replace").strip() or f"exit status {process.returncode}"
        raise BackupError(f"{name} failed: {message}")


def _pg_tables(connection: Any) -> list[str]:
    rows = connection.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname"
    ).fetchall()
    return [row[0] for row in rows]


def _pg_inventory(connection: Any, queries: Mapping[str, str]) -> Inventory:
    from psycopg import sql

    found = Inventory()
    tables = _pg_tables(connection)
    for table in tables:
        key = connection.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = quote_ident(%s)::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (table,),
        ).fetchall()
        order = (
            sql.SQL(", ").join(sql.Identifier(row[0]) for row in key)
            if key
            else sql.SQL('(t.*)::text COLLATE "C"')
        )
        statement = sql.SQL("COPY (SELECT * FROM {} t ORDER BY {}) TO STDOUT").format(
            sql.Identifier(table), order
        )
        digest, rows = hashlib.sha256(), 0
        with connection.cursor().copy(statement) as copy:
            for chunk in copy:
                data = bytes(chunk)
                digest.update(data)
                rows += data.count(b"\n")
        found.tables[table] = {"rows": rows, "sha256": digest.hexdigest()}
    if "django_migrations" in tables:
        found.migrations = dict(
            connection.execute(
                "SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app"
            ).fetchall()
        )
    for name, query in queries.items():
        found.queries[name] = [list(row) for row in connection.execute(query).fetchall()]
    return found


# --- SQLite --------------------------------------------------------------------------------


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    ).fetchall()
    return [row[0] for row in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_inventory(connection: sqlite3.Connection, queries: Mapping[str, str]) -> Inventory:
    found = Inventory()
    tables = _sqlite_tables(connection)
    for table in tables:
        columns = connection.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()
        key = [column[1] for column in sorted(columns, key=lambda c: c[5]) if column[5] > 0]
        order = ", ".join(_quoted(name) for name in key) if key else "rowid"
        cursor = connection.execute(f"SELECT * FROM {_quoted(table)} ORDER BY {order}")  # noqa: S608
        digest, rows = hashlib.sha256(), 0
        # JSON of each batch of rows, in C: the batch size is part of the checksum's format.
        while batch := cursor.fetchmany(_SQLITE_BATCH):
            text = json.dumps(batch, ensure_ascii=False, separators=(",", ":"), default=bytes.hex)
            digest.update(text.encode() + b"\n")
            rows += len(batch)
        found.tables[table] = {"rows": rows, "sha256": digest.hexdigest()}
    if "django_migrations" in tables:
        found.migrations = dict(
            connection.execute(
                "SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app"
            ).fetchall()
        )
    for name, query in queries.items():
        found.queries[name] = [list(row) for row in connection.execute(query).fetchall()]
    return found
