from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "miantan.notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # Each app's messages.py registers how its notifications are worded; the worker
        # renders them at send time, so it needs them loaded without any talk being touched.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("messages")
