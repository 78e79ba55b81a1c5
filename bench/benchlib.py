"""What the benchmark scripts share: where results go, the PostgreSQL server, percentiles,
and merging one benchmark's figures into bench/results.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"

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
