"""Error pages for requests refused before the language middleware ran.

A request with a host that is not allowed is refused while the middleware checks it, before
UserLanguageMiddleware has chosen the language; the 400 page picks it here the same way (the
switch's cookie, else the browser's Accept-Language, else Simplified Chinese).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views import defaults


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    with translation.override(translation.get_language_from_request(request)):
        return defaults.bad_request(request, exception)
