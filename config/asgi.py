import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
application = get_asgi_application()
# Everything loaded so far lives as long as the process: keep it out of the collector's
# full passes, which otherwise walk it again and again and show up as slow requests.
gc.freeze()
