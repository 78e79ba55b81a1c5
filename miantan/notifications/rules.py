"""Who may do what with notifications.

Everyone reads and settles only their own inbox and their own preferences. Administrators of
an organisation set up its group robots and webhooks and see, and send again, the messages
that were given up; HR partners do not (the endpoints carry the robots' secrets)."""

from __future__ import annotations

from miantan.people.scopes import Scope

from .models import Endpoint, Notification


def may_manage_delivery(scope: Scope) -> bool:
    return scope.organisation_id is not None and scope.is_admin


def may_see_endpoint(scope: Scope, endpoint: Endpoint) -> bool:
    return may_manage_delivery(scope) and scope.organisation_id == endpoint.organisation_id


def may_retry(scope: Scope, notification: Notification) -> bool:
    return (
        may_manage_delivery(scope)
        and scope.organisation_id == notification.organisation_id
        and notification.failed_at is not None
    )


def delivery_organisation(scope: Scope) -> int | None:
    """The organisation whose delivery this person manages, or None."""
    return scope.organisation_id if may_manage_delivery(scope) else None
