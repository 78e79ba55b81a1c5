"""HR's template pages: the list, one template, the editor, export and import; in a browser on
a phone and a desktop."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from miantan.audit.models import AuditEvent
from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.people.models import Employee
from miantan.records import builtin
from miantan.records import templates as services
from miantan.records.definitions import parse
from miantan.records.models import Record, Template, TemplateVersion
from miantan.web import template_editor as editor
from tests.factories import PASSWORD
from tests.personas import Hospital, OtherOrganisation

Signer = Callable[[Employee], Client]


@pytest.fixture
def installed(hospital: Hospital) -> Hospital:
    services.install_builtin_templates(hospital.organisation)
    return hospital


def template(hospital: Hospital, key: str) -> Template:
    return Template.objects.select_related("current").get(
        organisation=hospital.organisation, key=key
    )


def record_using(version: TemplateVersion, hospital: Hospital) -> Record:
    start = timezone.now() + timedelta(days=1)
    talk = Talk.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        counterpart=hospital.head_nurse,
        requested_by=hospital.nurse_wang,
        topic=Topic.QUARTERLY_REVIEW,
        state=TalkState.SCHEDULED,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45),
    )
    return Record.objects.create(
        talk=talk, organisation=hospital.organisation, template_version=version
    )


class FormReader(HTMLParser):
    """The inputs of the editor form as a browser would post them (without the buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.data: dict[str, str] = {}
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("data-testid") == "template-editor":
            self.inside = True
        if not self.inside:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
            else:
                self.data[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self.textarea = name
            self.data[name] = ""
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select and "selected" in a:
            self.data[self.select] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.data[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def editor_form(response: Any) -> dict[str, str]:
    reader = FormReader()
    reader.feed(response.content.decode())
    data = dict(reader.data)
    # Textareas start with a newline the browser drops.
    return {k: v[1:] if v.startswith("\n") else v for k, v in data.items()}


def edit_url(t: Template) -> str:
    return reverse("web:record_template_edit", args=[t.pk])


# --- the list ------------------------------------------------------------------------------------


def test_hr_lists_every_template_with_topics_version_use_and_status(
    installed: Hospital, client_as: Signer
) -> None:
    annual = template(installed, builtin.ANNUAL)
    record_using(annual.current, installed)
    Template.objects.filter(key=builtin.CAREER).update(is_active=False)

    page = client_as(installed.hr_partner).get(reverse("web:record_templates"))

    html = page.content.decode()
    assert page.status_code == 200
    for spec in builtin.BUILTINS:
        assert f'data-key="{spec.key}"' in html
    row = html.split('data-key="annual_review"')[1].split("</tr>")[0]
    assert "年度绩效面谈" in row and "1 条记录" in row
    career = html.split('data-key="career_development"')[1].split("</tr>")[0]
    assert "已停用" in career
    monthly = html.split('data-key="monthly_check_in"')[1].split("</tr>")[0]
    assert "其他" in monthly
    assert 'data-testid="new-template-form"' in html
    assert 'data-testid="import-template-form"' in html


def test_a_department_hr_partner_reads_but_changes_nothing(
    installed: Hospital, client_as: Signer
) -> None:
    client = client_as(installed.hr_cardiology)
    annual = template(installed, builtin.ANNUAL)

    listing = client.get(reverse("web:record_templates")).content.decode()
    detail = client.get(reverse("web:record_template", args=[annual.pk])).content.decode()

    assert 'data-testid="templates-read-only"' in listing
    assert "new-template-form" not in listing
    assert 'data-testid="template-preview"' in detail
    assert edit_url(annual) not in detail
    assert 'data-testid="template-settings"' not in detail
    assert client.get(edit_url(annual)).status_code == 403
    assert client.get(reverse("web:record_template_export", args=[annual.pk])).status_code == 200


def test_the_manage_menu_links_the_templates_for_hr_and_administrators_only(
    installed: Hospital, client_as: Signer
) -> None:
    def keys(person: Employee) -> list[str]:
        group = client_as(person).get("/me/").context["nav_manage"]
        return [item.key for item in group.items] if group else []

    for person in (installed.hr_partner, installed.hr_cardiology, installed.admin):
        assert "record_templates" in keys(person)
    for person in (installed.doctor_li, installed.head, installed.executive):
        assert "record_templates" not in keys(person)


def test_the_pages_are_not_for_employees(installed: Hospital, client_as: Signer) -> None:
    client = client_as(installed.doctor_li)
    annual = template(installed, builtin.ANNUAL)

    assert client.get(reverse("web:record_templates")).status_code == 403
    assert client.get(reverse("web:record_template", args=[annual.pk])).status_code == 403
    # Writes are refused before their input is read, and the refusal is audited.
    assert client.post(reverse("web:record_template_create"), {}).status_code == 403
    assert client.post(reverse("web:record_template_import"), {}).status_code == 403
    denied = AuditEvent.objects.filter(action__startswith="records.template.", outcome="denied")
    assert set(denied.values_list("action", flat=True)) == {
        "records.template.viewed",
        "records.template.created",
        "records.template.imported",
    }


def test_a_template_of_another_organisation_is_not_found(
    installed: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    services.install_builtin_templates(other_org.organisation)
    foreign = Template.objects.filter(organisation=other_org.organisation).first()
    assert foreign is not None
    client = client_as(installed.hr_partner)

    for name in ("web:record_template", "web:record_template_edit", "web:record_template_export"):
        assert client.get(reverse(name, args=[foreign.pk])).status_code == 404


def test_an_organisation_set_up_in_the_browser_has_the_builtin_templates(
    db: None, django_user_model: Any
) -> None:
    root = Client()
    root.force_login(django_user_model.objects.create_superuser("root", password="x" * 12))

    response = root.post(
        reverse("web:setup"),
        {
            "name": "仁和医院",
            "slug": "renhe",
            "time_zone": "Asia/Shanghai",
            "weekdays": ["0", "1", "2", "3", "4"],
            "start": "09:00",
            "end": "18:00",
            "break_start": "12:00",
            "break_end": "13:00",
        },
    )

    assert response.status_code == 302
    keys = Template.objects.filter(organisation__slug="renhe").values_list("key", flat=True)
    assert sorted(keys) == sorted(spec.key for spec in builtin.BUILTINS)


# --- create, copy, settings ----------------------------------------------------------------------


def test_a_new_template_opens_its_editor(installed: Hospital, client_as: Signer) -> None:
    client = client_as(installed.hr_partner)

    response = client.post(
        reverse("web:record_template_create"),
        {"name_zh": "护理质量面谈", "name_en": "Nursing quality", "key": "", "copy_from": ""},
    )

    made = Template.objects.get(key="nursing_quality")
    assert response.status_code == 302 and response["Location"] == edit_url(made)
    editor = client.get(response["Location"]).content.decode()
    assert 'name="s0-f0-label_zh" value="要点"' in editor


def test_a_copy_keeps_the_questions(installed: Hospital, client_as: Signer) -> None:
    annual = template(installed, builtin.ANNUAL)

    client_as(installed.admin).post(
        reverse("web:record_template_create"),
        {"name_zh": "护理部年度面谈", "copy_from": str(annual.pk)},
    )

    copy = Template.objects.get(name={"zh-hans": "护理部年度面谈"})
    assert copy.current.definition == annual.current.definition


def test_a_new_template_without_a_name_is_refused_on_the_form(
    installed: Hospital, client_as: Signer
) -> None:
    count = Template.objects.count()

    response = client_as(installed.hr_partner).post(
        reverse("web:record_template_create"), {"name_zh": "", "name_en": "", "key": "Bad key"}
    )

    assert response.status_code == 400
    assert Template.objects.count() == count
    form = response.context["new_form"]
    assert form.errors["name_zh"] and form.errors["key"]


def test_settings_rename_and_choose_topics(installed: Hospital, client_as: Signer) -> None:
    annual = template(installed, builtin.ANNUAL)
    url = reverse("web:record_template", args=[annual.pk])

    response = client_as(installed.hr_partner).post(
        url,
        {
            "name_zh": "年终绩效面谈",
            "name_en": "Year-end review",
            "description_zh": "",
            "description_en": "",
            "topics": [Topic.QUARTERLY_REVIEW],
        },
    )

    assert response.status_code == 302
    annual.refresh_from_db()
    assert annual.name == {"zh-hans": "年终绩效面谈", "en": "Year-end review"}
    assert annual.topics == [Topic.QUARTERLY_REVIEW]


def test_settings_refused_as_a_whole(installed: Hospital, client_as: Signer) -> None:
    annual = template(installed, builtin.ANNUAL)

    response = client_as(installed.hr_partner).post(
        reverse("web:record_template", args=[annual.pk]),
        {"name_zh": "", "name_en": "", "topics": [Topic.CAREER]},
    )

    assert response.status_code == 400
    annual.refresh_from_db()
    assert annual.name["zh-hans"] == "年度绩效面谈" and annual.topics == []


def test_deactivate_and_use_again(installed: Hospital, client_as: Signer) -> None:
    career = template(installed, builtin.CAREER)
    client = client_as(installed.admin)

    client.post(reverse("web:record_template_deactivate", args=[career.pk]))
    career.refresh_from_db()
    assert not career.is_active
    page = client.get(reverse("web:record_template", args=[career.pk])).content.decode()
    assert 'data-testid="template-inactive"' in page

    client.post(reverse("web:record_template_reactivate", args=[career.pk]))
    career.refresh_from_db()
    assert career.is_active


# --- the editor ----------------------------------------------------------------------------------


def test_the_editor_shows_every_section_and_field_of_the_current_version(
    installed: Hospital, client_as: Signer
) -> None:
    quarterly = template(installed, builtin.QUARTERLY)

    page = client_as(installed.hr_partner).get(edit_url(quarterly))
    data = editor_form(page)

    definition = parse(quarterly.current.definition)
    assert data["section_count"] == str(len(definition.sections))
    assert data["s0-title_zh"] == "做得好的" and data["s0-repeatable"] == "1"
    assert data["s0-f1-type"] == "number" and data["s0-f1-max"] == "100"
    overall = [s.key for s in definition.sections].index("overall")
    assert data[f"s{overall}-sealed"] == "1" and data[f"s{overall}-filled_by"] == "both"
    assert data[f"s{overall}-f0-anchor5_zh"].startswith("远超期望")
    assert 'data-testid="template-preview"' in page.content.decode()


def test_the_editor_shows_exactly_the_inputs_of_the_definition(
    installed: Hospital, client_as: Signer
) -> None:
    client = client_as(installed.hr_partner)
    for spec in builtin.BUILTINS:
        current = template(installed, spec.key)
        shown = editor_form(client.get(edit_url(current)))

        expected = editor.form_data(editor.draft_from_definition(parse(current.current.definition)))

        assert shown.pop("base") == services.fingerprint(current)
        shown.pop("csrfmiddlewaretoken")
        assert shown == expected, spec.key


def test_the_same_questions_posted_back_change_nothing(
    installed: Hospital, client_as: Signer
) -> None:
    """Every setting survives the trip through the form: built-ins as they are."""
    client = client_as(installed.hr_partner)
    for spec in builtin.BUILTINS:
        current = template(installed, spec.key)
        before = current.current.definition

        shown = editor_form(client.get(edit_url(current)))
        response = client.post(edit_url(current), {**shown, "op": "save"})

        assert response.status_code == 302, spec.key
        current.current.refresh_from_db()
        assert current.current.definition == before, spec.key
    assert not AuditEvent.objects.filter(action="records.template.edited").exists()


def test_adding_moving_and_removing_only_change_the_page(
    installed: Hospital, client_as: Signer
) -> None:
    monthly = template(installed, builtin.MONTHLY)
    before = monthly.current.definition
    client = client_as(installed.hr_partner)
    data = editor_form(client.get(edit_url(monthly)))
    count = int(data["section_count"])

    response = client.post(edit_url(monthly), {**data, "op": "add_section"})
    added = editor_form(response)
    assert added["section_count"] == str(count + 1)
    # The new section is still empty: no problems are named until a preview or a save.
    assert 'data-testid="editor-problems"' not in response.content.decode()
    previewed = client.post(edit_url(monthly), {**added, "op": "preview"})
    assert 'data-testid="editor-problems"' in previewed.content.decode()
    assert added[f"s{count}-key"] == f"section_{count + 1}"
    assert added[f"s{count}-field_count"] == "1"

    moved = editor_form(client.post(edit_url(monthly), {**data, "op": "down_section:0"}))
    assert (moved["s0-key"], moved["s1-key"]) == (data["s1-key"], data["s0-key"])

    field_moved = editor_form(client.post(edit_url(monthly), {**data, "op": "up_field:0:1"}))
    assert (field_moved["s0-f0-key"], field_moved["s0-f1-key"]) == ("completion", "project")

    removed = editor_form(client.post(edit_url(monthly), {**data, "op": "remove_section:1"}))
    assert removed["section_count"] == str(count - 1) and removed["s1-key"] == data["s2-key"]

    more = editor_form(client.post(edit_url(monthly), {**data, "op": "add_field:1"}))
    assert more["s1-field_count"] == "3" and more["s1-f2-key"] == "field_3"

    monthly.current.refresh_from_db()
    assert monthly.current.definition == before


def _with_rating_section(data: dict[str, str]) -> dict[str, str]:
    n = int(data["section_count"])
    return {
        **data,
        "section_count": str(n + 1),
        f"s{n}-key": "teamwork",
        f"s{n}-title_zh": "团队协作",
        f"s{n}-title_en": "Teamwork",
        f"s{n}-filled_by": "manager",
        f"s{n}-field_count": "1",
        f"s{n}-f0-key": "score",
        f"s{n}-f0-type": "rating",
        f"s{n}-f0-label_zh": "协作评分",
        f"s{n}-f0-required": "1",
        f"s{n}-f0-min": "1",
        f"s{n}-f0-max": "4",
        f"s{n}-f0-anchor1_zh": "需要提高",
        f"s{n}-f0-anchor4_zh": "团队榜样",
        f"s{n}-f0-anchor4_en": "A model for the team",
        # A setting of another type is left out.
        f"s{n}-f0-choices": "a | 甲\nb | 乙",
        "op": "save",
    }


def test_saving_an_unused_template_changes_the_current_version(
    installed: Hospital, client_as: Signer
) -> None:
    monthly = template(installed, builtin.MONTHLY)
    client = client_as(installed.hr_partner)
    data = _with_rating_section(editor_form(client.get(edit_url(monthly))))

    response = client.post(edit_url(monthly), data)

    assert response.status_code == 302
    monthly.refresh_from_db()
    assert monthly.current.number == 1
    teamwork = parse(monthly.current.definition).section("teamwork")
    assert teamwork is not None and teamwork.filled_by == "manager"
    score = teamwork.field_named("score")
    assert score is not None and score.required and score.choices == ()
    assert [text for _step, text in score.rating_steps()] == ["需要提高", "", "", "团队榜样"]


def test_saving_a_template_in_use_makes_version_two(installed: Hospital, client_as: Signer) -> None:
    monthly = template(installed, builtin.MONTHLY)
    first = monthly.current
    kept = record_using(first, installed)
    client = client_as(installed.hr_partner)

    response = client.post(
        edit_url(monthly), _with_rating_section(editor_form(client.get(edit_url(monthly))))
    )

    monthly.refresh_from_db()
    kept.refresh_from_db()
    assert monthly.current.number == 2 and kept.template_version_id == first.pk
    page = client.get(response["Location"]).content.decode()
    assert "已保存为第 2 版" in page
    assert 'data-version="2"' in page and 'data-version="1"' in page


def test_problems_are_shown_where_they_are_and_nothing_is_saved(
    installed: Hospital, client_as: Signer
) -> None:
    monthly = template(installed, builtin.MONTHLY)
    before = monthly.current.definition
    client = client_as(installed.hr_partner)
    data = editor_form(client.get(edit_url(monthly)))
    data.update({"s1-key": "Bad Key", "s0-f1-min": "abc", "s2-title_zh": "", "op": "save"})
    data.pop("s2-title_en", None)

    response = client.post(edit_url(monthly), data)

    assert response.status_code == 400
    sections = response.context["sections"]
    assert sections[0].fields[1].errors
    html = response.content.decode()
    assert 'data-testid="editor-problems"' in html and 'href="#s0-f1"' in html
    # The page keeps what was typed.
    assert editor_form(response)["s1-key"] == "Bad Key"

    data["s0-f1-min"] = "0"
    response = client.post(edit_url(monthly), data)
    assert response.status_code == 400
    assert response.context["sections"][1].errors and response.context["sections"][2].errors
    monthly.current.refresh_from_db()
    assert monthly.current.definition == before


def test_a_save_over_somebody_elses_change_is_refused_and_the_page_kept(
    installed: Hospital, client_as: Signer
) -> None:
    monthly = template(installed, builtin.MONTHLY)
    sun, admin = client_as(installed.hr_partner), client_as(installed.admin)
    hers = _with_rating_section(editor_form(sun.get(edit_url(monthly))))
    theirs = editor_form(admin.get(edit_url(monthly)))
    theirs.update({"s0-title_zh": "本月亮点", "op": "save"})
    assert admin.post(edit_url(monthly), theirs).status_code == 302

    response = sun.post(edit_url(monthly), hers)

    assert response.status_code == 409
    assert 'data-testid="editor-conflict"' in response.content.decode()
    assert editor_form(response)["s5-key"] == "teamwork"
    monthly.current.refresh_from_db()
    definition = parse(monthly.current.definition)
    assert definition.section("teamwork") is None
    assert definition.sections[0].title["zh-hans"] == "本月亮点"


# --- export and import ---------------------------------------------------------------------------


def test_export_downloads_the_document(installed: Hospital, client_as: Signer) -> None:
    promotion = template(installed, builtin.PROMOTION)

    response = client_as(installed.hr_partner).get(
        reverse("web:record_template_export", args=[promotion.pk])
    )

    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == (
        'attachment; filename="template-promotion_title-v1.json"'
    )
    assert json.loads(response.content) == services.export_template(promotion)


def _upload(document: Any, name: str = "template.json") -> io.BytesIO:
    content = io.BytesIO(json.dumps(document, ensure_ascii=False).encode())
    content.name = name
    return content


def test_import_uploads_a_template(installed: Hospital, client_as: Signer) -> None:
    document = services.export_template(template(installed, builtin.CAREER))
    document["key"] = "career_nursing"
    document["name"] = {"zh-hans": "护士职业发展面谈"}

    response = client_as(installed.hr_partner).post(
        reverse("web:record_template_import"), {"file": _upload(document)}
    )

    made = Template.objects.get(key="career_nursing")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:record_template", args=[made.pk])
    assert made.current.definition == document["definition"]


def test_import_with_problems_lists_them_by_place_and_imports_nothing(
    installed: Hospital, client_as: Signer
) -> None:
    document = services.export_template(template(installed, builtin.CAREER))
    document["definition"]["sections"][0]["fields"][0]["type"] = "essay"
    count = Template.objects.count()

    response = client_as(installed.hr_partner).post(
        reverse("web:record_template_import"), {"file": _upload(document)}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "definition.sections[0].fields[0].type" in html
    assert "key" in html  # the key career_development exists already
    assert Template.objects.count() == count


def test_import_can_replace_the_template_with_the_same_key(
    installed: Hospital, client_as: Signer
) -> None:
    career = template(installed, builtin.CAREER)
    record_using(career.current, installed)
    document = services.export_template(career)
    document["definition"]["sections"][0]["title"] = {"zh-hans": "我的职业目标"}

    response = client_as(installed.admin).post(
        reverse("web:record_template_import"), {"file": _upload(document), "replace": "on"}
    )

    assert response.status_code == 302
    career.refresh_from_db()
    assert career.current.number == 2
    assert parse(career.current.definition).sections[0].title == {"zh-hans": "我的职业目标"}


def test_import_of_something_else_than_json_says_so(installed: Hospital, client_as: Signer) -> None:
    content = io.BytesIO(b"<html>not a template</html>")
    content.name = "template.json"

    response = client_as(installed.hr_partner).post(
        reverse("web:record_template_import"), {"file": content}
    )

    assert response.status_code == 400
    assert "JSON" in response.content.decode()


# --- in a browser --------------------------------------------------------------------------------

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}

# The innermost elements reaching past the screen's right edge.
WIDEST = """(width) => Array.from(document.querySelectorAll("body *"))
  .filter((e) => e.getBoundingClientRect().right + window.scrollX > width + 1)
  .filter((e) => e.getClientRects().length)
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")).slice(0, 5)"""


def assert_fits(page: Page) -> None:
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
def test_browser_hr_adds_a_rated_section_and_saves_a_new_version(
    live_server: Any, installed: Hospital, screen: Page
) -> None:
    monthly = template(installed, builtin.MONTHLY)
    record_using(monthly.current, installed)
    page = screen
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", installed.hr_partner.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/home/"))

    menu = page.locator(".site-nav > summary")
    if menu.is_visible():
        # On a phone the menu lists the "Manage" pages as a section, always open.
        menu.click()
    else:
        page.click("[data-nav=manage] > summary")
    page.click("[data-nav=manage] a[data-nav=record_templates]")
    expect(page.locator("[data-testid=record-templates]")).to_be_visible()
    assert_fits(page)
    page.click("tr[data-key=monthly_check_in] a")
    expect(page.locator("[data-testid=current-version]")).to_have_text("1")
    assert_fits(page)

    page.click("[data-testid=edit-questions]")
    count = int(page.locator("input[name=section_count]").input_value())
    page.click("[data-testid=add-section]")
    new = f"#s{count}"
    expect(page.locator(new)).to_be_visible()
    page.fill(f"{new} input[name$=-title_zh]", "团队协作")
    page.fill(f"{new} input[name$=-title_en]", "Teamwork")
    page.select_option(f"{new} select[name$=-filled_by]", "manager")
    field = f"{new} #s{count}-f0"
    page.fill(f"{field} input[name$=-label_zh]", "协作评分")
    page.select_option(f"{field} select.type-select", "rating")
    # The rating's anchors appear once the type is a rating.
    expect(page.locator(f"{field} .for-rating")).to_be_visible()
    expect(page.locator(f"{field} .for-choice")).to_be_hidden()
    page.fill(f"{field} input[name$=-anchor5_zh]", "团队榜样")
    page.check(f"{field} input[name$=-required]")
    assert_fits(page)

    page.click("[data-testid=preview]")
    preview = page.locator("[data-testid=template-preview] [data-section=section_6]")
    expect(preview).to_contain_text("团队协作")
    expect(preview).to_contain_text("团队榜样")
    assert_fits(page)

    page.click("[data-testid=save-template]")
    expect(page.locator("[data-testid=current-version]")).to_have_text("2")
    expect(page.locator(".messages")).to_contain_text("第 2 版")
    assert_fits(page)
    monthly.refresh_from_db()
    section = parse(monthly.current.definition).sections[-1]
    assert section.title == {"zh-hans": "团队协作", "en": "Teamwork"}
    assert section.fields[0].type == "rating" and section.fields[0].required
