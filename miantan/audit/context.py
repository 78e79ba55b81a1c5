"""Where a request came from (address, request id, channel): set once, read by the audit log."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""
    channel: str = "web"


_SYSTEM = RequestContext(channel="system")
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "miantan_request_context", default=None
)


def current() -> RequestContext:
    return _current.get() or _SYSTEM


def bind(context: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(context)


def reset(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
