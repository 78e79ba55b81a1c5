from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from miantan.api.v1 import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("miantan.web.urls")),
    path("accounts/", include("miantan.accounts.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

# A request refused for its Host header never reached the language middleware.
handler400 = "miantan.web.views.errors.bad_request"

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
