"""Data for bench/live_record.py, run in its own process on the benchmark's database: the demo
organisations grown to enough staff, N talks in progress (each an employee with their
manager), their records opened, and a signed-in session for both people of each. Prints one
line of JSON: the rooms and the polling interval."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from miantan.interviews.enums import TalkState, Topic  # noqa: E402
from miantan.interviews.models import Talk  # noqa: E402
from miantan.people.models import Employee, Organisation  # noqa: E402
from miantan.records import services  # noqa: E402
from miantan.records.models import Block  # noqa: E402

BACKEND = "django.contrib.auth.backends.ModelBackend"


def session(user) -> str:  # type: ignore[no-untyped-def]
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = BACKEND
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


def main(rooms: int) -> None:
    call_command("seed_demo", employees=max(300, rooms * 2), verbosity=0)
    hospital = Organisation.objects.get(slug="hospital")
    pairs = list(
        Employee.objects.filter(
            organisation=hospital,
            status="active",
            manager__isnull=False,
            user__isnull=False,
            manager__user__isnull=False,
        )
        .select_related("manager__user", "user")
        .order_by("pk")[:rooms]
    )
    now = timezone.now()
    out = []
    for employee in pairs:
        talk = Talk.objects.create(
            organisation=hospital,
            employee=employee,
            counterpart=employee.manager,
            requested_by=employee.manager,
            topic=Topic.QUARTERLY_REVIEW,
            state=TalkState.IN_PROGRESS,
            scheduled_start=now - timedelta(minutes=5),
            scheduled_end=now + timedelta(minutes=40),
        )
        record = services.create_record(talk)
        block = Block.objects.get(record=record, section="agreement", side="")
        out.append(
            {
                "talk": talk.pk,
                "block": block.pk,
                "version": block.version,
                "manager": session(employee.manager.user),
                "employee": session(employee.user),
            }
        )
    print(json.dumps({"rooms": out, "poll_seconds": settings.MIANTAN_LIVE_POLL_SECONDS}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
