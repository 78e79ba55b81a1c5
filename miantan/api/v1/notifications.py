"""The inbox, one's notification settings and, for administrators, the organisation's group
robots and webhooks and the messages given up (PRODUCT.md F3, F4): the same queries and
services as the pages. Everyone reads only their own inbox and settings; endpoints and
given-up messages answer 403 to anyone but an administrator, 404 for another organisation's."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from miantan.notifications import queries, services
from miantan.notifications.preferences import preference_of
from miantan.notifications.rendering import inbox_entry
from miantan.notifications.rules import may_manage_delivery
from miantan.people.scopes import scope_for

from .bodies import FieldErrorsOut, answer_refusals, body_of, parse
from .paging import BoundedPageNumberPagination
from .schemas import ErrorOut

router = Router(tags=["notifications"])
REFUSED: dict[int, type[Schema]] = {400: FieldErrorsOut, 403: ErrorOut, 404: ErrorOut}


class InboxOut(Schema):
    id: int
    subject: str
    text: str = Field(description="the first lines of the message, plain text")
    link: str = Field(description="path of the page the message is about, or empty")
    sent_at: datetime | None
    read_at: datetime | None


class PreferencesOut(Schema):
    channels: list[str] = Field(description="chosen channels; the inbox is always among them")
    offered: list[str] = Field(description="the channels that can reach this person")
    quiet_from: time | None
    quiet_until: time | None
    rest_after_night: bool
    digest: bool
    digest_at: time | None


class PreferencesIn(Schema):
    channels: list[str]
    quiet_from: time | None = None
    quiet_until: time | None = None
    rest_after_night: bool = True
    digest: bool = False
    digest_at: time | None = None


class EndpointOut(Schema):
    id: int
    channel: str
    name: str
    department_id: int | None
    enabled: bool
    has_secret: bool = Field(description="the secret itself is never returned")


class EndpointIn(Schema):
    channel: str = Field(description="wecom | dingtalk | feishu | slack | teams")
    name: str
    url: str
    secret: str = ""
    department_id: int | None = None
    enabled: bool = True


class GivenUpOut(Schema):
    id: int
    recipient_id: int
    channel: str
    kind: str
    attempts: int
    failed_at: datetime | None
    last_error: str


def _own(request: HttpRequest) -> Any:
    own = scope_for(request.user).employee
    if own is None:
        raise PermissionDenied
    return own


def _admin(request: HttpRequest) -> None:
    if not may_manage_delivery(scope_for(request.user)):
        raise PermissionDenied


@router.get("/notifications", response=list[InboxOut])
@paginate(BoundedPageNumberPagination)
def notification_inbox(request: HttpRequest) -> Any:
    """The signed-in person's inbox, newest first."""
    _own(request)
    return [_inbox_out(row) for row in queries.inbox_of(request.user)[:500]]


def _inbox_out(row: Any) -> dict[str, Any]:
    entry = inbox_entry(row)
    return {
        "id": row.pk,
        "subject": entry.subject,
        "text": "\n".join(entry.lines),
        "link": entry.link,
        "sent_at": row.sent_at,
        "read_at": row.read_at,
    }


@router.post("/notifications/{int:notification_id}/read", response={200: InboxOut, 404: ErrorOut})
def notification_mark_read(request: HttpRequest, notification_id: int) -> Any:
    row = queries.inbox_of(request.user).filter(pk=notification_id).first()
    if row is None:
        raise Http404
    return _inbox_out(services.mark_read(row, user=request.user))


@router.get("/notifications/preferences", response=PreferencesOut)
def notification_preferences(request: HttpRequest) -> Any:
    own = _own(request)
    return _preferences_out(own)


def _preferences_out(own: Any) -> dict[str, Any]:
    preference = preference_of(own)
    return {
        "channels": list(preference.channels),
        "offered": services.offered_channels(own),
        "quiet_from": preference.quiet_from,
        "quiet_until": preference.quiet_until,
        "rest_after_night": preference.rest_after_night,
        "digest": preference.digest,
        "digest_at": preference.digest_at,
    }


@router.put(
    "/notifications/preferences",
    response={200: PreferencesOut, **REFUSED},
    openapi_extra=body_of(PreferencesIn),
)
@answer_refusals
def notification_preferences_update(request: HttpRequest) -> Any:
    own = _own(request)
    data = parse(PreferencesIn, request, error=services.InvalidSettings)
    services.save_preferences(
        user=request.user,
        channels=data.channels,
        quiet_from=data.quiet_from,
        quiet_until=data.quiet_until,
        rest_after_night=data.rest_after_night,
        digest=data.digest,
        digest_at=data.digest_at,
    )
    return _preferences_out(own)


@router.get("/notifications/endpoints", response={200: list[EndpointOut], 403: ErrorOut})
def notification_endpoints(request: HttpRequest) -> Any:
    _admin(request)
    return [_endpoint_out(endpoint) for endpoint in queries.endpoints_for(request.user)]


def _endpoint_out(endpoint: Any) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "channel": endpoint.channel,
        "name": endpoint.name,
        "department_id": endpoint.department_id,
        "enabled": endpoint.enabled,
        "has_secret": bool(endpoint.secret),
    }


@router.post(
    "/notifications/endpoints",
    response={201: EndpointOut, **REFUSED},
    openapi_extra=body_of(EndpointIn),
)
@answer_refusals
def notification_endpoint_create(request: HttpRequest) -> Any:
    _admin(request)
    data = parse(EndpointIn, request, error=services.InvalidSettings)
    made = services.save_endpoint(
        user=request.user,
        endpoint=None,
        channel=data.channel,
        name=data.name,
        url=data.url,
        secret=data.secret,
        department_id=data.department_id,
        enabled=data.enabled,
    )
    return Status(201, _endpoint_out(made))


@router.post(
    "/notifications/endpoints/{int:endpoint_id}/delete",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
)
def notification_endpoint_delete(request: HttpRequest, endpoint_id: int) -> Any:
    _admin(request)
    endpoint = queries.endpoints_for(request.user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404
    services.delete_endpoint(user=request.user, endpoint=endpoint)
    return Status(204, None)


@router.get("/notifications/given-up", response={200: list[GivenUpOut], 403: ErrorOut})
@paginate(BoundedPageNumberPagination)
def notifications_given_up(request: HttpRequest) -> Any:
    _admin(request)
    return queries.given_up_for(request.user)


@router.post(
    "/notifications/given-up/{int:notification_id}/retry",
    response={200: GivenUpOut, 403: ErrorOut, 404: ErrorOut},
)
def notification_retry_send(request: HttpRequest, notification_id: int) -> Any:
    _admin(request)
    row = queries.given_up_for(request.user).filter(pk=notification_id).first()
    if row is None:
        raise Http404
    return services.retry_failed(user=request.user, notification=row)
