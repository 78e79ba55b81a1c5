from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "miantan.audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
