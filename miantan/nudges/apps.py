from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NudgesConfig(AppConfig):
    """Rules that suggest a talk or remind people, configured by HR, evaluated over the whole
    organisation at once (PRODUCT.md F1, F2)."""

    name = "miantan.nudges"
    label = "nudges"
    verbose_name = _("Nudges")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import messages  # noqa: F401  (how nudges are worded)
