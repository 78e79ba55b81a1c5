"""The live record under load (`live_record.*` in bench/results.json): 200 talks open at once,
both people of each in its room over a WebSocket (400 clients on loopback, one machine), one
uvicorn process serving them, as `make run` does.

In each room the manager saves the agreements section over the WebSocket, the employee's page
receives the section; the time from sending the save to the employee's socket receiving the
new section is one sample ("edit to display"). Saves go round the rooms at a steady rate
(`--rate` per second in all, 10 by default: 200 people typing, each saving every 20 s).

The polling fallback: the employees have no WebSocket and ask `GET …/record/live/?stamp=&wait=25`
as the page does (long polling: the request waits until the room hears of a change, and the
next one goes out as soon as it answers; a server that cannot wait is asked again every
MIANTAN_LIVE_POLL_SECONDS); the sample is from the save to the poll answer that brings it.

A warm-up save in every room goes first, and measuring starts once all of them have reached
the other side (the server has caught up with the pages opening); it ends once every save
measured has (a save still missing after CATCH_UP_SECONDS counts as a failure). On PostgreSQL
the server takes its connections from a pool (`--pool`, MIANTAN_DB_POOL_SIZE).

    .venv/bin/python bench/live_record.py [--databases sqlite,postgresql] [--rooms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchlib import PG_SERVER, RESULTS, ROOT, Result, merge_results, percentile, postgres_reachable

PG_DATABASE = "miantan_bench_live"
# How long the run waits for saves still on their way, after the warm-up and at the end: longer
# than a poll's longest wait (LONGEST_WAIT_SECONDS), so that none is left out for being slow.
CATCH_UP_SECONDS = 60.0
# What failed in the current run (a client's connection, a 500 answer): reported, not hidden.
failures: list[str] = []
SETUP = ROOT / "bench" / "live_record_setup.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="saves per second in all")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long saves go on")
    parser.add_argument(
        "--pool",
        type=int,
        default=20,
        help="PostgreSQL connections in the server's pool (MIANTAN_DB_POOL_SIZE); 0: none",
    )
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    results = measure(args.databases, args.rooms, args.rate, args.seconds, pool=args.pool)
    merge_results(results, Path(args.output), prefix="live_record.")
    for entry in results:
        print(
            f"{entry['database']:<10} {entry['dataset']:<28} {entry['name']:<40} {entry['value']}"
        )


def measure(
    databases: str, rooms: int, rate: float, seconds: float, *, pool: int = 0
) -> list[Result]:
    results: list[Result] = []
    for database in [d.strip() for d in databases.split(",") if d.strip()]:
        if database == "postgresql" and not postgres_reachable():
            print(f"PostgreSQL at {PG_SERVER} is unreachable: skipping the live record benchmark.")
            continue
        with tempfile.TemporaryDirectory() as folder:
            url = _fresh(database, Path(folder))
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings.bench",
                "DATABASE_URL": url,
                "PYTHONPATH": str(ROOT),
            }
            env.pop("REDIS_URL", None)
            env["MIANTAN_DB_CONN_MAX_AGE"] = "0"  # as the ASGI server runs in production
            env.pop("MIANTAN_DB_POOL_SIZE", None)
            if database == "postgresql" and pool:
                env["MIANTAN_DB_POOL_SIZE"] = str(pool)
            world = _prepare(env, rooms)
            port = _free_port()
            server = subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).with_name("uvicorn")),
                    "config.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                cwd=ROOT,
            )
            try:
                _wait_for(port)
                for fallback in ("", "polling"):
                    failures.clear()
                    samples = asyncio.run(_run(port, world, rate, seconds, polling=bool(fallback)))
                    dataset = f"rooms={len(world['rooms'])}" + (
                        f",fallback={fallback}" if fallback else ""
                    )

                    def add(
                        name: str,
                        value: float,
                        unit: str,
                        dataset: str = dataset,
                        database: str = database,
                    ) -> None:
                        results.append(
                            {
                                "name": name,
                                "value": round(value, 2),
                                "unit": unit,
                                "dataset": dataset,
                                "database": database,
                            }
                        )

                    add("live_record.samples", len(samples), "saves")
                    add("live_record.failed_requests", len(failures), "requests")
                    add("live_record.load_average", os.getloadavg()[0], "processes")
                    if not samples:
                        print(f"[{database} {dataset}] no save reached the other side", flush=True)
                        continue
                    add("live_record.edit_to_display_ms.p95", percentile(samples, 95), "ms")
                    add("live_record.edit_to_display_ms.median", statistics.median(samples), "ms")
                    median, p95 = statistics.median(samples), percentile(samples, 95)
                    print(
                        f"[{database} {dataset}] edit to display: median {median:.0f} ms, "
                        f"p95 {p95:.0f} ms ({len(samples)} saves)",
                        flush=True,
                    )
            finally:
                server.terminate()
                server.wait(timeout=20)
    return results


def _fresh(database: str, folder: Path) -> str:
    if database == "sqlite":
        return f"sqlite:///{folder / 'live.sqlite3'}"
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    return f"{PG_SERVER}/{PG_DATABASE}"


def _prepare(env: dict[str, str], rooms: int) -> dict[str, Any]:
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, cwd=ROOT, check=True)  # noqa: S603
    made = subprocess.run(  # noqa: S603
        [sys.executable, str(SETUP), str(rooms)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(made.stdout.strip().splitlines()[-1])


async def _run(
    port: int, world: dict[str, Any], rate: float, seconds: float, *, polling: bool
) -> list[float]:
    from websockets.asyncio.client import connect

    origin = f"http://127.0.0.1:{port}"
    rooms = world["rooms"]
    versions = {room["block"]: room["version"] for room in rooms}
    sent: dict[tuple[int, int], float] = {}
    samples: list[float] = []
    managers = []
    employees = []
    for room in rooms:
        managers.append(
            await connect(
                f"ws://127.0.0.1:{port}/ws/talks/{room['talk']}/record/?lang=zh-hans",
                additional_headers={"Cookie": f"sessionid={room['manager']}", "Origin": origin},
                max_queue=None,
                ping_interval=None,
            )
        )
        if not polling:
            employees.append(
                await connect(
                    f"ws://127.0.0.1:{port}/ws/talks/{room['talk']}/record/?lang=zh-hans",
                    additional_headers={
                        "Cookie": f"sessionid={room['employee']}",
                        "Origin": origin,
                    },
                    max_queue=None,
                    ping_interval=None,
                )
            )
    stop = asyncio.Event()

    async def manager_side(index: int) -> None:
        socket_ = managers[index]
        async for raw in socket_:
            message = json.loads(raw)
            if message["type"] == "saved":
                versions[message["block"]] = message["version"]
            elif message["type"] == "conflict":  # not expected: one writer per room
                print(f"  a save was refused as stale: {message['block']}", flush=True)
                versions[message["block"]] = message["version"]

    async def employee_side(index: int) -> None:
        room = rooms[index]
        async for raw in employees[index]:
            message = json.loads(raw)
            if message["type"] != "section" or message.get("section") != "agreement":
                continue
            version = message["blocks"][str(room["block"])]["version"]
            started = sent.pop((room["block"], version), None)
            if started is not None:
                samples.append((time.perf_counter() - started) * 1000)

    async def employee_polls(index: int) -> None:
        room = rooms[index]
        stamp = ""
        interval = float(world["poll_seconds"])
        await asyncio.sleep(2 * index / len(rooms))  # the pages were not all opened at once
        while not stop.is_set():
            try:
                answer = await _get_json(
                    port,
                    f"/talks/{room['talk']}/record/live/?wait=25&stamp={quote(stamp)}",
                    room["employee"],
                )
            except Exception as error:  # counted, and the page asks again, as record.js does
                failures.append(repr(error))
                await asyncio.sleep(interval)
                continue
            stamp = answer["stamp"]
            for section in answer.get("sections", []):
                if section["section"] != "agreement":
                    continue
                version = section["blocks"][str(room["block"])]["version"]
                for key in [k for k in sent if k[0] == room["block"] and k[1] <= version]:
                    samples.append((time.perf_counter() - sent.pop(key)) * 1000)
            if not answer.get("waited"):
                await asyncio.sleep(interval)

    def watched(job: Any) -> Any:
        async def run() -> None:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as error:  # counted, and said, not hidden
                failures.append(repr(error))
                print(f"  a client failed: {error!r}", flush=True)

        return asyncio.create_task(run())

    listeners = [watched(manager_side(i)) for i in range(len(rooms))]
    if polling:
        listeners += [watched(employee_polls(i)) for i in range(len(rooms))]
    else:
        listeners += [watched(employee_side(i)) for i in range(len(rooms))]
    await asyncio.sleep(1.0)  # presence news settles
    # Warm-up, not counted: one save in every room (templates, connections, caches), while the
    # polling pages fetch the whole record once. Measuring starts when every warm-up save has
    # reached the other side, i.e. once the server has caught up with the pages opening: what
    # is measured is the steady state (a server that never catches up is measured as it is).
    for n, room in enumerate(rooms):
        version = versions[room["block"]]
        sent[(room["block"], version + 1)] = time.perf_counter()
        await managers[n].send(
            json.dumps(
                {
                    "type": "save",
                    "block": room["block"],
                    "version": version,
                    "fields": [["version", str(version)], ["f-agreements", "准备"]],
                }
            )
        )
        await asyncio.sleep(1 / rate)
    warmed = time.perf_counter()
    await _until_shown(sent, CATCH_UP_SECONDS)
    print(
        f"  warm-up shown {time.perf_counter() - warmed:.1f} s after its last save"
        f" ({len(sent)} not shown)",
        flush=True,
    )
    await asyncio.sleep(1.0)
    sent.clear()
    samples.clear()
    count = int(rate * seconds)
    for n in range(count):
        room = rooms[n % len(rooms)]
        version = versions[room["block"]]
        sent[(room["block"], version + 1)] = time.perf_counter()
        message = json.dumps(
            {
                "type": "save",
                "block": room["block"],
                "version": version,
                "fields": [["version", str(version)], ["f-agreements", f"第 {n} 次修改"]],
            }
        )
        try:
            await managers[n % len(rooms)].send(message)
        except Exception as error:  # the server dropped this page: counted, the run goes on
            sent.pop((room["block"], version + 1), None)
            failures.append(repr(error))
        # The next save of this room waits for this one to be acknowledged (a person's page
        # saves one version after the other).
        await asyncio.sleep(1 / rate)
    # The slowest saves count too: wait until each has reached the other side, and count
    # the ones that never did as failures.
    await _until_shown(sent, CATCH_UP_SECONDS)
    failures.extend(f"save {key} never reached the other side" for key in sent)
    stop.set()
    for room in rooms:  # the next run goes on from the versions this one left
        room["version"] = versions[room["block"]]
    for socket_ in managers + employees:
        await socket_.close()
    for task in listeners:
        task.cancel()
    return samples


async def _until_shown(sent: dict[tuple[int, int], float], seconds: float) -> None:
    """Wait until every save sent has been shown on the other side, at most `seconds`."""
    deadline = time.perf_counter() + seconds
    while sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)


async def _get_json(port: int, path: str, session: str) -> dict[str, Any]:
    """One GET over a fresh loopback connection (the client side of the polling fallback)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: sessionid={session}\r\n"
            "X-Requested-With: fetch\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _blank, body = data.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"GET {path} answered {head.splitlines()[0]!r}")
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return json.loads(body)


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _crlf, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server on {port} did not start")


if __name__ == "__main__":
    main()
