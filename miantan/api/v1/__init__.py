"""Version 1 of the REST API. Same permission layer and audit trail as the pages."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI

from miantan.core.errors import DomainError

from ..auth import AUTH
from .metrics import router as metrics_router
from .people import router as people_router

api = NinjaAPI(
    title="Miantan API",
    version="1",
    urls_namespace="api-v1",
    auth=AUTH,
    description="Performance conversations: people, departments and more. "
    "Authenticate with the browser session or a personal token (Authorization: Bearer mt_…).",
)
api.add_router("/", people_router)
api.add_router("/metrics/", metrics_router)
api.add_router("/", "miantan.api.v1.profiles.router")
api.add_router("/", "miantan.api.v1.talks.router")


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
