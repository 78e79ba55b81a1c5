"""A small HTTP/1.1 load generator on asyncio: N clients, each on its own connection (kept
alive, or a new one for every request), for a fixed time, recording each request's latency.

It is written here rather than taken from a load-testing tool so that the generator costs as
little CPU as possible: it shares the machine's cores with the server it measures. It speaks
just enough HTTP for this: GET with cookies, responses with Content-Length or chunked bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchlib import percentile


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, percent: float) -> float:
        return percentile(self.latencies_ms, percent) if self.latencies_ms else 0.0


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def get(self, path: str, cookie: str, keep_alive: bool) -> tuple[int, bool]:
        """One GET; returns the status and whether the server keeps the connection open."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        headers = [
            f"GET {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: text/html,application/json",
            "Accept-Language: zh-Hans",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        if cookie:
            headers.append(f"Cookie: {cookie}")
        self.writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed before the response")
        status = int(status_line.split()[1])
        length: int | None = None
        chunked = False
        server_keeps = keep_alive
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            value = value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.lower() == "close":
                server_keeps = False
        if chunked:
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length is not None:
            await self.reader.readexactly(length)
        else:
            await self.reader.read()
            server_keeps = False
        return status, server_keeps


async def _client(
    host: str,
    port: int,
    cookie: str,
    paths: Callable[[int], str],
    keep_alive: bool,
    deadline: float,
    outcome: Outcome,
    offset: int,
) -> None:
    connection = _Connection(host, port)
    n = offset
    try:
        while time.perf_counter() < deadline:
            path = paths(n)
            n += 1
            started = time.perf_counter()
            try:
                status, kept = await asyncio.wait_for(connection.get(path, cookie, keep_alive), 30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                outcome.errors += 1
                await connection.close()
                continue
            outcome.latencies_ms.append((time.perf_counter() - started) * 1000)
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            if status != 200:
                outcome.errors += 1
            if not (keep_alive and kept):
                await connection.close()
    finally:
        await connection.close()


def run(
    host: str,
    port: int,
    *,
    cookies: Sequence[str],
    paths: Callable[[int], str],
    seconds: float,
    keep_alive: bool = True,
) -> Outcome:
    """`len(cookies)` clients (one per cookie; "" for an anonymous one) request `paths(n)` for
    `seconds`. Every answer other than 200, and every failed connection, counts as an error."""
    outcome = Outcome()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _client(host, port, cookie, paths, keep_alive, deadline, outcome, i * 1000)
                for i, cookie in enumerate(cookies)
            )
        )
        outcome.seconds = time.perf_counter() - started

    asyncio.run(main())
    return outcome
