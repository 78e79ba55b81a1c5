"""What the benchmark scripts share: where results go, the PostgreSQL server, percentiles,
and merging one benchmark's figures into bench/results.json."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


def _postgres_server() -> str:
    """The PostgreSQL server the benchmarks create their databases on: that of DATABASE_URL when
    it names one (its database part is dropped), else the local server on 127.0.0.1:5432."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        return "postgres://postgres@127.0.0.1:5432"
    return urlunsplit(("postgres", parts.netloc, "", "", "")).rstrip("/")


PG_SERVER = _postgres_server()

Result = dict[str, Any]


def postgres_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with `percent` % of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * percent / 100) - 1)]


def merge_results(results: list[Result], path: Path, *, prefix: str) -> None:
    """Replace the entries named `prefix`… of the databases just measured, keeping every
    other entry of the file."""
    kept = json.loads(path.read_text()) if path.exists() else []
    measured = {entry["database"] for entry in results}
    kept = [
        entry
        for entry in kept
        if not (entry["name"].startswith(prefix) and entry["database"] in measured)
    ]
    path.write_text(json.dumps([*kept, *results], indent=1, ensure_ascii=False) + "\n")
