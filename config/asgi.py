import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
# Django first: the WebSocket routes import models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from miantan.web.routing import websocket_urlpatterns  # noqa: E402

# Pages and API over HTTP; the live record's rooms over WebSocket, for signed-in people from
# pages of this site only (the Origin must be an allowed host).
application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
# Everything loaded so far lives as long as the process: keep it out of the collector's
# full passes, which otherwise walk it again and again and show up as slow requests.
gc.freeze()
