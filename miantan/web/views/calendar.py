"""Calendar files and the in-app inbox: a talk's invitation, the subscription feed (public,
behind its secret token), the page that manages the feed link, and the notifications list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from miantan.core.errors import DomainError
from miantan.interviews.enums import ENDED_STATES
from miantan.interviews.queries import access_talk
from miantan.notifications.queries import inbox_of
from miantan.notifications.rendering import inbox_entry
from miantan.notifications.services import mark_read
from miantan.people.models import Employee
from miantan.people.scopes import scope_for
from miantan.scheduling.busy_import import HORIZON_DAYS, MAX_BYTES, import_busy_ics
from miantan.scheduling.calendar import CANCEL, REQUEST, talk_ics
from miantan.scheduling.feeds import (
    active_feed_token,
    create_feed_token,
    read_feed,
    revoke_feed_token,
)
from miantan.scheduling.models import BusyBlock

CALENDAR_TYPE = "text/calendar; charset=utf-8"


@login_required
@require_GET
def talk_invite(request: HttpRequest, talk_id: int) -> HttpResponse:
    """The talk as an .ics file to import (404 while it has never had a booked time)."""
    talk = access_talk(request.user, talk_id)
    if talk.scheduled_start is None:
        raise Http404
    method = CANCEL if talk.state in ENDED_STATES else REQUEST
    response = HttpResponse(talk_ics(talk, method), content_type=CALENDAR_TYPE)
    response["Content-Disposition"] = 'attachment; filename="invite.ics"'
    return response


@require_GET
@never_cache
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The subscription feed; the token in the URL is the only credential."""
    content = read_feed(token)
    if content is None:
        raise Http404
    return HttpResponse(content, content_type=CALENDAR_TYPE)


@login_required
@require_GET
def calendar_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request, _own(request))


@login_required
@require_POST
def calendar_token_create(request: HttpRequest) -> HttpResponse:
    """A new feed link, shown once on the page; the previous link stops working."""
    own = _own(request)
    token = create_feed_token(own, actor=request.user)
    feed_url = request.build_absolute_uri(reverse("web:calendar_feed", args=[token]))
    return _settings_page(request, own, feed_url=feed_url)


@login_required
@require_POST
def calendar_token_revoke(request: HttpRequest) -> HttpResponse:
    if revoke_feed_token(_own(request), actor=request.user):
        messages.success(request, _("The calendar link was switched off."))
    return redirect("web:calendar_settings")


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    _own(request)
    page = Paginator(inbox_of(request.user), 30).get_page(request.GET.get("page"))
    entries = [inbox_entry(notification) for notification in page]
    return render(request, "web/notifications.html", {"page": page, "entries": entries})


@login_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = inbox_of(request.user).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    mark_read(notification, user=request.user)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("web:notifications")


@login_required
@require_POST
def calendar_busy_import(request: HttpRequest) -> HttpResponse:
    """Busy time from the person's own calendar file (times only, replaced on each import)."""
    own = _own(request)
    upload = request.FILES.get("file")
    if upload is None:
        error = _("Choose an ICS file exported from your calendar.")
        return _settings_page(request, own, import_error=error, status=400)
    try:
        result = import_busy_ics(own, upload.read(MAX_BYTES + 1), actor=request.user)
    except DomainError as error:
        return _settings_page(request, own, import_error=str(error.message), status=400)
    messages.success(
        request,
        _("Calendar read: %(created)s busy times added, %(removed)s removed.")
        % {"created": result.created, "removed": result.removed},
    )
    return redirect("web:calendar_settings")


def _own(request: HttpRequest) -> Employee:
    own = scope_for(request.user).employee
    if own is None or not own.is_active:
        raise Http404
    return own


def _settings_page(
    request: HttpRequest,
    own: Employee,
    *,
    feed_url: str = "",
    import_error: str = "",
    status: int = 200,
) -> HttpResponse:
    busy = BusyBlock.objects.filter(employee=own, end__gt=timezone.now())
    return render(
        request,
        "web/calendar_settings.html",
        {
            "active": active_feed_token(own),
            "feed_url": feed_url,
            "import_error": import_error,
            "busy_count": busy.count(),
            "horizon_days": HORIZON_DAYS,
        },
        status=status,
    )
