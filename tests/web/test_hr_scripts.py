"""HR's script library pages, the scripts beside a record for its interviewer and the one click
that puts a script into their notes; in a browser on a phone and a desktop."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from playwright.sync_api import Browser, Page, expect

from miantan.audit.models import AuditEvent
from miantan.interviews.enums import Topic
from miantan.people.models import Employee
from miantan.records import scripts
from miantan.records.models import Note, Record, Script
from miantan.records.notes import note_text
from miantan.records.queries import access_record
from miantan.web.views.record_scripts import scripts_for_record
from tests.factories import PASSWORD
from tests.personas import Hospital, OtherOrganisation
from tests.records.builders import TALK_AT, started_record

Signer = Callable[[Employee], Client]
LIST = "/hr/scripts/"
NEW = "/hr/scripts/new/"


@pytest.fixture
def installed(hospital: Hospital) -> Hospital:
    scripts.install_builtin_scripts(hospital.organisation)
    return hospital


def first(hospital: Hospital, **filters: Any) -> Script:
    return (
        Script.objects.filter(organisation=hospital.organisation, **filters)
        .order_by("position", "pk")
        .first()
    )


def form_of(**values: str) -> dict[str, str]:
    return {
        "scenario": "general",
        "stage": "opening",
        "emotion": "",
        "text_zh": "今天我们先聊聊夜班的安排。",
        "text_en": "",
    } | values


# --- the list -----------------------------------------------------------------------------------


def test_hr_lists_the_scripts_with_both_texts_and_can_add(
    installed: Hospital, client_as: Signer
) -> None:
    response = client_as(installed.hr_partner).get(LIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="script"') == 40  # one page
    shipped = scripts.builtin_scripts()[0]
    assert shipped.text["zh-hans"] in page and shipped.text["en"].replace("'", "&#x27;") in page
    assert 'data-testid="new-script"' in page
    assert response.context["page"].paginator.count == len(scripts.builtin_scripts())


def test_the_list_filters_by_kind_stage_emotion_and_status(
    installed: Hospital, client_as: Signer
) -> None:
    client = client_as(installed.hr_partner)
    chosen = {"scenario": "general", "stage": "empathy", "emotion": "distress"}

    response = client.get(LIST, chosen)

    rows = [row["script"] for row in response.context["rows"]]
    assert len(rows) == 4
    assert {(s.scenario, s.stage, s.emotion) for s in rows} == {("general", "empathy", "distress")}
    # A new script starts where the list stands.
    assert response.context["new_url"] == NEW + "?scenario=general&stage=empathy&emotion=distress"
    assert client.get(LIST, {"status": "inactive"}).context["page"].paginator.count == 0


def test_the_list_ignores_unknown_filter_values(installed: Hospital, client_as: Signer) -> None:
    response = client_as(installed.hr_partner).get(LIST, {"stage": "middle"})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == len(scripts.builtin_scripts())


def test_a_department_hr_partner_reads_but_changes_nothing(
    installed: Hospital, client_as: Signer
) -> None:
    client = client_as(installed.hr_cardiology)
    script = first(installed)

    listed = client.get(LIST).content.decode()
    opened = client.get(f"/hr/scripts/{script.pk}/")

    assert 'data-testid="new-script"' not in listed and "scripts-read-only" in listed
    assert opened.status_code == 200 and opened.context["form"] is None
    assert 'data-testid="script-form"' not in opened.content.decode()
    assert client.get(NEW).status_code == 403
    assert client.post(f"/hr/scripts/{script.pk}/", form_of()).status_code == 403
    script.refresh_from_db()
    assert script.text["zh-hans"] != "今天我们先聊聊夜班的安排。"


@pytest.mark.parametrize("who", ["nurse_wang", "head_nurse", "head", "executive"])
def test_the_pages_are_not_for_employees_managers_or_executives(
    installed: Hospital, client_as: Signer, who: str
) -> None:
    client = client_as(getattr(installed, who))
    assert client.get(LIST).status_code == 403
    assert client.get(f"/hr/scripts/{first(installed).pk}/").status_code == 403


def test_the_manage_menu_links_the_scripts_for_hr_and_administrators_only(
    installed: Hospital, client_as: Signer
) -> None:
    def manage(person: Employee) -> list[str]:
        group = client_as(person).get("/me/").context["nav_manage"]
        return [item.key for item in group.items] if group else []

    assert "scripts" in manage(installed.hr_partner)
    assert "scripts" in manage(installed.admin)
    assert "scripts" in manage(installed.hr_cardiology)
    assert "scripts" not in manage(installed.head_nurse)


def test_a_script_of_another_organisation_is_not_found(
    installed: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    scripts.install_builtin_scripts(other_org.organisation)
    foreign = Script.objects.filter(organisation=other_org.organisation).first()
    client = client_as(installed.hr_partner)

    assert client.get(f"/hr/scripts/{foreign.pk}/").status_code == 404
    assert client.post(f"/hr/scripts/{foreign.pk}/deactivate/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_active


def test_the_list_reads_the_same_number_of_queries_for_one_script_and_many(
    hospital: Hospital, client_as: Signer
) -> None:
    client = client_as(hospital.hr_partner)

    def count() -> int:
        client.get(LIST)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200
        return len(captured)

    scripts.create_script(
        hospital.organisation,
        actor=hospital.hr_partner.user,
        scenario="general",
        stage="opening",
        text="你好",
    )
    few = count()
    scripts.install_builtin_scripts(hospital.organisation)
    assert count() == few


# --- a new script, one script ------------------------------------------------------------------


def test_a_new_script_is_added_after_the_others(installed: Hospital, client_as: Signer) -> None:
    client = client_as(installed.hr_partner)
    assert client.get(NEW, {"stage": "empathy"}).context["form"].initial["stage"] == "empathy"

    response = client.post(
        NEW,
        form_of(
            stage="empathy",
            emotion="frustration",
            text_zh="这事确实让人上火，我们先把情况理一理。",
            text_en="That is genuinely maddening; let's sort out what happened first.",
        ),
    )

    assert response.status_code == 302 and response["Location"] == LIST
    made = Script.objects.filter(organisation=installed.organisation).latest("pk")
    assert (made.stage, made.emotion, made.builtin) == ("empathy", "frustration", "")
    assert made.text["en"].startswith("That is genuinely")
    assert AuditEvent.objects.filter(action="records.script.created", outcome="ok").exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"text_zh": "", "text_en": ""}, "text_zh"),
        ({"emotion": "distress"}, "emotion"),
        ({"scenario": "fishing"}, "scenario"),
    ],
)
def test_a_new_script_with_a_problem_is_refused_on_the_form(
    installed: Hospital, client_as: Signer, values: dict[str, str], field: str
) -> None:
    before = Script.objects.count()

    response = client_as(installed.admin).post(NEW, form_of(**values))

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert Script.objects.count() == before


def test_editing_a_script_saves_its_texts(installed: Hospital, client_as: Signer) -> None:
    script = first(installed, stage="closing")
    client = client_as(installed.hr_partner)
    shown = client.get(f"/hr/scripts/{script.pk}/").context["form"]
    assert shown.initial["text_en"] == script.text["en"]

    response = client.post(
        f"/hr/scripts/{script.pk}/",
        form_of(
            scenario=script.scenario,
            stage="closing",
            text_zh="下周三我们再碰一次。",
            text_en="Let's meet again next Wednesday.",
        ),
    )

    assert response.status_code == 302
    script.refresh_from_db()
    assert script.text == {
        "zh-hans": "下周三我们再碰一次。",
        "en": "Let's meet again next Wednesday.",
    }


def test_deactivate_and_use_again(installed: Hospital, client_as: Signer) -> None:
    script = first(installed)
    client = client_as(installed.hr_partner)

    assert client.post(f"/hr/scripts/{script.pk}/deactivate/").status_code == 302
    script.refresh_from_db()
    assert not script.is_active
    page = client.get(f"/hr/scripts/{script.pk}/").content.decode()
    assert 'data-testid="reactivate-script"' in page

    assert client.post(f"/hr/scripts/{script.pk}/reactivate/").status_code == 302
    script.refresh_from_db()
    assert script.is_active


def test_department_hr_cannot_deactivate(installed: Hospital, client_as: Signer) -> None:
    script = first(installed)
    assert client_as(installed.hr_cardiology).post(
        f"/hr/scripts/{script.pk}/deactivate/"
    ).status_code == (403)
    script.refresh_from_db()
    assert script.is_active


# --- beside the record -------------------------------------------------------------------------


@pytest.fixture
def record(installed: Hospital) -> Iterator[Record]:
    """王芳's improvement talk with 周敏, in progress (the clock stands ten minutes into it)."""
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield started_record(installed, topic=Topic.IMPROVEMENT)


