from django.urls import path

from .views import hr_roles, me, people

app_name = "web"
urlpatterns = [
    path("", me.home, name="home"),
    path("me/", me.me, name="me"),
    path("me/access-log/", me.access_log, name="access_log"),
    path("team/", people.team, name="team"),
    path("people/", people.people, name="people"),
    path("people/<int:employee_id>/", people.person, name="person"),
    path("departments/", people.departments, name="departments"),
    path("hr/roles/", hr_roles.roles, name="roles"),
    path("hr/roles/<int:assignment_id>/revoke/", hr_roles.revoke_role, name="revoke_role"),
]
