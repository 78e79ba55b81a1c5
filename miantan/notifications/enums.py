"""Where a notification goes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import pgettext_lazy


class Channel(models.TextChoices):
    INBOX = "inbox", pgettext_lazy("notification channel", "inbox")
    EMAIL = "email", pgettext_lazy("notification channel", "e-mail")
    WECOM = "wecom", pgettext_lazy("notification channel", "WeCom group robot")
    DINGTALK = "dingtalk", pgettext_lazy("notification channel", "DingTalk group robot")
    FEISHU = "feishu", pgettext_lazy("notification channel", "Feishu group robot")
    SLACK = "slack", pgettext_lazy("notification channel", "Slack")
    TEAMS = "teams", pgettext_lazy("notification channel", "Microsoft Teams")


# Channels that post to a group through an incoming webhook the organisation configures.
WEBHOOK_CHANNELS = frozenset(
    {Channel.WECOM, Channel.DINGTALK, Channel.FEISHU, Channel.SLACK, Channel.TEAMS}
)
# Channels that reach a person's phone or desk at once: quiet hours and digests apply to them.
PUSH_CHANNELS = frozenset({Channel.EMAIL, *WEBHOOK_CHANNELS})
# What someone who never chose gets.
DEFAULT_CHANNELS = (Channel.EMAIL, Channel.INBOX)


class DeliveryState(models.TextChoices):
    """A row's state as the admin pages show it (derived from its timestamps)."""

    PENDING = "pending", pgettext_lazy("delivery state", "waiting")
    SENT = "sent", pgettext_lazy("delivery state", "sent")
    CANCELLED = "cancelled", pgettext_lazy("delivery state", "withdrawn")
    FAILED = "failed", pgettext_lazy("delivery state", "given up")