def panel_for(person: Employee, record: Record, language: str = "zh-hans") -> dict[str, Any]:
    with translation.override(language):
        return scripts_for_record(person.user, access_record(person.user, record.talk_id))


def test_the_interviewer_sees_the_scripts_of_the_talk_by_stage(
    installed: Hospital, record: Record
) -> None:
    panel = panel_for(installed.head_nurse, record, "en")

    assert [stage.key for stage in panel["script_stages"]] == [
        "opening",
        "open_question",
        "empathy",
        "closing",
    ]
    assert panel["script_scenario"] == "Improvement talk"
    assert panel["scripts_can_insert"] is True
    opening = panel["script_stages"][0].scripts[0]
    assert opening.text.startswith("Thanks for making the time")
    empathy = panel["script_stages"][2].scripts
    assert {line.emotion for line in empathy} == {
        "frustration",
        "distress",
        "disengagement",
        "defensiveness",
    }
    assert (
        panel_for(installed.head_nurse, record)["script_stages"][0]
        .scripts[0]
        .text.startswith("谢谢你抽时间来")
    )


@pytest.mark.parametrize("who", ["nurse_wang", "hr_partner", "hr_cardiology", "admin"])
def test_nobody_but_the_interviewer_is_offered_scripts(
    installed: Hospital, record: Record, who: str
) -> None:
    assert panel_for(getattr(installed, who), record) == {}


