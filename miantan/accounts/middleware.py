from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from miantan.people.scopes import scope_for


class UserLanguageMiddleware:
    """Chooses the language and time zone of every response.

    A signed-in employee gets the language and time zone saved on their profile; anyone else
    (the sign-in page, error pages) the language chosen with the switch (a cookie), else the
    browser's language (Accept-Language) when it is one of ours, else Simplified Chinese.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.deactivate()
        user = getattr(request, "user", None)
        employee = scope_for(user).employee if user is not None and user.is_authenticated else None
        if employee is not None:
            language = employee.language
            with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.activate(zoneinfo.ZoneInfo(employee.time_zone))
        else:
            # The switch's cookie, else the first of the browser's languages that we have
            # (zh-CN → zh-hans, en-GB → en), else LANGUAGE_CODE.
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie", "Accept-Language"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
