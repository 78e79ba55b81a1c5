from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from miantan.people.scopes import scope_for


class UserLanguageMiddleware:
    """A signed-in user sees the language and time zone saved on their profile."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            employee = scope_for(user).employee
            if employee is not None:
                translation.activate(employee.language)
                request.LANGUAGE_CODE = translation.get_language()
                try:
                    timezone.activate(zoneinfo.ZoneInfo(employee.time_zone))
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    timezone.deactivate()
        return self.get_response(request)
