"""The evidence log: who may write and remove entries, what the service refuses, the audit, and
the form on the profile page."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from miantan.audit.models import AuditEvent
from miantan.metrics.enums import EvidenceKind
from miantan.metrics.evidence import InvalidEvidence, record_evidence, remove_evidence
from miantan.metrics.models import EvidenceEntry
from miantan.metrics.rules import can_record_evidence, can_remove_evidence
from miantan.people.models import Employee
from tests.metrics.kpi_builders import kpi
from tests.personas import Hospital, OtherOrganisation

TODAY = date(2026, 7, 10)


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to("2026-07-10 10:00 +08:00")


def note(actor: Employee, employee: Employee, **changes) -> EvidenceEntry:
    fields = {
        "kind": EvidenceKind.NEGATIVE,
        "happened_on": date(2026, 7, 1),
        "text": "  交班记录不完整  ",
        "kpi": None,
    }
    return record_evidence(actor.user, employee, **(fields | changes))


# --- who may record ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "about", "allowed"),
    [
        ("head_nurse", "nurse_wang", True),  # direct manager
        ("head", "nurse_wang", True),  # indirect manager and department head
        ("hr_partner", "zhao", True),
        ("admin", "zhao", True),
        ("head", "zhao", False),  # another department
        ("doctor_li", "nurse_wang", False),  # a colleague
        ("executive", "nurse_wang", False),
        ("nurse_wang", "head_nurse", False),  # nobody records about their manager
    ],
)
def test_can_record_evidence(hospital: Hospital, author: str, about: str, allowed: bool):
    user = getattr(hospital, author).user

    assert can_record_evidence.test(user, getattr(hospital, about)) is allowed


@pytest.mark.parametrize("persona", ["doctor_li", "head", "hr_partner", "admin", "executive"])
def test_can_record_evidence_never_about_oneself(hospital: Hospital, persona: str):
    person = getattr(hospital, persona)

    assert not can_record_evidence.test(person.user, person)


def test_can_record_evidence_not_in_another_organisation(
    hospital: Hospital, other_org: OtherOrganisation
):
    # 冯涛 is HR and administrator, but of 星河科技.
    assert not can_record_evidence.test(other_org.employee.user, hospital.nurse_wang)


# --- recording --------------------------------------------------------------------------------


def test_record_evidence_writes_the_entry_and_the_audit_event(hospital: Hospital):
    entry = note(hospital.head_nurse, hospital.nurse_wang)

    entry.refresh_from_db()
    assert (entry.employee, entry.author, entry.text) == (
        hospital.nurse_wang,
        hospital.head_nurse,
        "交班记录不完整",
    )
    assert entry.organisation_id == hospital.organisation.pk
    event = AuditEvent.objects.get(action="metrics.evidence.recorded")
    assert (event.outcome, event.subject_id, event.object_id) == (
        "ok",
        hospital.nurse_wang.pk,
        str(entry.pk),
    )
    assert event.data == {"kind": "negative", "happened_on": "2026-07-01", "kpi": None}


def test_record_evidence_with_a_kpi(hospital: Hospital):
    satisfaction = kpi(hospital.organisation, "patient_satisfaction", "患者满意度")

    entry = note(hospital.head, hospital.doctor_li, kind=EvidenceKind.POSITIVE, kpi=satisfaction)

    assert entry.kpi == satisfaction
    event = AuditEvent.objects.get(action="metrics.evidence.recorded")
    assert event.data["kpi"] == "patient_satisfaction"


def test_record_evidence_about_oneself_is_refused_and_audited(hospital: Hospital):
    with pytest.raises(PermissionDenied):
        note(hospital.head, hospital.head)

    assert not EvidenceEntry.objects.exists()
    event = AuditEvent.objects.get(action="metrics.evidence.recorded")
    assert (event.outcome, event.subject_id) == ("denied", hospital.head.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "长" * 2001}, "text"),
        ({"happened_on": date(2026, 7, 11)}, "happened_on"),
        ({"happened_on": date(2019, 12, 31)}, "happened_on"),  # before the hire date
        ({"kind": "rumour"}, "kind"),
    ],
)
def test_record_evidence_validation_errors_change_nothing(
    hospital: Hospital, changes: dict, field: str
):
    Employee.objects.filter(pk=hospital.nurse_wang.pk).update(hire_date=date(2020, 1, 1))
    wang = Employee.objects.select_related("department").get(pk=hospital.nurse_wang.pk)

    with pytest.raises(InvalidEvidence) as refused:
        note(hospital.head_nurse, wang, **changes)

    assert list(refused.value.errors) == [field]
    assert not EvidenceEntry.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.evidence.recorded").exists()


def test_record_evidence_text_of_2000_characters_is_accepted(hospital: Hospital):
    entry = note(hospital.head_nurse, hospital.nurse_wang, text="长" * 2000)

    assert len(entry.text) == 2000


def test_record_evidence_refuses_a_kpi_of_another_organisation(
    hospital: Hospital, other_org: OtherOrganisation
):
    foreign = kpi(other_org.organisation, "bug_rate", "bug 率")

    with pytest.raises(InvalidEvidence) as refused:
        note(hospital.head_nurse, hospital.nurse_wang, kpi=foreign)

    assert list(refused.value.errors) == ["kpi"]
    assert not EvidenceEntry.objects.exists()


# --- removing ---------------------------------------------------------------------------------


def test_remove_evidence_by_its_author(hospital: Hospital):
    entry = note(hospital.head_nurse, hospital.nurse_wang)
    entry_id = entry.pk

    remove_evidence(hospital.head_nurse.user, entry)

    assert not EvidenceEntry.objects.exists()
    event = AuditEvent.objects.get(action="metrics.evidence.removed")
    assert (event.outcome, event.object_id, event.subject_id) == (
        "ok",
        str(entry_id),
        hospital.nurse_wang.pk,
    )
    assert event.data["author"] == hospital.head_nurse.pk


@pytest.mark.parametrize(("persona", "allowed"), [("hr_partner", True), ("admin", True)])
def test_remove_evidence_by_hr_and_administrators(hospital: Hospital, persona, allowed):
    entry = note(hospital.head_nurse, hospital.nurse_wang)

    assert can_remove_evidence.test(getattr(hospital, persona).user, entry) is allowed


def test_remove_evidence_is_not_for_another_manager(hospital: Hospital):
    entry = note(hospital.head_nurse, hospital.nurse_wang)

    with pytest.raises(PermissionDenied):
        remove_evidence(hospital.head.user, entry)  # sees 王芳, did not write it, not HR

    assert EvidenceEntry.objects.filter(pk=entry.pk).exists()
    event = AuditEvent.objects.get(action="metrics.evidence.removed")
    assert event.outcome == "denied"


def test_remove_evidence_hr_not_about_themself(hospital: Hospital):
    entry = note(hospital.admin, hospital.hr_partner)

    assert not can_remove_evidence.test(hospital.hr_partner.user, entry)
    assert can_remove_evidence.test(hospital.admin.user, entry)


# --- the profile page -------------------------------------------------------------------------


def create_url(employee: Employee) -> str:
    return reverse("web:evidence_create", kwargs={"employee_id": employee.pk})


def form_data(**changes) -> dict:
    return {
        "kind": "positive",
        "happened_on": "2026-07-02",
        "kpi": "",
        "text": "抢救及时",
    } | changes


def test_profile_shows_the_form_to_a_manager(hospital: Hospital, client_as):
    response = client_as(hospital.head_nurse).get(
        reverse("web:profile", kwargs={"employee_id": hospital.nurse_wang.pk})
    )

    assert response.context["evidence_form"] is not None
    assert create_url(hospital.nurse_wang) in response.content.decode()


def test_profile_hides_the_form_from_the_employee(hospital: Hospital, client_as):
    response = client_as(hospital.nurse_wang).get(
        reverse("web:profile", kwargs={"employee_id": hospital.nurse_wang.pk})
    )

    assert response.context["evidence_form"] is None
    assert create_url(hospital.nurse_wang) not in response.content.decode()


def test_evidence_page_records_for_a_manager(hospital: Hospital, client_as):
    satisfaction = kpi(hospital.organisation, "patient_satisfaction", "患者满意度")
    client = client_as(hospital.head_nurse)

    response = client.post(create_url(hospital.nurse_wang), form_data(kpi=satisfaction.pk))

    assert response.status_code == 302
    assert response["Location"].endswith(
        f"/people/{hospital.nurse_wang.pk}/profile/#evidence-heading"
    )
    entry = EvidenceEntry.objects.get()
    assert (entry.kind, entry.kpi, entry.author) == ("positive", satisfaction, hospital.head_nurse)
    page = client.get(response["Location"]).content.decode()
    assert "抢救及时" in page


def test_evidence_page_employee_about_themself_gets_403(hospital: Hospital, client_as):
    response = client_as(hospital.nurse_wang).post(create_url(hospital.nurse_wang), form_data())

    assert response.status_code == 403
    assert not EvidenceEntry.objects.exists()


def test_evidence_page_other_departments_head_gets_404(hospital: Hospital, client_as):
    response = client_as(hospital.head).post(create_url(hospital.zhao), form_data())

    assert response.status_code == 404
    assert not EvidenceEntry.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "  "}, "text"),
        ({"happened_on": "2026-07-11"}, "happened_on"),
        ({"happened_on": "yesterday"}, "happened_on"),
        ({"kind": ""}, "kind"),
    ],
)
def test_evidence_page_errors_re_render_the_form_and_change_nothing(
    hospital: Hospital, client_as, changes, field
):
    response = client_as(hospital.head_nurse).post(
        create_url(hospital.nurse_wang), form_data(**changes)
    )

    assert response.status_code == 400
    assert field in response.context["evidence_form"].errors
    assert not EvidenceEntry.objects.exists()


def test_evidence_page_future_date_error_is_translated(hospital: Hospital, client_as):
    client = client_as(hospital.head_nurse)
    client.post(reverse("accounts:language"), {"language": "en"})

    response = client.post(create_url(hospital.nurse_wang), form_data(happened_on="2026-08-01"))

    assert "The date is in the future." in response.content.decode()


def test_evidence_page_get_is_not_allowed(hospital: Hospital, client_as):
    assert client_as(hospital.head_nurse).get(create_url(hospital.nurse_wang)).status_code == 405


def remove_url(entry: EvidenceEntry) -> str:
    return reverse(
        "web:evidence_remove", kwargs={"employee_id": entry.employee_id, "entry_id": entry.pk}
    )


def test_evidence_remove_page_by_the_author(hospital: Hospital, client_as):
    entry = note(hospital.head_nurse, hospital.nurse_wang)
    client = client_as(hospital.head_nurse)
    page = client.get(reverse("web:profile", kwargs={"employee_id": hospital.nurse_wang.pk}))
    assert remove_url(entry) in page.content.decode()

    response = client.post(remove_url(entry))

    assert response.status_code == 302
    assert not EvidenceEntry.objects.exists()


def test_evidence_remove_page_other_manager_gets_403(hospital: Hospital, client_as):
    entry = note(hospital.head_nurse, hospital.nurse_wang)

    response = client_as(hospital.head).post(remove_url(entry))

    assert response.status_code == 403
    assert EvidenceEntry.objects.filter(pk=entry.pk).exists()


def test_evidence_remove_page_entry_of_someone_else_gets_404(hospital: Hospital, client_as):
    entry = note(hospital.hr_partner, hospital.zhao)
    # An entry about 赵强 under 王芳's URL: the entry must belong to the person in the URL.
    url = reverse(
        "web:evidence_remove",
        kwargs={"employee_id": hospital.nurse_wang.pk, "entry_id": entry.pk},
    )

    assert client_as(hospital.hr_partner).post(url).status_code == 404
    assert EvidenceEntry.objects.filter(pk=entry.pk).exists()
