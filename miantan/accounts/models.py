from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SignInLimit(models.Model):
    """Password checks counted for one account name or one client address.

    A check is counted before the password is hashed, by one conditional UPDATE, so that
    simultaneous attempts cannot all pass a count that none of them has written yet. The key
    is a digest, so what people typed into the name field is not kept.
    """

    key = models.CharField(max_length=64, unique=True)
    checks = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("sign-in limit")
        verbose_name_plural = _("sign-in limits")

    def __str__(self) -> str:
        return f"{self.key[:8]}… {self.checks} until {self.window_ends_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the secret is stored; it is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
