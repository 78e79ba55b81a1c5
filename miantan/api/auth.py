"""API authentication: the browser session (with CSRF) or a personal bearer token."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from miantan.accounts.services import user_for_token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """Session auth that keeps CSRF protection for unsafe methods."""


# The token first: the session check refuses an unsafe request without a CSRF token outright,
# so tried first it would refuse every POST made with a bearer token. A browser cannot be made to
# send someone's bearer token across sites, so token requests need no CSRF check.
AUTH = [TokenAuth(), ActiveSessionAuth()]
