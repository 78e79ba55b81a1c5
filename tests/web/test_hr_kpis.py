"""/hr/kpis/: HR for the whole organisation and administrators keep the KPI catalogue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from miantan.audit.models import AuditEvent
from miantan.metrics.enums import PeriodKind
from miantan.metrics.models import Kpi, KpiAssignment
from miantan.people.models import Employee, Position
from tests.factories import PASSWORD, DepartmentFactory
from tests.metrics.kpi_builders import assign, kpi
from tests.personas import Hospital, OtherOrganisation
from tests.web.test_browser_directory import DESKTOP, PHONE, assert_fits_the_screen

Signer = Callable[[Employee], Client]
PAGE = reverse("web:kpi_catalogue")
CREATE = reverse("web:kpi_assignment_create")
LOAD = reverse("web:kpi_pack_load")


def update_url(assignment: KpiAssignment) -> str:
    return reverse("web:kpi_assignment_update", kwargs={"assignment_id": assignment.pk})


def remove_url(assignment: KpiAssignment) -> str:
    return reverse("web:kpi_assignment_remove", kwargs={"assignment_id": assignment.pk})


@pytest.fixture
def visits(hospital: Hospital) -> Kpi:
    return kpi(hospital.organisation, "outpatient_visits", "门诊量", name_en="Outpatient visits")


@pytest.fixture
def cardiology_visits(hospital: Hospital, visits: Kpi) -> KpiAssignment:
    return assign(visits, 400, department=hospital.cardiology, weight=30)


def new_assignment(visits: Kpi, hospital: Hospital, **overrides: Any) -> dict[str, Any]:
    return {
        "kpi": visits.pk,
        "department": hospital.cardiology.pk,
        "position": "",
        "period_kind": PeriodKind.MONTH,
        "weight": "30",
        "target": "400",
        **overrides,
    }


def in_english(client: Client) -> Client:
    """Messages are asserted in English; the personas read Chinese by default."""
    client.post(reverse("accounts:language"), {"language": "en"})
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- who may open it ---------------------------------------------------------------------------


def test_kpi_catalogue_shows_kpis_and_assignments_to_hr(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).get(PAGE)

    assert response.status_code == 200
    assert [row.assignment for row in response.context["rows"]] == [cardiology_visits]
    page = response.content.decode()
    assert "门诊量" in page and "心内科" in page
    assert 'value="400"' in page and 'value="30"' in page


def test_kpi_catalogue_opens_for_an_administrator(hospital: Hospital, client_as: Signer) -> None:
    assert client_as(hospital.admin).get(PAGE).status_code == 200


@pytest.mark.parametrize("persona", ["head", "doctor_li", "executive", "head_nurse"])
def test_kpi_catalogue_is_forbidden_without_organisation_wide_reach(
    hospital: Hospital, client_as: Signer, persona: str
) -> None:
    assert client_as(getattr(hospital, persona)).get(PAGE).status_code == 403


def test_department_head_may_not_assign_a_kpi(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    response = client_as(hospital.head).post(CREATE, new_assignment(visits, hospital))

    assert response.status_code == 403
    assert not KpiAssignment.objects.exists()


def test_department_head_may_not_change_or_remove_an_assignment(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    client = client_as(hospital.head)

    changed = client.post(update_url(cardiology_visits), {"weight": "1", "target": "1"})
    removed = client.post(remove_url(cardiology_visits))

    assert (changed.status_code, removed.status_code) == (403, 403)
    cardiology_visits.refresh_from_db()
    assert cardiology_visits.target == Decimal(400)


def test_department_head_may_not_load_a_pack(hospital: Hospital, client_as: Signer) -> None:
    response = client_as(hospital.head).post(LOAD, {"pack": "hospital"})

    assert response.status_code == 403
    assert not Kpi.objects.exists()


def test_kpi_catalogue_is_in_the_navigation_of_hr_only(
    hospital: Hospital, client_as: Signer
) -> None:
    for_hr = client_as(hospital.hr_partner).get(reverse("web:me"))
    for_head = client_as(hospital.head).get(reverse("web:me"))

    assert PAGE in nav_urls(for_hr)
    assert PAGE not in nav_urls(for_head)


def nav_urls(response: Any) -> list[str]:
    """Every address in the navigation bar and its "Manage" group."""
    items = list(response.context["nav"])
    if response.context.get("nav_manage"):
        items += response.context["nav_manage"].items
    return [item.url for item in items]


@pytest.mark.parametrize("name", ["kpi_pack_load", "kpi_assignment_create"])
def test_kpi_catalogue_actions_answer_405_to_get(
    hospital: Hospital, client_as: Signer, name: str
) -> None:
    assert client_as(hospital.hr_partner).get(reverse(f"web:{name}")).status_code == 405


# --- assignments -------------------------------------------------------------------------------


def test_hr_assigns_a_kpi(hospital: Hospital, visits: Kpi, client_as: Signer) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(CREATE, new_assignment(visits, hospital), follow=True)

    assignment = KpiAssignment.objects.get()
    assert (assignment.department, assignment.weight) == (hospital.cardiology, Decimal(30))
    assert response.redirect_chain == [(PAGE, 302)]
    assert messages_of(response) == ["The KPI was assigned."]
    assert AuditEvent.objects.filter(action="metrics.assignment.created").count() == 1


def test_hr_assigns_a_kpi_to_a_position_anywhere(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    doctor = Position.objects.get(organisation=hospital.organisation, code="YS")

    client_as(hospital.hr_partner).post(
        CREATE, new_assignment(visits, hospital, department="", position=doctor.pk)
    )

    assert KpiAssignment.objects.get().position == doctor


def test_a_negative_target_shows_the_error_and_changes_nothing(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        CREATE, new_assignment(visits, hospital, target="-5")
    )

    assert response.status_code == 400
    assert response.context["assignment_form"].errors["target"]
    page = response.content.decode()
    assert 'class="errorlist"' in page
    # The rest of what was typed stays, to be corrected rather than typed again.
    assert f'<option value="{hospital.cardiology.pk}" selected>' in page
    assert not KpiAssignment.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.assignment.created").exists()


def test_a_weight_over_100_shows_the_error(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        CREATE, new_assignment(visits, hospital, weight="120")
    )

    assert response.context["assignment_form"].errors["weight"]
    assert not KpiAssignment.objects.exists()


def test_an_assignment_needs_a_department_or_a_position(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    response = in_english(client_as(hospital.hr_partner)).post(
        CREATE, new_assignment(visits, hospital, department="")
    )

    assert response.context["assignment_form"].non_field_errors() == [
        "Choose a department, a position or both."
    ]
    assert not KpiAssignment.objects.exists()


def test_a_duplicate_assignment_shows_the_error(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    response = in_english(client_as(hospital.hr_partner)).post(
        CREATE, new_assignment(cardiology_visits.kpi, hospital, target="500")
    )

    assert response.status_code == 400
    assert "already assigned" in response.context["assignment_form"].non_field_errors()[0]
    assert KpiAssignment.objects.get().target == Decimal(400)


def test_a_foreign_department_is_not_a_choice(
    hospital: Hospital, other_org: OtherOrganisation, visits: Kpi, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        CREATE, new_assignment(visits, hospital, department=other_org.department.pk)
    )

    assert response.context["assignment_form"].errors["department"]
    assert not KpiAssignment.objects.exists()


def test_a_foreign_kpi_is_not_a_choice(
    hospital: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    foreign = kpi(other_org.organisation, "bug_rate", "bug 率")

    response = client_as(hospital.hr_partner).post(CREATE, new_assignment(foreign, hospital))

    assert response.context["assignment_form"].errors["kpi"]
    assert not KpiAssignment.objects.exists()


def test_hr_changes_weight_and_target(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        update_url(cardiology_visits), {"weight": "20", "target": "450", "page": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == PAGE
    cardiology_visits.refresh_from_db()
    assert (cardiology_visits.weight, cardiology_visits.target) == (Decimal(20), Decimal(450))


def test_a_bad_target_in_the_row_shows_the_error_and_changes_nothing(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        update_url(cardiology_visits), {"weight": "20", "target": "-1"}
    )

    assert response.status_code == 400
    [row] = response.context["rows"]
    assert row.errors and row.target == "-1"
    assert "has-errors" in response.content.decode()
    cardiology_visits.refresh_from_db()
    assert (cardiology_visits.weight, cardiology_visits.target) == (Decimal(30), Decimal(400))
    assert not AuditEvent.objects.filter(action="metrics.assignment.updated").exists()


def test_hr_removes_an_assignment(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(remove_url(cardiology_visits), follow=True)

    assert not KpiAssignment.objects.exists()
    assert messages_of(response) == ["The assignment was removed."]
    assert AuditEvent.objects.filter(action="metrics.assignment.removed").count() == 1


def test_removing_goes_back_to_the_same_page(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(remove_url(cardiology_visits), {"page": "2"})

    assert response["Location"] == f"{PAGE}?page=2"


def test_removing_answers_405_to_get(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    assert client_as(hospital.hr_partner).get(remove_url(cardiology_visits)).status_code == 405
    assert KpiAssignment.objects.exists()


def test_a_foreign_assignment_answers_404(
    hospital: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    foreign = assign(
        kpi(other_org.organisation, "bug_rate", "bug 率"), 2, department=other_org.department
    )
    client = client_as(hospital.admin)

    changed = client.post(update_url(foreign), {"weight": "1", "target": "1"})
    removed = client.post(remove_url(foreign))

    assert (changed.status_code, removed.status_code) == (404, 404)
    assert KpiAssignment.objects.get().target == Decimal(2)


def test_an_unknown_assignment_answers_404(hospital: Hospital, client_as: Signer) -> None:
    url = reverse("web:kpi_assignment_remove", kwargs={"assignment_id": 987654})

    assert client_as(hospital.hr_partner).post(url).status_code == 404


# --- valid ranges ------------------------------------------------------------------------------


def range_url(indicator: Kpi) -> str:
    return reverse("web:kpi_range_update", kwargs={"kpi_id": indicator.pk})


def test_hr_sets_the_valid_range_of_a_kpi(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(range_url(visits), {"min_value": "0", "max_value": "5000"}, follow=True)

    assert response.redirect_chain == [(f"{PAGE}#kpi-{visits.pk}", 302)]
    assert messages_of(response) == ["The valid range of Outpatient visits was saved."]
    visits.refresh_from_db()
    assert (visits.min_value, visits.max_value) == (Decimal(0), Decimal(5000))
    assert 'value="5000"' in response.content.decode()
    event = AuditEvent.objects.get(action="metrics.kpi.range_changed")
    assert event.data == {
        "kpi": "outpatient_visits",
        "min_value": [None, "0"],
        "max_value": [None, "5000"],
    }


def test_an_empty_end_of_the_range_is_no_limit(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    Kpi.objects.filter(pk=visits.pk).update(min_value=0, max_value=100)

    client_as(hospital.hr_partner).post(range_url(visits), {"min_value": "0", "max_value": ""})

    visits.refresh_from_db()
    assert (visits.min_value, visits.max_value) == (Decimal(0), None)


def test_a_range_upside_down_shows_the_error_on_its_row(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    response = in_english(client_as(hospital.hr_partner)).post(
        range_url(visits), {"min_value": "10", "max_value": "5"}
    )

    assert response.status_code == 400
    [(_label, [row])] = response.context["groups"]
    assert row.errors == ["The highest valid value must not be below the lowest."]
    assert (row.min_value, row.max_value) == ("10", "5")
    visits.refresh_from_db()
    assert (visits.min_value, visits.max_value) == (None, None)
    assert not AuditEvent.objects.filter(action="metrics.kpi.range_changed").exists()


def test_a_range_that_leaves_out_an_assigned_target_is_refused(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    response = in_english(client_as(hospital.hr_partner)).post(
        range_url(cardiology_visits.kpi), {"min_value": "0", "max_value": "300"}
    )

    assert response.status_code == 400
    [(_label, [row])] = response.context["groups"]
    assert row.errors == [
        "The target 400 assigned to Cardiology lies outside this range; change that target first."
    ]


def test_an_assignment_target_outside_the_range_is_refused(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    Kpi.objects.filter(pk=visits.pk).update(min_value=0, max_value=300)

    response = in_english(client_as(hospital.hr_partner)).post(
        CREATE, new_assignment(visits, hospital, target="400")
    )

    assert response.status_code == 400
    assert response.context["assignment_form"].non_field_errors() == [
        "The target must lie within the KPI's valid range 0–300."
    ]
    assert not KpiAssignment.objects.exists()


def test_the_catalogue_shows_each_kpis_range(hospital: Hospital, client_as: Signer) -> None:
    client = client_as(hospital.hr_partner)
    client.post(LOAD, {"pack": "hospital"})

    page = client.get(PAGE).content.decode()

    satisfaction = Kpi.objects.get(code="patient_satisfaction")
    row = page[page.index(f'id="kpi-{satisfaction.pk}"') :]
    row = row[: row.index("</tr>")]
    assert 'name="min_value" form="range-' in row and 'value="0"' in row
    assert 'value="100"' in row


@pytest.mark.parametrize("persona", ["head", "hr_cardiology", "executive"])
def test_only_organisation_wide_hr_and_admins_set_a_range(
    hospital: Hospital, visits: Kpi, client_as: Signer, persona: str
) -> None:
    response = client_as(getattr(hospital, persona)).post(
        range_url(visits), {"min_value": "0", "max_value": "1"}
    )

    assert response.status_code == 403
    visits.refresh_from_db()
    assert visits.max_value is None


def test_a_foreign_kpi_range_answers_404(
    hospital: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    foreign = kpi(other_org.organisation, "bug_rate", "bug 率")

    response = client_as(hospital.admin).post(range_url(foreign), {"max_value": "1"})

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.max_value is None


def test_setting_a_range_answers_405_to_get(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    assert client_as(hospital.hr_partner).get(range_url(visits)).status_code == 405


# --- packs -------------------------------------------------------------------------------------


def test_hr_loads_a_pack(hospital: Hospital, client_as: Signer) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(LOAD, {"pack": "hospital"}, follow=True)

    assert Kpi.objects.filter(organisation=hospital.organisation).count() == 4
    assert messages_of(response) == ["The Hospital pack was loaded: 4 KPIs added."]
    hospital_pack = next(s for s in response.context["packs"] if s.key == "hospital")
    assert hospital_pack.loaded
    assert "(loaded)" in response.content.decode()


def test_loading_a_pack_twice_adds_nothing_and_says_so(
    hospital: Hospital, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))
    client.post(LOAD, {"pack": "retail"}, follow=True)

    response = client.post(LOAD, {"pack": "retail"}, follow=True)

    assert Kpi.objects.filter(organisation=hospital.organisation).count() == 1
    assert messages_of(response) == ["The Retail pack was already loaded; nothing changed."]


def test_an_unknown_pack_shows_the_error(hospital: Hospital, client_as: Signer) -> None:
    response = client_as(hospital.hr_partner).post(LOAD, {"pack": "bakery"})

    assert response.status_code == 400
    assert response.context["pack_form"].errors["pack"]
    assert not Kpi.objects.exists()


def test_kpis_are_grouped_by_pack_with_english_names(
    hospital: Hospital, visits: Kpi, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))
    client.post(LOAD, {"pack": "retail"})

    response = client.get(PAGE)

    groups = [
        (str(label), [r.kpi.code for r in rows]) for label, rows in response.context["groups"]
    ]
    assert groups == [
        ("Retail", ["average_transaction_value"]),
        ("Own KPIs", ["outpatient_visits"]),
    ]
    page = response.content.decode()
    assert "Average transaction value" in page and "higher is better" in page


# --- queries -----------------------------------------------------------------------------------


def queries_for(client: Client) -> int:
    client.get(PAGE)  # warm-up: the first request may fill per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(PAGE)
    assert response.status_code == 200
    return len(captured)


def test_kpi_catalogue_query_count_is_constant(
    hospital: Hospital, cardiology_visits: KpiAssignment, client_as: Signer
) -> None:
    client = client_as(hospital.hr_partner)
    few = queries_for(client)
    doctor = Position.objects.get(organisation=hospital.organisation, code="YS")
    for number in range(40):
        department = DepartmentFactory(parent=hospital.emergency)
        indicator = kpi(hospital.organisation, f"kpi_{number}", f"指标{number}")
        assign(indicator, number, department=department, position=doctor)

    many = queries_for(client)

    assert many == few, f"{few} queries with one assignment, {many} with 41"


# --- in a browser ------------------------------------------------------------------------------


def sign_in_to(page: Page, base: str, username: str, path: str) -> None:
    """Sign in on the way to a page, and land on it."""
    page.goto(f"{base}{reverse('accounts:login')}?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{base}{path}")


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_browser_kpi_catalogue_on_a_phone(
    live_server: Any, hospital: Hospital, cardiology_visits: KpiAssignment, phone: Page
) -> None:
    base = live_server.url
    sign_in_to(phone, base, "hr.sun", PAGE)
    assert_fits_the_screen(phone, PHONE["width"])

    phone.select_option("#id_pack", "hospital")
    phone.click("[data-testid=kpi-pack-form] button[type=submit]")
    expect(phone.locator(".messages li")).to_have_count(1)
    expect(phone.locator("[data-testid=kpi-list]").first).to_contain_text("手术量")
    assert_fits_the_screen(phone, PHONE["width"])

    surgeries = Kpi.objects.get(code="surgeries")
    row = phone.locator(f"#kpi-{surgeries.pk}")
    row.locator("input[name=max_value]").fill("40")
    with phone.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(phone.locator(f"#kpi-{surgeries.pk} input[name=max_value]")).to_have_value("40")
    assert_fits_the_screen(phone, PHONE["width"])

    row = phone.locator(f"#assignment-{cardiology_visits.pk}")
    row.locator("input[name=target]").fill("420")
    with phone.expect_navigation():
        row.locator(f"#edit-{cardiology_visits.pk} button").click()
    expect(phone.locator(f"#assignment-{cardiology_visits.pk} input[name=target]")).to_have_value(
        "420"
    )
    assert_fits_the_screen(phone, PHONE["width"])

    row = phone.locator(f"#assignment-{cardiology_visits.pk}")
    row.locator("details.confirm summary").click()
    row.locator("button.danger").click()
    expect(phone.locator("[data-testid=kpi-assignments]")).not_to_contain_text("门诊量")
    assert not KpiAssignment.objects.exists()


@pytest.mark.browser
def test_browser_kpi_catalogue_fits_a_desktop(
    live_server: Any, hospital: Hospital, cardiology_visits: KpiAssignment, browser: Browser
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    sign_in_to(page, live_server.url, "hr.sun", PAGE)

    expect(page.locator("[data-testid=kpi-assignments]")).to_contain_text("心内科")
    assert_fits_the_screen(page, DESKTOP["width"])
    context.close()
