"""Runs Python in a fresh process with another settings module and a chosen environment.

The settings of `make run` and of production are read once, at start-up, from the
environment; a test of them needs a process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
# What the machine or the test run may have set and must not leak into the process under test.
UNSET = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "MIANTAN_BASE_URL",
    "MIANTAN_VAR_DIR",
    "PORT",
    "SECRET_KEY",
    "MIANTAN_DATA_KEYS",
    "MIANTAN_AUDIT_KEYS",
    "MIANTAN_AUDIT_KEYS_FILE",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def environment(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    return {**env, "PYTHONWARNINGS": "default", **values}


def run(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def django(code: str, *, env: dict[str, str]) -> tuple[Any, str]:
    """Runs `code` after django.setup(); it sets `result`, which comes back through JSON.
    Returns (result, standard error)."""
    program = (
        "import json, django\n"
        "django.setup()\n"
        "result = None\n"
        f"{code}\n"
        "print('RESULT=' + json.dumps(result))\n"
    )
    done = run("-c", program, env=env)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT="))
    return json.loads(line.removeprefix("RESULT=")), done.stderr
