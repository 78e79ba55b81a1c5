from django.urls import path

from .views import brief, hr_import, hr_kpis, hr_metrics_import, hr_roles, me, people, profile

app_name = "web"
urlpatterns = [
    path("", me.home, name="home"),
    path("me/", me.me, name="me"),
    path("me/access-log/", me.access_log, name="access_log"),
    path("team/", people.team, name="team"),
    path("people/", people.people, name="people"),
    path("people/<int:employee_id>/", people.person, name="person"),
    path("people/<int:employee_id>/profile/", profile.profile, name="profile"),
    path("people/<int:employee_id>/brief/", brief.brief, name="brief"),
    path("people/<int:employee_id>/evidence/", profile.evidence_create, name="evidence_create"),
    path(
        "people/<int:employee_id>/evidence/<int:entry_id>/remove/",
        profile.evidence_remove,
        name="evidence_remove",
    ),
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
    path("hr/kpis/", hr_kpis.kpi_catalogue, name="kpi_catalogue"),
    path("hr/kpis/packs/", hr_kpis.kpi_pack_load, name="kpi_pack_load"),
    path("hr/kpis/assignments/", hr_kpis.kpi_assignment_create, name="kpi_assignment_create"),
    path(
        "hr/kpis/assignments/<int:assignment_id>/",
        hr_kpis.kpi_assignment_update,
        name="kpi_assignment_update",
    ),
    path(
        "hr/kpis/assignments/<int:assignment_id>/remove/",
        hr_kpis.kpi_assignment_remove,
        name="kpi_assignment_remove",
    ),
]
