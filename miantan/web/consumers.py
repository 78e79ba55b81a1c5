"""The live room of a record page (`/ws/talks/<id>/record/`): a WebSocket per open page.

From the browser: `save` (a section form's fields, on the block version it was rendered with),
`flag` (please correct a line), `focus` (the block one is in), `ping`. To the browser: `saved`,
`conflict` (the block moved on: the other text, and the new version), `invalid`, `section` (a
section changed: its HTML as this person sees it, with its blocks' versions and lines),
`state` (the record's state changed: reload), `presence` (who is here, in which block),
`error`.

Every message, either way, first checks afresh that the person may still see the record
(`records.live.member`); when they may not, the socket is closed (4403) and nothing more is
sent. Saving, flagging and reading go through the same services and queries as the pages.
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from miantan.core.errors import DomainError, InvalidFields
from miantan.records import live, queries, services
from miantan.records.live import database_sync_to_async

from .record_forms import values_from_post
from .views.records import section_payload

CUT_OFF = 4403


MAX_FIELDS = 400


class RecordRoom(AsyncJsonWebsocketConsumer):
    member: live.Member | None = None
    focus: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Lines of the other side already read for cues on this page (kept in memory only).
        self.seen: set[str] = set()

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.talk_id = int(self.scope["url_route"]["kwargs"]["talk_id"])
        self.group = live.group_name(self.talk_id)
        self.language = _language(self.scope)
        self.member = await self._member(audit=True) if user and user.is_authenticated else None
        if self.member is None:
            await self.close(code=CUT_OFF)
            return
        self.time_zone = await database_sync_to_async(_time_zone)(self.member.employee_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._presence("hello")

    async def disconnect(self, code: int) -> None:
        if self.member is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_send(
                self.group, {"type": "presence.leave", "who": self.member.as_json()}
            )

    # --- from the browser --------------------------------------------------------------------

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        if not await self._still_allowed():
            return
        kind = content.get("type")
        if kind == "save":
            await self.send_json(await database_sync_to_async(self._save)(content))
        elif kind == "flag":
            await self.send_json(await database_sync_to_async(self._flag)(content))
        elif kind == "focus":
            block = content.get("block")
            self.focus = block if isinstance(block, int) else None
            await self._presence("focus")
        elif kind == "ping":
            await self.send_json({"type": "pong", "id": content.get("id")})

    def _save(self, content: dict[str, Any]) -> dict[str, Any]:
        block_id = content.get("block")
        base = content.get("version")
        fields = content.get("fields")
        if not isinstance(block_id, int) or not isinstance(base, int):
            return {"type": "error", "block": block_id, "message": "block and version are needed"}
        if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
            return {"type": "error", "block": block_id, "message": "fields are a list of pairs"}
        with self._locale():
            user = self._user()
            try:
                page = queries.access_record(user, self.talk_id, audit=False, contents=False)
            except Http404:
                return {"type": "error", "block": block_id, "message": "not found"}
            found = queries.block_of(page, block_id)
            if page.record is None or found is None:
                return {"type": "error", "block": block_id, "message": "not found"}
            section, block = found
            post = QueryDict(mutable=True)
            for pair in fields:
                if isinstance(pair, list) and len(pair) == 2:
                    post.appendlist(str(pair[0]), str(pair[1]))
            values = values_from_post(section, post, block.values)
            try:
                block = services.save_block(
                    page.record, block_id, actor=user, values=values, base_version=base
                )
            except services.StaleBlock as stale:
                return {
                    "type": "conflict",
                    "block": block_id,
                    "version": stale.block.version,
                    "message": str(stale.message),
                    "theirs": queries.as_lines(section, stale.block.values),
                }
            except InvalidFields as invalid:
                return {
                    "type": "invalid",
                    "block": block_id,
                    "errors": {key: str(text) for key, text in invalid.errors.items()},
                }
            except DomainError as error:
                return {"type": "error", "block": block_id, "message": str(error.message)}
            except PermissionDenied:
                return {
                    "type": "error",
                    "block": block_id,
                    "message": str(_("You may not do this.")),
                }
            return {
                "type": "saved",
                "block": block_id,
                "version": block.version,
                "client": content.get("client"),
                "saved": timezone.localtime(block.updated_at).strftime("%H:%M"),
            }

    def _flag(self, content: dict[str, Any]) -> dict[str, Any]:
        block_id = content.get("block")
        if not isinstance(block_id, int):
            return {"type": "error", "message": "block is needed"}
        with self._locale():
            user = self._user()
            try:
                page = queries.access_record(user, self.talk_id, audit=False, contents=False)
            except Http404:
                return {"type": "error", "message": "not found"}
            if page.record is None:
                return {"type": "error", "message": "not found"}
            try:
                services.flag_line(
                    page.record,
                    block_id,
                    actor=user,
                    line=str(content.get("line", "")),
                    note=str(content.get("note", "")),
                )
            except DomainError as error:
                return {"type": "error", "block": block_id, "message": str(error.message)}
            except PermissionDenied:
                return {
                    "type": "error",
                    "block": block_id,
                    "message": str(_("You may not do this.")),
                }
            return {"type": "flagged", "block": block_id}

    # --- from the room -----------------------------------------------------------------------

    async def record_section(self, event: dict[str, Any]) -> None:
        if not await self._still_allowed():
            return
        assert self.member is not None
        if not self.member.sees(event["section"]):
            return
        payload = await database_sync_to_async(self._section)(event["section"])
        if payload is None:
            return
        await self.send_json({"type": "section", "by": event.get("by"), **payload})
        if self.member.side == "manager" and event.get("by") not in (None, self.member.employee_id):
            for cue in await database_sync_to_async(self._cues)(payload, event["by"]):
                await self.send_json(cue)

    def _cues(self, payload: dict[str, Any], author: int) -> list[dict[str, Any]]:
        """Emotion cues (PRODUCT.md C8) in the lines the other side has just written, for the
        interviewer's page only: sent, never stored, shown to nobody else."""
        from miantan.records import cues
        from miantan.records.scripts_queries import scripts_for_cue

        fresh: list[str] = []
        for block in payload["blocks"].values():
            if block.get("by") != author:
                continue
            for line in block["lines"]:
                if line not in self.seen:
                    self.seen.add(line)
                    fresh.append(line.split(": ", 1)[-1])
        if not fresh:
            return []
        organisation = self._organisation()
        if not cues.is_enabled(organisation):
            return []
        found: dict[str, cues.Cue] = {}
        for text in fresh:
            for cue in cues.detect(text):
                if cue.label not in found or cue.score > found[cue.label].score:
                    found[cue.label] = cue
        shown = []
        for cue in sorted(found.values(), key=lambda c: -c.score)[:1]:
            scripts = scripts_for_cue(organisation, cue.label, self.language)[:2]
            shown.append(
                {
                    "type": "cue",
                    "label": cue.label,
                    "message": cues.cue_message(cue, self.language),
                    "scripts": [
                        {"id": script.pk, "text": _script_text(script, self.language)}
                        for script in scripts
                    ],
                }
            )
        return shown

    def _organisation(self) -> Any:
        from miantan.interviews.models import Talk

        return Talk.objects.select_related("organisation").get(pk=self.talk_id).organisation

    def _section(self, section: str) -> dict[str, Any] | None:
        with self._locale():
            return section_payload(self._user(), self.talk_id, section)

    async def record_state(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json({"type": "state", "state": event["state"]})

    async def presence_hello(self, event: dict[str, Any]) -> None:
        if event["channel"] == self.channel_name or not await self._still_allowed():
            return
        await self.send_json(
            {"type": "presence", "event": "here", **event["who"], "block": event.get("block")}
        )
        # Tell the newcomer who is here already.
        assert self.member is not None
        await self.channel_layer.send(
            event["channel"],
            {"type": "presence.here", "who": self.member.as_json(), "block": self.focus},
        )

    async def presence_here(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json(
                {"type": "presence", "event": "here", **event["who"], "block": event.get("block")}
            )

    async def presence_focus(self, event: dict[str, Any]) -> None:
        if event["channel"] != self.channel_name and await self._still_allowed():
            await self.send_json(
                {"type": "presence", "event": "here", **event["who"], "block": event.get("block")}
            )

    async def presence_leave(self, event: dict[str, Any]) -> None:
        if await self._still_allowed():
            await self.send_json({"type": "presence", "event": "left", **event["who"]})

    # --- helpers -----------------------------------------------------------------------------

    async def _presence(self, kind: str) -> None:
        assert self.member is not None
        await self.channel_layer.group_send(
            self.group,
            {
                "type": f"presence.{kind}",
                "channel": self.channel_name,
                "who": self.member.as_json(),
                "block": self.focus,
            },
        )

    async def _member(self, *, audit: bool = False) -> live.Member | None:
        user = self.scope["user"]
        return await database_sync_to_async(live.member)(user.pk, self.talk_id, audit=audit)

    async def _still_allowed(self) -> bool:
        """May the person still see the record? If not: leave the room, close, say nothing."""
        if self.member is None:
            return False
        current = await self._member()
        if current is None:
            member, self.member = self.member, None
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_send(
                self.group, {"type": "presence.leave", "who": member.as_json()}
            )
            await self.close(code=CUT_OFF)
            return False
        self.member = current
        return True

    def _user(self) -> Any:
        from django.contrib.auth import get_user_model

        assert self.member is not None
        return get_user_model().objects.get(pk=self.member.user_id)

    def _locale(self) -> Any:
        return _Locale(self.language, self.time_zone)


class _Locale:
    """The page's language and the person's time zone while a message is worded."""

    def __init__(self, language: str, zone: str) -> None:
        self.language, self.zone = language, zone

    def __enter__(self) -> None:
        self._translation = translation.override(self.language)
        self._zone = timezone.override(self.zone)
        self._translation.__enter__()
        self._zone.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._zone.__exit__(*exc)
        self._translation.__exit__(*exc)


def _language(scope: dict[str, Any]) -> str:
    """The page's language (`?lang=`), if it is one of the site's."""
    query = QueryDict(scope.get("query_string", b"").decode("latin-1"))
    wanted = (query.get("lang") or "").lower()
    known = {code.lower() for code, _name in settings.LANGUAGES}
    return wanted if wanted in known else settings.LANGUAGE_CODE


def _time_zone(employee_id: int) -> str:
    from miantan.people.models import Employee

    zone = Employee.objects.filter(pk=employee_id).values_list("time_zone", flat=True).first()
    return zone or settings.TIME_ZONE


def _refused() -> str:
    return str(_("You may not do this."))


def _script_text(script: Any, language: str) -> str:
    from miantan.records.definitions import localized

    return localized(script.text, language)
