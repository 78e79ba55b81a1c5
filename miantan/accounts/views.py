from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError
from miantan.people.scopes import scope_for
from miantan.people.services import set_language

from . import services
from .forms import LanguageForm, SignInForm, TokenForm
from .models import ApiToken


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        services.note_successful_login(form.get_user(), ip=self.request.META.get("REMOTE_ADDR"))
        employee = scope_for(form.get_user()).employee
        if employee is not None:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, employee.language, samesite="Lax")
        return response


class SignOutView(auth_views.LogoutView):
    pass


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """Anyone may switch; for a signed-in employee the choice is saved on the profile."""
    form = LanguageForm(request.POST)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response = HttpResponseRedirect(target)
    if not form.is_valid():
        return response
    language = form.cleaned_data["language"]
    employee = scope_for(request.user).employee if request.user.is_authenticated else None
    if employee is not None:
        set_language(employee, language=language, actor=request.user)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax", max_age=365 * 24 * 3600
    )
    return response


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    new_secret = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_secret = services.create_token(
                request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            form = TokenForm()
    own = ApiToken.objects.filter(user__pk=request.user.pk or 0)
    return render(
        request, "accounts/tokens.html", {"form": form, "tokens": own, "new_secret": new_secret}
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user, revoked_at__isnull=True)
    services.revoke_token(token, actor=request.user)
    messages.success(request, _("The token was revoked."))
    return redirect("accounts:tokens")
