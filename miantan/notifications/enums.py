"""Where a notification goes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import pgettext_lazy


class Channel(models.TextChoices):
    EMAIL = "email", pgettext_lazy("notification channel", "e-mail")
    INBOX = "inbox", pgettext_lazy("notification channel", "inbox")
