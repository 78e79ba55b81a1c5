from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchiveConfig(AppConfig):
    """Signing, the locked archive and its hash chain, appeals, exports, the employee's file
    (PRODUCT.md D1–D6)."""

    name = "miantan.archive"
    label = "archive"
    verbose_name = _("Signatures and archive")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from miantan.core import rowlocks

        from .locks import statements

        rowlocks.register("archive", statements)
        from . import checks, messages  # noqa: F401  (deploy checks; how messages are worded)
