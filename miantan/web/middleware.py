"""The first middleware: times every request for /metrics and answers the operators' probes.

/healthz, /readyz and /metrics are answered here, before the HTTPS redirect, the host check,
the session, sign-in and the language: a load balancer's probe over plain HTTP, with the
machine's address as host, gets its answer, and none of them reads a session. Every other
request goes on and is timed under its view's name (`namespace:url_name`), never its path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from miantan.core.observability import UNMATCHED, observe_request

from . import health


class OpsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.probes: dict[str, tuple[str, Callable[[HttpRequest], HttpResponse]]] = {
            reverse(name): (name, view)
            for name, view in (
                ("web:healthz", health.healthz),
                ("web:readyz", health.readyz),
                ("web:metrics", health.metrics),
            )
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        probe = self.probes.get(request.path_info)
        if probe is not None:
            view_name, view = probe
            response = view(request)
        else:
            response = self.get_response(request)
            match = request.resolver_match
            view_name = match.view_name if match is not None else UNMATCHED
        observe_request(
            view_name, request.method or "", response.status_code, time.perf_counter() - started
        )
        return response
