"""The live room of a talk's record (PRODUCT.md C5): who may be in it, and telling it what
changed.

Every page showing the record joins the room of its talk over a WebSocket (the consumer is in
`miantan.web.consumers`). The services announce each change after it commits: a section
(`record.section`: a block saved or handed in, a comment, a line flagged) or the record's state
(`record.state`: confirmed). The room's members fetch what they may see of it themselves, so an
announcement carries no text. The channel layer is in memory for one server process, or in
Redis (REDIS_URL) when several processes serve the same rooms.

Access is checked when joining and again on every message, from the database, not from what
the connection remembers: a role revoked or an employee who left is cut off at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabase
from django.http import Http404

from miantan.core.ids import as_id

logger = logging.getLogger(__name__)


def group_name(talk_id: int) -> str:
    return f"record-{int(talk_id)}"


def database_sync_to_async(function: Any, *, request: bool = False) -> Any:
    """Run database work off the event loop, with the thread's connection closed when it is
    too old or broken, as after a request. In the loop's worker threads side by side: a bounded
    pool, so a bounded number of connections however many rooms are open. Channels' own helper
    runs all of a process's database work in one thread, one message after the other, and a
    busy process then falls behind and stays behind (seconds from a save to the other side in
    bench/live_record.py, on SQLite too: its readers go side by side, its writers queue at
    BEGIN IMMEDIATE). SQLite in memory (the tests' database) keeps to one thread: its shared
    cache refuses a second connection ("table is locked") rather than making it wait.

    With `request`, the work of an HTTP request's async view: in the request's own thread (the
    ASGI handler gives each request one; under WSGI the worker's), on the connection its
    middleware opened, as a sync view would. Not in a worker thread: the request would hold
    two connections, the middleware's idle while it queues for a thread, and a connection pool
    could run dry with every connection held by a request waiting for a thread."""
    if request:
        return sync_to_async(function, thread_sensitive=True)

    def run(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    database = connections[DEFAULT_DB_ALIAS]
    in_memory = isinstance(database, SQLiteDatabase) and database.is_in_memory_db()
    return sync_to_async(run, thread_sensitive=in_memory)


Heard = Callable[[float], Awaitable[bool]]

#: The room's events that change what the record shows (the rest is presence news).
CHANGES = frozenset({"record.section", "record.state"})


@asynccontextmanager
async def listening(talk_id: Any) -> AsyncIterator[Heard | None]:
    """Listen to a talk's room from an HTTP request (the polling fallback): yields
    `heard(seconds)`, which waits until the room hears of a change (True) or the time is up
    (False). Listening starts before the caller reads the record, so a change committed in
    between is not missed. Yields None when there is no channel layer or no talk to listen to."""
    layer = get_channel_layer()
    pk = as_id(talk_id)
    if layer is None or pk is None:
        yield None
        return
    channel = await layer.new_channel("poll.")
    group = group_name(pk)
    await layer.group_add(group, channel)

    async def heard(seconds: float) -> bool:
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                event = await asyncio.wait_for(layer.receive(channel), timeout=left)
            except TimeoutError:
                return False
            if event.get("type") in CHANGES:  # not presence news
                return True
        return False

    try:
        yield heard
    finally:
        await layer.group_discard(group, channel)


@dataclass(frozen=True)
class Member:
    """Who is in a room: the signed-in person, their side (None when they follow the record or
    were mentioned in it) and the sections they may see ("*" all)."""

    user_id: int
    employee_id: int
    name: str
    side: str | None
    sections: frozenset[str]

    def sees(self, section: str) -> bool:
        return "*" in self.sections or section in self.sections

    def as_json(self) -> dict[str, Any]:
        return {"employee": self.employee_id, "name": self.name, "side": self.side or ""}


def member(user_id: Any, talk_id: Any, *, audit: bool = False) -> Member | None:
    """The user as a member of the talk's room, read afresh from the database (user, employee,
    roles, talk, mentions), or None when they may not see the record (any more).

    One of the talk's two people, still active in its organisation, is recognised from two
    queries; anyone else (HR, administrators, mentioned colleagues) goes through
    `access_record`, as the page does."""
    from .queries import access_record

    pk = as_id(user_id)
    user = (
        get_user_model().objects.filter(pk=pk, is_active=True).select_related("employee").first()
        if pk
        else None
    )
    if user is None:
        return None
    quick = None if audit else _participant(user, talk_id)
    if quick is not None:
        return quick
    try:
        page = access_record(user, talk_id, audit=audit, contents=False)
    except Http404:
        return None
    own = getattr(user, "employee", None)
    if page.record is None or own is None:
        return None
    sections = frozenset(page.limited_to) if page.limited_to is not None else frozenset({"*"})
    return Member(
        user_id=user.pk,
        employee_id=own.pk,
        name=own.name,
        side=page.side,
        sections=sections,
    )


def _participant(user: Any, talk_id: Any) -> Member | None:
    from miantan.interviews.models import Talk

    own = getattr(user, "employee", None)
    pk = as_id(talk_id)
    if own is None or not own.is_active or pk is None:
        return None
    talk = (
        Talk.objects.filter(pk=pk, organisation_id=own.organisation_id)
        .values("employee_id", "counterpart_id", "state")
        .first()
    )
    if talk is None or own.pk not in (talk["employee_id"], talk["counterpart_id"]):
        return None
    side = "employee" if own.pk == talk["employee_id"] else "manager"
    return Member(
        user_id=user.pk, employee_id=own.pk, name=own.name, side=side, sections=frozenset({"*"})
    )


def announce_section(talk_id: int, section: str, *, by: int | None, version: int) -> None:
    """Tell the room, once the current transaction commits, that a section changed."""
    _after_commit(
        talk_id,
        {"type": "record.section", "section": section, "by": by, "version": version},
    )


def announce_state(talk_id: int, state: str, *, by: int | None) -> None:
    """Tell the room, once the current transaction commits, that the record's state changed."""
    _after_commit(talk_id, {"type": "record.state", "state": state, "by": by})


def _after_commit(talk_id: int, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(group_name(talk_id), event))


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:  # a change is saved whether or not the room hears of it at once
        logger.warning("live record: an announcement to %s was not delivered", group, exc_info=True)
