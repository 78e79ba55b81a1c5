"""Who is acting, from where, under which request id: set once per request, read by the audit log."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""
    channel: str = "web"


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "miantan_request_context", default=RequestContext(channel="system")
)


def current() -> RequestContext:
    return _current.get()


def bind(context: RequestContext) -> contextvars.Token[RequestContext]:
    return _current.set(context)


def reset(token: contextvars.Token[RequestContext]) -> None:
    _current.reset(token)
