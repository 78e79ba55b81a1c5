"""The backup drill (`backup_drill.*`): back up 100,000 employees, restore them into a fresh
database and check the copy, as an operator would after losing the server. See bench/README.md.

For each database:

1. A seeded dataset, made once and kept between runs: `seed_demo --employees N` (its default
   12 months of KPI values), in the PostgreSQL database `miantan_backup_seed` or
   `var/bench/backup-seed-<N>.sqlite3`, migrated to the current code before each run.
2. Timed, under `flock /tmp/miantan-bench.lock`: `manage.py backup` of the seed
   (`backup_drill.backup_seconds`, `backup_drill.backup_mb`), then `manage.py restore` into a
   fresh, empty database (`miantan_backup_restore`, `var/bench/backup-restore.sqlite3`):
   loading, then comparing every table's row count and checksum with the manifest and
   verifying every audit chain (`backup_drill.restore_seconds`, the recovery time;
   `backup_drill.restore_database_seconds` is the loading alone). Each command is a process
   of its own, started as an operator starts it.
3. `backup_drill.mismatched_tables` is the number of tables whose rows or checksum differ
   (0 expected); the drill fails loudly when the restore reports any difference.

Run on its own with `python bench/backup_drill.py [--databases postgresql,sqlite] [--size N]`,
or from bench/run.py (`--skip-backup` leaves it out). The PostgreSQL server is that of
DATABASE_URL when it names one (benchlib.PG_SERVER).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, postgres_reachable

FILES = ROOT / "var" / "bench"
WORK = FILES / "backup-drill"
PG_SEED = "miantan_backup_seed"
PG_RESTORE = "miantan_backup_restore"
SIZE = 100_000
LOCK = "/tmp/miantan-bench.lock"  # noqa: S108
PREFIX = "backup_drill."


def run(*, postgresql: bool = True, sqlite: bool = False, size: int = SIZE) -> list[Result]:
    """All figures of this benchmark, as entries for bench/results.json."""
    FILES.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    if postgresql:
        if postgres_reachable():
            results.extend(_drill("postgresql", size))
        else:
            print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the backup drill.")
    if sqlite:
        results.extend(_drill("sqlite", size))
    return results


def _env(url: str) -> dict[str, str]:
    # The drill's own file directories (MEDIA_ROOT, attachments), never those of var/.
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.bench",
        "DATABASE_URL": url,
        "MIANTAN_VAR_DIR": str(WORK / "var"),
        "MIANTAN_ATTACHMENT_ROOT": str(WORK / "var" / "attachments"),
    }


def _manage(url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        env=_env(url),
        capture_output=True,
        text=True,
        check=False,
    )


def _checked(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"backup drill: `{' '.join(done.args[2:4])}` failed")
    return done.stdout


def _seeded(database: str, size: int) -> str:
    """The URL of the seeded database, made when missing (under another name, renamed when
    complete, so an interrupted seeding is never taken for a seed)."""
    if database == "sqlite":
        seed = FILES / f"backup-seed-{size}.sqlite3"
        if not seed.exists():
            partial = seed.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            _seed(f"sqlite:///{partial}", size)
            import sqlite3
            from contextlib import closing

            with closing(sqlite3.connect(partial)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            partial.rename(seed)
        url = f"sqlite:///{seed}"
    else:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            if not connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (PG_SEED,)
            ).fetchone():
                seeding = f"{PG_SEED}_partial"
                connection.execute(f'DROP DATABASE IF EXISTS "{seeding}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{seeding}"')
                _seed(f"{PG_SERVER}/{seeding}", size)
                connection.execute(f'ALTER DATABASE "{seeding}" RENAME TO "{PG_SEED}"')
        url = f"{PG_SERVER}/{PG_SEED}"
    # A seed made before the latest migrations catches up with them.
    _checked(_manage(url, "migrate", "-v0"))
    return url


def _seed(url: str, size: int) -> None:
    started = perf_counter()
    _checked(_manage(url, "migrate", "-v0"))
    _checked(_manage(url, "seed_demo", "--employees", str(size), "-v0"))
    print(f"[backup] seeded {size} employees in {perf_counter() - started:.0f} s", flush=True)


def _fresh_target(database: str) -> str:
    """An empty database to restore into."""
    if database == "sqlite":
        target = FILES / "backup-restore.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{target}"
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_RESTORE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_RESTORE}"')
    return f"{PG_SERVER}/{PG_RESTORE}"


def _holding_lock() -> bool:
    """Whether this process runs under `flock /tmp/miantan-bench.lock …` already (it inherited
    the locked file): locking again would wait for ourselves."""
    try:
        descriptors = list(Path("/proc/self/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) == LOCK:
                return True
        except OSError:
            continue
    return False


@contextmanager
def _bench_lock() -> Iterator[None]:
    """Timed runs on this machine take turns (`flock /tmp/miantan-bench.lock`)."""
    if _holding_lock():
        yield
        return
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _drill(database: str, size: int) -> list[Result]:
    source = _seeded(database, size)
    # Everything else while holding the lock: the drill's directory and restored database are
    # shared with any other drill, which waits meanwhile.
    with _bench_lock():
        return _locked_drill(database, source, size)


def _locked_drill(database: str, source: str, size: int) -> list[Result]:
    backups, restored_files = WORK / "backups", WORK / "restored"
    report_file = WORK / "report.json"
    restore_args = ["--media-root", str(restored_files / "media")]
    restore_args += ["--attachment-root", str(restored_files / "attachments")]
    shutil.rmtree(WORK, ignore_errors=True)
    target = _fresh_target(database)
    started = perf_counter()
    path = _checked(_manage(source, "backup", "--output", str(backups))).strip()
    backup_seconds = perf_counter() - started
    started = perf_counter()
    done = _manage(
        source,
        "restore",
        path,
        "--database-url",
        target,
        *restore_args,
        "--report",
        str(report_file),
    )
    restore_seconds = perf_counter() - started
    load_average = os.getloadavg()[0]
    sys.stderr.write(done.stderr)
    if not report_file.exists():
        _checked(done)
    report = json.loads(report_file.read_text())
    verified = _manage(target, "verify_audit")
    backup_bytes = sum(item.stat().st_size for item in Path(path).rglob("*") if item.is_file())
    dataset = f"employees={size}"
    figures = [
        ("backup_seconds", backup_seconds, "s"),
        ("backup_mb", backup_bytes / 1_000_000, "MB"),
        ("restore_seconds", restore_seconds, "s"),
        ("restore_database_seconds", report["database_seconds"], "s"),
        ("restore_check_seconds", report["check_seconds"], "s"),
        ("mismatched_tables", report["mismatched_tables"], "tables"),
        ("rows", report["rows"], "rows"),
        ("load_average", load_average, "load"),
    ]
    results = [
        {
            "name": PREFIX + name,
            "value": round(value, 2),
            "unit": unit,
            "dataset": dataset,
            "database": database,
        }
        for name, value, unit in figures
    ]
    print(
        f"[backup] {database}: backup {backup_seconds:.1f} s, {backup_bytes / 1e6:.1f} MB;"
        f" restore {restore_seconds:.1f} s ({report['seconds']:.1f} s after start-up: load"
        f" {report['database_seconds']:.1f} s, check"
        f" {report['check_seconds']:.1f} s); {report['tables']} tables, {report['rows']:,}"
        f" rows, {report['mismatched_tables']} mismatched; verify_audit:"
        f" {'intact' if verified.returncode == 0 else 'FAILED'}",
        flush=True,
    )
    if done.returncode != 0 or verified.returncode != 0:
        sys.stderr.write(verified.stdout + verified.stderr)
        raise SystemExit(f"backup drill on {database}: the restored copy differs (see above)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="postgresql", help="postgresql,sqlite")
    parser.add_argument("--size", type=int, default=SIZE, help="employees in the dataset")
    args = parser.parse_args()
    chosen = {name.strip() for name in args.databases.split(",") if name.strip()}
    results = run(postgresql="postgresql" in chosen, sqlite="sqlite" in chosen, size=args.size)
    if results:
        merge_results(results, RESULTS, prefix=PREFIX)


if __name__ == "__main__":
    main()
