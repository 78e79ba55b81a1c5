"""/me/access-log/: every employee sees who opened their records."""

from __future__ import annotations


def test_access_log_lists_who_opened_my_record(hospital, client_as):
    client_as(hospital.head).get(f"/people/{hospital.nurse_wang.pk}/")

    response = client_as(hospital.nurse_wang).get("/me/access-log/")

    labels = [event.actor_label for event in response.context["page"]]
    assert response.status_code == 200
    assert "张伟 (H0010)" in labels
    assert "张伟（H0010）" in response.content.decode()
    assert "查看了档案" in response.content.decode()


def test_access_log_names_every_kind_of_read_in_words(hospital, client_as):
    client = client_as(hospital.head)
    client.get(f"/people/{hospital.nurse_wang.pk}/profile/")
    client.get(f"/people/{hospital.nurse_wang.pk}/brief/")
    hospital.nurse_wang.language = "en"
    hospital.nurse_wang.save(update_fields=["language"])

    page = client_as(hospital.nurse_wang).get("/me/access-log/").content.decode()

    assert "opened the performance profile" in page and "opened the talk brief" in page
    assert "metrics.profile.viewed" not in page.replace('data-action="metrics.profile.viewed"', "")
    assert "张伟 (H0010)" in page


def test_access_log_names_the_api_as_the_channel(hospital, client_as):
    client_as(hospital.hr_partner).get(f"/api/v1/people/{hospital.nurse_wang.pk}")

    response = client_as(hospital.nurse_wang).get("/me/access-log/")

    assert [event.channel for event in response.context["page"]] == ["api"]


def test_access_log_leaves_out_refused_attempts_on_other_people(hospital, client_as):
    client_as(hospital.head).get(f"/people/{hospital.zhao.pk}/")

    response = client_as(hospital.zhao).get("/me/access-log/")

    assert list(response.context["page"]) == []


def test_access_log_shows_only_my_own_records(hospital, client_as):
    client_as(hospital.head).get(f"/people/{hospital.doctor_li.pk}/")

    response = client_as(hospital.nurse_wang).get("/me/access-log/")

    assert list(response.context["page"]) == []


def test_access_log_leaves_out_my_own_visits(hospital, client_as):
    client = client_as(hospital.doctor_li)
    client.get("/me/")
    client.get(f"/people/{hospital.doctor_li.pk}/")

    response = client.get("/me/access-log/")

    assert list(response.context["page"]) == []
