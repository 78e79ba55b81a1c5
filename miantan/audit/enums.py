from django.db import models
from django.utils.translation import pgettext_lazy


class Outcome(models.TextChoices):
    OK = "ok", pgettext_lazy("audit outcome", "allowed")
    DENIED = "denied", pgettext_lazy("audit outcome", "denied")
    FAILED = "failed", pgettext_lazy("audit outcome", "failed")
