from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    """Follow-up plans: action items, improvement plans, check-ins, evaluation and
    recommendations (PRODUCT.md E1–E5)."""

    name = "miantan.plans"
    label = "plans"
    verbose_name = _("Follow-up plans")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from miantan.metrics import brief

        from . import messages  # noqa: F401  (how plan notifications are worded)
        from .queries import open_items_for_brief

        brief.register_open_action_items(open_items_for_brief)
