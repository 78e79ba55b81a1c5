from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from miantan.people.scopes import scope_for

_SUPPORTED = {code for code, _name in settings.LANGUAGES}


class UserLanguageMiddleware:
    """Chooses the language and time zone of every response.

    A signed-in employee gets the language and time zone saved on their profile; anyone else
    the language chosen with the switch (a cookie), else Simplified Chinese. The browser's
    Accept-Language is deliberately not used: the product's default is Chinese.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if language not in _SUPPORTED:
            language = settings.LANGUAGE_CODE
        timezone.deactivate()
        user = getattr(request, "user", None)
        employee = scope_for(user).employee if user is not None and user.is_authenticated else None
        if employee is not None:
            language = employee.language
            with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.activate(zoneinfo.ZoneInfo(employee.time_zone))
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