def test_the_panel_renders_a_button_per_script_for_the_notes(
    installed: Hospital, record: Record
) -> None:
    request = RequestFactory().get(f"/talks/{record.talk_id}/record/")
    request.user = installed.head_nurse.user
    context = {**panel_for(installed.head_nurse, record), "talk": record.talk}

    html = render_to_string("web/records/_scripts.html", context, request=request)

    lines = sum(len(stage.scripts) for stage in context["script_stages"])
    assert html.count('data-testid="insert-script"') == lines
    assert f'hx-post="/talks/{record.talk_id}/record/scripts/' in html
    assert 'hx-target="#notes"' in html


def test_the_panel_has_no_buttons_once_the_record_is_confirmed(
    installed: Hospital, record: Record
) -> None:
    Record.objects.filter(pk=record.pk).update(state="confirmed")
    request = RequestFactory().get("/")
    request.user = installed.head_nurse.user
    context = {**panel_for(installed.head_nurse, record), "talk": record.talk}

    html = render_to_string("web/records/_scripts.html", context, request=request)

    assert context["scripts_can_insert"] is False
    assert 'data-testid="insert-script"' not in html and 'data-testid="script-line"' in html


def test_one_click_puts_the_script_into_the_interviewers_private_notes(
    installed: Hospital, record: Record, client_as: Signer
) -> None:
    script = first(installed, scenario="improvement_talk", stage="open_question")

    response = client_as(installed.head_nurse).post(
        f"/talks/{record.talk_id}/record/scripts/{script.pk}/insert/"
    )

    assert response.status_code == 302
    assert response["Location"] == f"/talks/{record.talk_id}/record/#notes"
    note = Note.objects.get(record=record)
    assert (note.tier, note.author) == ("private", installed.head_nurse)
    assert note_text(note) == script.text["zh-hans"]


