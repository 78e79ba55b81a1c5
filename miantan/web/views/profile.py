"""The performance profile (绩效画像) of a person and of a department."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from miantan.metrics.profiles import access_department_profile, access_profile


@login_required
def profile(request: HttpRequest, employee_id: int) -> HttpResponse:
    profile = access_profile(request.user, employee_id)
    return render(
        request,
        "web/profile.html",
        {"profile": profile, "employee": profile.employee, "charts": profile.chart_data()},
    )


@login_required
def department_profile(request: HttpRequest, department_id: int) -> HttpResponse:
    team = access_department_profile(request.user, department_id)
    return render(
        request,
        "web/department_profile.html",
        {"team": team, "department": team.department, "charts": team.chart_data()},
    )
