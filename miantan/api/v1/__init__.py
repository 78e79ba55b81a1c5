"""Version 1 of the REST API. Same permission layer and audit trail as the pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI

from miantan.accounts.services import user_for_token
from miantan.core.errors import DomainError

from ..auth import AUTH
from .metrics import router as metrics_router
from .people import router as people_router


def signed_in_for_docs(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The interactive documentation and the OpenAPI document are for people who may use the
    API: a signed-in session or a personal token. Otherwise the page sends the visitor to sign
    in, and the document answers 401 like every API operation."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            user = _token_user(request)
            if user is None:
                if request.path.endswith(".json"):
                    return JsonResponse({"detail": "Unauthorized"}, status=401)
                return redirect_to_login(request.get_full_path())
            request.user = user
        return view(request, *args, **kwargs)

    return guarded


def _token_user(request: HttpRequest) -> Any | None:
    scheme, _space, secret = request.headers.get("Authorization", "").partition(" ")
    return user_for_token(secret.strip()) if scheme.lower() == "bearer" else None


api = NinjaAPI(
    title="Miantan API",
    version="1",
    urls_namespace="api-v1",
    auth=AUTH,
    docs_decorator=signed_in_for_docs,
    description="Performance conversations: people, departments and more. "
    "Authenticate with the browser session or a personal token (Authorization: Bearer mt_…).",
)
api.add_router("/", people_router)
api.add_router("/metrics/", metrics_router)
api.add_router("/", "miantan.api.v1.profiles.router")
api.add_router("/", "miantan.api.v1.talks.router")
api.add_router("/", "miantan.api.v1.templates.router")
api.add_router("/", "miantan.api.v1.scripts.router")
api.add_router("/", "miantan.api.v1.records.router")
api.add_router("/", "miantan.api.v1.record_extras.router")
api.add_router("/", "miantan.api.v1.archive.router")
api.add_router("/", "miantan.api.v1.nudges.router")
api.add_router("/", "miantan.api.v1.plans.router")
api.add_router("/", "miantan.api.v1.notifications.router")


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(
        request, {"detail": str(exc.message), "code": exc.code}, status=exc.status_code
    )


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": "Not Found"}, status=404)


@api.exception_handler(PermissionDenied)
def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(
        request, {"detail": str(_("You may not do this.")), "code": "forbidden"}, status=403
    )