def test_with_htmx_the_notes_panel_comes_back_with_the_new_note(
    installed: Hospital, record: Record, client_as: Signer
) -> None:
    script = first(installed, scenario="improvement_talk", stage="closing")

    response = client_as(installed.head_nurse).post(
        f"/talks/{record.talk_id}/record/scripts/{script.pk}/insert/",
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card record-notes" id="notes"')
    assert script.text["zh-hans"] in html
    assert 'id="scripts-status"' in html and 'hx-swap-oob="true"' in html


def test_a_deactivated_script_is_refused_with_a_message(
    installed: Hospital, record: Record, client_as: Signer
) -> None:
    script = first(installed)
    Script.objects.filter(pk=script.pk).update(is_active=False)

    response = client_as(installed.head_nurse).post(
        f"/talks/{record.talk_id}/record/scripts/{script.pk}/insert/",
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert response.context["script_ok"] is False
    assert not Note.objects.exists()


def test_the_employee_cannot_put_scripts_into_notes(
    installed: Hospital, record: Record, client_as: Signer
) -> None:
    response = client_as(installed.nurse_wang).post(
        f"/talks/{record.talk_id}/record/scripts/{first(installed).pk}/insert/"
    )
    assert response.status_code == 403
    assert not Note.objects.exists()


# --- in a browser ------------------------------------------------------------------------------

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}

# The innermost elements reaching past the screen's right edge.
WIDEST = """(width) => Array.from(document.querySelectorAll("body *"))
  .filter((e) => e.getBoundingClientRect().right + window.scrollX > width + 1)
  .filter((e) => e.getClientRects().length)
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")).slice(0, 5)"""


def assert_fits(page: Page) -> None:
    page.wait_for_load_state("load")
    width = page.viewport_size["width"] if page.viewport_size else 375
    assert page.evaluate(WIDEST, width) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.fixture(params=["phone", "desktop"])
def screen(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    size = PHONE if request.param == "phone" else DESKTOP
    extra = {"is_mobile": True, "has_touch": True} if request.param == "phone" else {}
    context = browser.new_context(viewport=size, locale="zh-CN", **extra)
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_browser_hr_filters_the_scripts_adds_one_and_deactivates_it(
    live_server: Any, installed: Hospital, screen: Page
) -> None:
    page = screen
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", installed.hr_partner.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/home/"))

    menu = page.locator(".site-nav > summary")
    if menu.is_visible():
        menu.click()
    else:
        page.click("[data-nav=manage] > summary")
    page.click("[data-nav=manage] a[data-nav=scripts]")
    expect(page.locator("[data-testid=scripts]")).to_be_visible()
    assert_fits(page)

    page.select_option("#id_scenario", "new_hire_coaching")
    page.select_option("#id_stage", "empathy")
    page.select_option("#id_emotion", "defensiveness")
    page.click("[data-testid=script-filters] button[type=submit]")
    expect(page.locator("[data-testid=script]")).to_have_count(2)
    expect(page.locator("[data-testid=script]").first).to_contain_text("新人最容易在这里出错")
    assert_fits(page)

    page.click("[data-testid=new-script]")
    expect(page.locator("#id_emotion")).to_have_value("defensiveness")
    page.fill("#id_text_zh", "我提这个，是想帮你在转正前把它补上。")
    page.fill("#id_text_en", "I'm raising this to help you close the gap before probation ends.")
    assert_fits(page)
    page.click("[data-testid=save-script]")
    expect(page.locator(".messages")).to_be_visible()
    made = Script.objects.filter(organisation=installed.organisation).latest("pk")
    assert (made.scenario, made.stage, made.emotion) == (
        "new_hire_coaching",
        "empathy",
        "defensiveness",
    )

    page.goto(f"{live_server.url}/hr/scripts/{made.pk}/")
    assert_fits(page)
    page.click("[data-testid=deactivate-script]")
    page.click("[data-testid=confirm-deactivate]")
    expect(page.locator("[data-testid=reactivate-script]")).to_be_visible()
    assert_fits(page)
    made.refresh_from_db()
    assert made.is_active is False
