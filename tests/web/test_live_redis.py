"""With REDIS_URL, two server processes share the rooms of the live record: head nurse 周敏
connected to one process saves a section, nurse 王芳 connected to the other sees it. A real
`redis-server` (Debian package) and two real uvicorn processes on loopback, over a SQLite file
prepared for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import free_port, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
UVICORN = str(Path(sys.executable).with_name("uvicorn"))
SETUP = """
from datetime import timedelta
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from miantan.records import services
from miantan.records.models import Block
from tests.notifications.builders import booked_talk
from tests.personas import build_hospital
hospital = build_hospital()
talk = booked_talk(hospital, start=timezone.now() + timedelta(minutes=5))
record = services.start_record(talk, actor=hospital.head_nurse.user)
def session(user):
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key
block = Block.objects.get(record=record, section="agreement")
print(json.dumps({"talk": talk.pk, "block": block.pk,
                  "manager": session(hospital.head_nurse.user),
                  "employee": session(hospital.nurse_wang.user)}))
"""


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[list[int], dict[str, object]]]:
    redis_port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(redis)
        wait_until_listening(redis_port, redis)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("MIANTAN_TEST_TODAY", None)
        manage = [PYTHON, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, cwd=ROOT, check=True)
        made = subprocess.run(
            [*manage, "shell", "-c", "import json\n" + SETUP],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        world = json.loads(made.stdout.strip().splitlines()[-1])
        ports = [free_port(), free_port()]
        for port in ports:
            server = subprocess.Popen(
                [
                    UVICORN,
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
            processes.append(server)
        for port, server in zip(ports, processes[1:], strict=True):
            wait_until_listening(port, server)
        yield ports, world
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _room(port: int, talk: int, session: str):  # type: ignore[no-untyped-def]
    from websockets.sync.client import connect

    return connect(
        f"ws://127.0.0.1:{port}/ws/talks/{talk}/record/?lang=zh-hans",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=10,
    )


def _next(room, kind: str, seconds: float = 10) -> dict[str, object]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        message = json.loads(room.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == kind:
            return message


def test_two_server_processes_share_a_room_through_redis(two_servers) -> None:
    (first, second), world = two_servers
    with (
        _room(first, world["talk"], world["manager"]) as manager,
        _room(second, world["talk"], world["employee"]) as employee,
    ):
        # 王芳 (second process) hears that 周敏 (first process) is here, and the reverse.
        assert _next(manager, "presence")["name"] == "王芳"
        manager.send(
            json.dumps(
                {
                    "type": "save",
                    "block": world["block"],
                    "version": 0,
                    "fields": [["version", "0"], ["f-agreements", "两台服务器之间的同步"]],
                }
            )
        )
        assert _next(manager, "saved")["version"] == 1
        section = _next(employee, "section")
        assert section["section"] == "agreement"
        assert "两台服务器之间的同步" in str(section["html"])


def test_a_waiting_poll_on_one_process_hears_a_save_on_the_other(two_servers) -> None:
    """The polling fallback across processes: 王芳's page, without a WebSocket, waits on the
    second process; 周敏 saves through the first; the wait ends with her text."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.web.test_live_poll import poll, save_over

    (first, second), world = two_servers
    base = f"http://127.0.0.1:{second}"
    stamp = poll(base, world["talk"], world["employee"])[1]["stamp"]
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(poll, base, world["talk"], world["employee"], stamp=stamp, wait="20")
        time.sleep(0.5)
        assert not waiting.done()
        with _room(first, world["talk"], world["manager"]) as manager:
            saved = save_over(manager, world["block"], "跨进程的长轮询", 0)
            assert saved["version"] == 1
        status, answer = waiting.result(timeout=30)
    assert time.monotonic() - started < 10
    assert status == 200 and answer["waited"] is True
    assert any("跨进程的长轮询" in section["html"] for section in answer["sections"])
