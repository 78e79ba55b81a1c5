from django.urls import path

from .views import hr_import, hr_metrics_import, hr_roles, me, people, profile

app_name = "web"
urlpatterns = [
    path("", me.home, name="home"),
    path("me/", me.me, name="me"),
    path("me/access-log/", me.access_log, name="access_log"),
    path("team/", people.team, name="team"),
    path("people/", people.people, name="people"),
    path("people/<int:employee_id>/", people.person, name="person"),
    path("people/<int:employee_id>/profile/", profile.profile, name="profile"),
    path("departments/", people.departments, name="departments"),
    path(
        "departments/<int:department_id>/profile/",
        profile.department_profile,
        name="department_profile",
    ),
    path("hr/roles/", hr_roles.roles, name="roles"),
    path("hr/roles/<int:assignment_id>/revoke/", hr_roles.revoke_role, name="revoke_role"),
    path("hr/import/", hr_import.org_import, name="org_import"),
    path("hr/import/template.csv", hr_import.org_import_template, name="org_import_template"),
    path("hr/import/<int:import_id>/", hr_import.org_import_detail, name="org_import_detail"),
    path(
        "hr/import/<int:import_id>/report.csv",
        hr_import.org_import_report,
        name="org_import_report",
    ),
    path("hr/metrics/import/", hr_metrics_import.metrics_import, name="metrics_import"),
    path(
        "hr/metrics/import/template.csv",
        hr_metrics_import.metrics_import_template,
        name="metrics_import_template",
    ),
    path(
        "hr/metrics/import/<int:metrics_import_id>/",
        hr_metrics_import.metrics_import_detail,
        name="metrics_import_detail",
    ),
    path(
        "hr/metrics/import/<int:metrics_import_id>/problems.csv",
        hr_metrics_import.metrics_import_report,
        name="metrics_import_report",
    ),
]
