"""Pages under load: the production server on loopback, 20 signed-in clients at once.

For each database: a dataset of `--employees` (2,000 by default: the hospital grows to that
size with ten talks per employee, about 19,000 talks), kept between runs (SQLite
`var/bench/load-<N>.sqlite3`, PostgreSQL database `miantan_bench_load_<N>`); the server started
with exactly the command of `make serve` (`deploy/serve`); then, page by page, `--clients`
clients for `--seconds` each, every client on a kept-alive connection and signed in with a
session of its own (the hospital's HR partner, who sees every talk and person):

| page | request |
|---|---|
| `signin` | `GET /accounts/login/` anonymous: the floor, the cheapest page the server serves |
| `signin_new_connection` | the same with a new connection for every request |
| `talk_list` | `GET /talks/` |
| `talk_detail` | `GET /talks/<id>/`, the talks in turn |
| `person_page` | `GET /people/<id>/`, the people in turn |
| `brief` | `GET /people/<id>/brief/` |
| `api_talk_list` | `GET /api/v1/talks` |

Results (`load.<page>.rps`, `.p50`, `.p95`, `.errors`) are merged into bench/results.json. The
floor is measured in the same run, so the ratio of a page to it holds on a busy machine.

    .venv/bin/python bench/load.py --databases sqlite --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, postgres_reachable

sys.path.insert(0, str(ROOT))

SQLITE_DIR = ROOT / "var" / "bench"
KPI_MONTHS = 40
USERNAME = "h.hr"
PAGES = (
    "signin",
    "signin_new_connection",
    "talk_list",
    "talk_detail",
    "person_page",
    "brief",
    "api_talk_list",
)


def defaults() -> argparse.Namespace:
    return _parser().parse_args([])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--port", type=int, default=8390)
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--no-merge", action="store_true", help="print only")
    parser.add_argument("--worker", nargs=2, metavar=("DATABASE", "OUT"), help="internal")
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.worker:
        database, out = args.worker
        results = measure(database, args)
        Path(out).write_text(json.dumps(results))
        return
    results = run(args.databases, args)
    if not args.no_merge and results:
        merge_results(results, Path(args.output), prefix="load.")
        print(f"Merged {len(results)} figures into {args.output}")


def run(databases: str, args: argparse.Namespace | None = None) -> list[Result]:
    """Each database in a child process of its own; the figures of all of them."""
    args = args or defaults()
    results: list[Result] = []
    for database in databases.split(","):
        if database == "postgresql" and not postgres_reachable():
            print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping its load benchmark.")
            continue
        out = SQLITE_DIR / f"load-{database}.json"
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DATABASE_URL": database_url(database, args.employees)}
        env["DJANGO_SETTINGS_MODULE"] = "config.settings.bench"
        command = [sys.executable, __file__, *_passed(args), "--worker", database, str(out)]
        subprocess.run(command, env=env, check=True)  # noqa: S603 (this script, by path)
        results.extend(json.loads(out.read_text()))
    return results


def _passed(args: argparse.Namespace) -> list[str]:
    return [
        f"--employees={args.employees}",
        f"--clients={args.clients}",
        f"--seconds={args.seconds}",
        f"--pages={args.pages}",
        f"--port={args.port}",
    ]


def database_url(database: str, employees: int) -> str:
    if database == "sqlite":
        return f"sqlite:///{SQLITE_DIR / f'load-{employees}.sqlite3'}"
    return f"{PG_SERVER}/miantan_bench_load_{employees}"


# --- in the worker process (DATABASE_URL and settings set) ------------------------------------


def measure(database: str, args: argparse.Namespace) -> list[Result]:
    import django

    django.setup()
    _seeded(database, args.employees)
    cookies, talk_ids, person_ids = _sessions(args.clients)
    paths = {
        "signin": lambda n: "/accounts/login/",
        "signin_new_connection": lambda n: "/accounts/login/",
        "talk_list": lambda n: "/talks/",
        "talk_detail": lambda n: f"/talks/{talk_ids[n % len(talk_ids)]}/",
        "person_page": lambda n: f"/people/{person_ids[n % len(person_ids)]}/",
        "brief": lambda n: f"/people/{person_ids[n % len(person_ids)]}/brief/",
        "api_talk_list": lambda n: "/api/v1/talks",
    }
    import loadclient

    dataset = f"employees={args.employees},clients={args.clients},seconds={args.seconds:g}"
    results: list[Result] = []

    def add(name: str, value: float, unit: str) -> None:
        results.append(
            {"name": name, "value": value, "unit": unit, "dataset": dataset, "database": database}
        )

    with _server(args.port) as port:
        for page in args.pages.split(","):
            anonymous = page.startswith("signin")
            clients = [""] * args.clients if anonymous else cookies
            keep_alive = page != "signin_new_connection"
            # A short warm-up: templates compiled, connections open, caches filled.
            loadclient.run(
                "127.0.0.1",
                port,
                cookies=clients,
                paths=paths[page],
                seconds=2,
                keep_alive=keep_alive,
            )
            outcome = loadclient.run(
                "127.0.0.1",
                port,
                cookies=clients,
                paths=paths[page],
                seconds=args.seconds,
                keep_alive=keep_alive,
            )
            add(f"load.{page}.rps", round(outcome.rps, 1), "req/s")
            add(f"load.{page}.p50", round(outcome.p(50), 2), "ms")
            add(f"load.{page}.p95", round(outcome.p(95), 2), "ms")
            add(f"load.{page}.errors", outcome.errors, "requests")
            print(
                f"  {database:10} {page:22} {outcome.rps:8.1f} req/s  p50 {outcome.p(50):7.1f} ms"
                f"  p95 {outcome.p(95):7.1f} ms  errors {outcome.errors}"
                f"  statuses {dict(sorted(outcome.statuses.items()))}",
                flush=True,
            )
        add("load.machine.load_average", round(os.getloadavg()[0], 2), "processes")
    return results


def _seeded(database: str, employees: int) -> None:
    """Seed the dataset once; later runs reuse it (the load only reads, apart from the audit
    trail of the reads and the sessions)."""
    from django.core.management import call_command
    from django.db import connection

    if database == "postgresql":
        import psycopg

        name = connection.settings_dict["NAME"]
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)
    from miantan.people.models import Employee

    if Employee.objects.exists():
        return
    print(f"  seeding {employees:,} employees into the {database} load database…", flush=True)
    call_command(
        "seed_demo", employees=employees, kpi_months=KPI_MONTHS, talks_per_employee=10, verbosity=0
    )


def _sessions(clients: int) -> tuple[list[str], list[int], list[int]]:
    """A session of its own for each client, and the talks and people HR opens in turn."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from miantan.interviews.queries import talks_visible_to
    from miantan.people.queries import employees_visible_to

    user = get_user_model().objects.get(username=USERNAME)
    cookies = []
    for _ in range(clients):
        client = Client()
        client.force_login(user)
        cookies.append(
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )
    rng = random.Random(7)
    talks = list(talks_visible_to(user).order_by("pk").values_list("pk", flat=True))
    people = list(employees_visible_to(user).order_by("pk").values_list("pk", flat=True))
    talks = rng.sample(talks, min(500, len(talks)))
    return cookies, talks, rng.sample(people, min(500, len(people)))


class _server:
    """The production server (`deploy/serve`), started and stopped around the measurements."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> int:
        env = {**os.environ, "PORT": str(self.port), "MIANTAN_SERVE_WEBSOCKETS": "0"}
        self.process = subprocess.Popen(  # noqa: S603 (the project's own server script)
            [str(ROOT / "deploy" / "serve")], env=env, cwd=ROOT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=5)
                return self.port
            except OSError:
                time.sleep(0.3)
        raise SystemExit("the server did not start within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
