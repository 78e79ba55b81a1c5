"""HR's nudge rules (PRODUCT.md F1, F2): the list with each rule's switch, last run and count;
one rule's settings with their validation and a preview of how many people it would nudge now.

Every HR partner and administrator of the organisation reads the rules; HR for the whole
organisation and administrators change them. `nudges.services` decides and audits; these
views show what the user may and put the service's errors on the inputs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from miantan.core.errors import InvalidFields
from miantan.nudges import queries, services
from miantan.nudges.models import NudgeRule
from miantan.nudges.params import DESCRIPTIONS, PARAMS, effective


class SwitchForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")


class RuleForm(forms.Form):
    """The rule's name, description, switch and the settings of its kind. Values are checked
    by the service (`nudges.params.clean`), whose messages go on the inputs."""

    name = forms.CharField(
        label=gettext_lazy("Name shown to HR"), required=False, max_length=services.MAX_NAME
    )
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    enabled = forms.BooleanField(label=pgettext_lazy("nudge rule", "On"), required=False)

    def __init__(self, *args: Any, rule: NudgeRule, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule = rule
        for param in PARAMS[rule.kind]:
            if param.is_choice:
                self.fields[param.name] = forms.ChoiceField(
                    label=param.label, choices=param.choices, help_text=param.help_text
                )
            else:
                self.fields[param.name] = forms.CharField(
                    label=param.label,
                    help_text=param.help_text,
                    widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 5}),
                )

    @classmethod
    def of(cls, rule: NudgeRule) -> RuleForm:
        initial = {
            "name": rule.name,
            "description": rule.description,
            "enabled": rule.enabled,
            **effective(rule.kind, rule.params),
        }
        return cls(initial=initial, rule=rule)

    @property
    def param_fields(self) -> list[Any]:
        return [self[param.name] for param in PARAMS[self.rule.kind]]

    def params(self) -> dict[str, Any]:
        return {param.name: self.data.get(param.name, "") for param in PARAMS[self.rule.kind]}

    def put_errors(self, error: InvalidFields) -> None:
        for place, message in error.errors.items():
            self.add_error(place if place in self.fields else None, str(message))


def rule_row(rule: NudgeRule, *, user: Any) -> dict[str, Any]:
    """What the pages show of a rule: its name and description (the kind's own when HR gave
    none), its settings with their labels, its last run."""
    values = effective(rule.kind, rule.params)
    settings = []
    for param in PARAMS[rule.kind]:
        shown = values[param.name]
        if param.is_choice:
            shown = dict(param.choices).get(str(shown), shown)
        settings.append({"label": param.label, "value": shown})
    return {
        "rule": rule,
        "name": rule.name or rule.get_kind_display(),
        "description": rule.description or DESCRIPTIONS.get(rule.kind, ""),
        "settings": settings,
        "may_edit": services.may_edit(user, rule),
    }


@login_required
def nudge_rules(request: HttpRequest) -> HttpResponse:
    rules = queries.rules_visible_to(request.user)
    rows = [rule_row(rule, user=request.user) for rule in rules]
    return render(
        request,
        "web/hr/nudges/list.html",
        {"rows": rows, "may_edit": any(row["may_edit"] for row in rows)},
    )


@login_required
def nudge_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = queries.access_rule(request.user, rule_id)
    if request.method != "POST":
        form = RuleForm.of(rule) if services.may_edit(request.user, rule) else None
        return _rule_page(request, rule, form, preview=services.preview(rule))
    # Refused (and audited) before the input is read.
    services.ensure_may_edit(request.user, rule)
    form = RuleForm(request.POST, rule=rule)
    form.is_valid()
    if request.POST.get("op") == "preview":
        try:
            count = services.preview(rule, params=form.params())
        except InvalidFields as error:
            form.put_errors(error)
            return _rule_page(request, rule, form, preview=None, status=400)
        return _rule_page(request, rule, form, preview=count, previewed=True)
    try:
        services.update_rule(
            rule,
            actor=request.user,
            params=form.params(),
            enabled=bool(request.POST.get("enabled")),
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
        )
    except InvalidFields as error:
        rule.refresh_from_db()
        form.put_errors(error)
        return _rule_page(request, rule, form, preview=None, status=400)
    messages.success(request, _("The rule was saved."))
    return redirect("web:nudge_rules")


@login_required
@require_POST
def nudge_rule_switch(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = queries.access_rule(request.user, rule_id)
    services.ensure_may_edit(request.user, rule)
    form = SwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether the rule is on or off."))
        return redirect("web:nudge_rules")
    services.update_rule(rule, actor=request.user, enabled=form.cleaned_data["enabled"])
    if rule.enabled:
        messages.success(request, _("The rule is on: it runs every few minutes."))
    else:
        messages.success(request, _("The rule is off: it nudges nobody."))
    return redirect("web:nudge_rules")


def _rule_page(
    request: HttpRequest,
    rule: NudgeRule,
    form: RuleForm | None,
    *,
    preview: int | None,
    previewed: bool = False,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "web/hr/nudges/edit.html",
        {
            "row": rule_row(rule, user=request.user),
            "form": form,
            "preview": preview,
            "previewed": previewed,
        },
        status=status,
    )
