"""How each person is told (channels, quiet hours, rest after night shifts, digest), and for
administrators the organisation's group robots and webhooks and the messages given up.

Every decision is the notification services' (`save_preferences`, `save_endpoint`,
`retry_failed`); these views read forms and show the outcome."""

from __future__ import annotations

from datetime import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from miantan.notifications.enums import WEBHOOK_CHANNELS, Channel
from miantan.notifications.preferences import preference_of
from miantan.notifications.queries import delivery_counts, endpoints_for, given_up_for
from miantan.notifications.rules import delivery_organisation, may_manage_delivery
from miantan.notifications.services import (
    InvalidSettings,
    delete_endpoint,
    mark_all_read,
    offered_channels,
    retry_failed,
    save_endpoint,
    save_preferences,
)
from miantan.people.models import Department
from miantan.people.scopes import scope_for


def _time(value: str | None) -> time | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    own = scope_for(request.user).employee
    if own is None:
        raise Http404
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            save_preferences(
                user=request.user,
                channels=request.POST.getlist("channels"),
                quiet_from=_time(request.POST.get("quiet_from")),
                quiet_until=_time(request.POST.get("quiet_until")),
                rest_after_night=request.POST.get("rest_after_night") == "on",
                digest=request.POST.get("digest") == "on",
                digest_at=_time(request.POST.get("digest_at")),
            )
        except InvalidSettings as error:
            errors = error.errors
        else:
            messages.success(request, _("Your notification settings are saved."))
            return redirect("web:notification_settings")
    preference = preference_of(own)
    offered = offered_channels(own)
    choices = [(channel, Channel(channel).label) for channel in offered]
    return render(
        request,
        "web/notification_settings.html",
        {
            "preference": preference,
            "choices": choices,
            "chosen": set(request.POST.getlist("channels") if errors else preference.channels),
            "errors": errors,
            "is_admin": may_manage_delivery(scope_for(request.user)),
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = mark_all_read(user=request.user)
    messages.success(request, _("%(count)d notifications marked as read.") % {"count": count})
    return redirect("web:notifications")


def _admin(request: HttpRequest) -> None:
    if not may_manage_delivery(scope_for(request.user)):
        raise PermissionDenied


@login_required
@require_http_methods(["GET", "POST"])
def delivery_admin(request: HttpRequest) -> HttpResponse:
    """Robots and webhooks of the organisation, and the messages given up."""
    _admin(request)
    errors: dict[str, str] = {}
    endpoint = None
    if request.method == "POST":
        pk = request.POST.get("endpoint")
        if pk:
            endpoint = endpoints_for(request.user).filter(pk=pk).first()
            if endpoint is None:
                raise Http404
        department = request.POST.get("department") or None
        try:
            save_endpoint(
                user=request.user,
                endpoint=endpoint,
                channel=request.POST.get("channel", ""),
                name=request.POST.get("name", ""),
                url=request.POST.get("url", ""),
                secret=request.POST.get("secret", ""),
                department_id=int(department) if department and department.isdigit() else None,
                enabled=request.POST.get("enabled", "on") == "on",
            )
        except InvalidSettings as error:
            errors = error.errors
        else:
            messages.success(request, _("The endpoint is saved."))
            return redirect("web:delivery_admin")
    scope = scope_for(request.user)
    given_up = Paginator(given_up_for(request.user), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "web/delivery_admin.html",
        {
            "endpoints": endpoints_for(request.user),
            "channels": [(c.value, c.label) for c in Channel if c in WEBHOOK_CHANNELS],
            "departments": Department.objects.filter(
                organisation_id=delivery_organisation(scope) or 0
            ).only("pk", "name", "name_en", "depth"),
            "page": given_up,
            "counts": delivery_counts(request.user),
            "errors": errors,
            "form": request.POST if errors else {},
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    _admin(request)
    endpoint = endpoints_for(request.user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404
    delete_endpoint(user=request.user, endpoint=endpoint)
    messages.success(request, _("The endpoint is removed."))
    return redirect("web:delivery_admin")


@login_required
@require_POST
def notification_retry(request: HttpRequest, notification_id: int) -> HttpResponse:
    _admin(request)
    notification = given_up_for(request.user).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    retry_failed(user=request.user, notification=notification)
    messages.success(request, _("The message will be sent again."))
    return redirect("web:delivery_admin")
