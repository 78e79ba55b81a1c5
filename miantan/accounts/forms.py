from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services


class SignInForm(AuthenticationForm):
    """Django's sign-in form; every password check is counted before it is made."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("The user name or password is not correct."),
        "inactive": _("This account is no longer active."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        if not (username and password):
            return super().clean()
        lockout = services.reserve_password_check(username, ip=self.client_address)
        if lockout is not None:
            services.note_refused_login(username, lockout=lockout)
            raise forms.ValidationError(locked_out_message(lockout), code="locked_out")
        try:
            return super().clean()
        except forms.ValidationError:
            services.note_failed_login(username)
            raise

    @property
    def client_address(self) -> str | None:
        return self.request.META.get("REMOTE_ADDR") if self.request else None


def locked_out_message(lockout: services.Lockout) -> str:
    """When to try again, in the viewer's time zone, and in how many minutes."""
    now = timezone.now()
    minutes = max(1, math.ceil((lockout.until - now).total_seconds() / 60))
    until = timezone.localtime(lockout.until)
    shown = (
        formats.time_format(until, "H:i")
        if until.date() == timezone.localtime(now).date()
        else formats.date_format(until, "Y-m-d H:i")
    )
    return ngettext(
        "Too many sign-in attempts. Try again at %(time)s, in %(minutes)s minute.",
        "Too many sign-in attempts. Try again at %(time)s, in %(minutes)s minutes.",
        minutes,
    ) % {"time": shown, "minutes": minutes}


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    days = forms.TypedChoiceField(
        label=_("Valid for"),
        coerce=int,
        initial=90,
        choices=[(30, _("30 days")), (90, _("90 days")), (365, _("1 year"))],
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=[("zh-hans", "简体中文"), ("en", "English")])
    next = forms.CharField(required=False)
