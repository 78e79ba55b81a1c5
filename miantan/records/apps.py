from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "miantan.records"
    verbose_name = _("Talk records")

    def ready(self) -> None:
        # The record's messages register how they are worded and linked.
        from . import messages  # noqa: F401
