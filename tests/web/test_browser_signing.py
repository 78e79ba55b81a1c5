"""Signing a talk's record in a real browser (PRODUCT.md D1, D2, D5): nurse 王芳 draws her
signature with a finger on her phone and signs with her password; she signs once with a
disagreement, head nurse 周敏 signs on her desktop with the mouse, HR 陈静 (in English) has
the record amended, both confirm and sign the new version, and the archived record offers
its PDF and JSON.

The record was filled in and confirmed by both sides through the services; the clock runs
from conftest.BROWSER_START.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import pgettext
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from miantan.archive.models import Appeal, AppealOutcome, AppealState, Signature
from miantan.records.enums import RecordState, Side
from tests.archive.test_signing import confirmed_record
from tests.factories import PASSWORD
from tests.personas import Hospital
from tests.web.test_archive_pages import in_chinese
from tests.web.test_browser_directory import assert_fits_the_screen, sign_in
from tests.web.test_browser_record import record_url, save

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}

# A stroke is a list of points, as fractions of the canvas's width and height.
Stroke = Sequence[tuple[float, float]]
# 王, the way 王芳 writes it: three bars and the stem.
WANG: list[Stroke] = [
    [(0.25, 0.2), (0.75, 0.2)],
    [(0.3, 0.5), (0.7, 0.5)],
    [(0.2, 0.8), (0.8, 0.8)],
    [(0.5, 0.2), (0.5, 0.8)],
]
# 周敏's initials as she scribbles them: a Z and an M.
ZM: list[Stroke] = [
    [(0.1, 0.2), (0.4, 0.2), (0.1, 0.8), (0.4, 0.8)],
    [(0.55, 0.8), (0.6, 0.2), (0.75, 0.6), (0.85, 0.2), (0.9, 0.8)],
]
# Points sent between two corners of a stroke: a finger or a mouse moves in many small steps.
STEPS = 12
# The canvas in canvas pixels (the template's width and height attributes).
CANVAS_SIZE = (800, 320)
# Pixels with ink on a canvas or in a PNG; a drawn name inks a few thousand of them.
INKED = """(selector) => {
  const canvas = document.querySelector(selector);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return inked;
}"""
CANVAS = "[data-testid=signature-canvas]"
# Notes the kind of pointer (mouse, touch, pen) that starts each stroke the canvas receives.
STROKE_KINDS = """(canvas) => {
  if (!canvas.strokeKinds) {
    canvas.addEventListener('pointerdown', (event) => canvas.strokeKinds.push(event.pointerType));
  }
  canvas.strokeKinds = [];
}"""
ENOUGH_INK = 2000


@pytest.fixture
def pdf_certificate(settings, tmp_path: Path) -> Path:
    """The demo signing certificate of the PDFs, made in a folder of the test's own."""
    settings.MIANTAN_PDF_CERTIFICATE_DIR = str(tmp_path / "pdf-signing")
    return tmp_path


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def hr_desktop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield context.new_page()
    context.close()


def corners_on_screen(canvas: Locator, stroke: Stroke) -> list[tuple[float, float]]:
    """The stroke's points in the page's CSS pixels, with the steps between them."""
    box = canvas.bounding_box()
    assert box is not None
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
    path = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        path += [
            (x0 + (x1 - x0) * i / STEPS, y0 + (y1 - y0) * i / STEPS) for i in range(1, STEPS + 1)
        ]
    return path


def draw_with_a_finger(page: Page, strokes: list[Stroke]) -> None:
    """Touches the canvas as a finger does: Chromium's own touch input (through the DevTools
    protocol), which the page receives as touch pointer events, scrolling and all."""
    canvas = page.locator(CANVAS)
    canvas.scroll_into_view_if_needed()
    canvas.evaluate(STROKE_KINDS)
    session = page.context.new_cdp_session(page)
    for stroke in strokes:
        path = corners_on_screen(canvas, stroke)
        for kind, (x, y) in zip(
            ["touchStart"] + ["touchMove"] * (len(path) - 1), path, strict=True
        ):
            session.send(
                "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]}
            )
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()
    assert canvas.evaluate("(canvas) => canvas.strokeKinds") == ["touch"] * len(strokes)


def draw_with_the_mouse(page: Page, strokes: list[Stroke]) -> None:
    canvas = page.locator(CANVAS)
    canvas.scroll_into_view_if_needed()
    for stroke in strokes:
        path = corners_on_screen(canvas, stroke)
        page.mouse.move(*path[0])
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def sign(page: Page, *, disagreement: str = "") -> None:
    """Re-enter the password (and say what one disagrees with) and sign."""
    form = page.locator("[data-testid=sign-form]")
    if disagreement:
        form.locator("[data-testid=dissent]").check()
        form.locator("[data-testid=dissent-reason]").fill(disagreement)
    form.locator("[data-testid=sign-password]").fill(PASSWORD)
    with page.expect_navigation():
        form.locator("[data-testid=sign]").click()


def confirm(page: Page) -> None:
    with page.expect_navigation():
        page.click("[data-testid=confirm]")


def record_state_in_chinese(label: str) -> str:
    with translation.override("zh-hans"):
        return pgettext("record state", label)


def assert_drawn_png(signature: Signature) -> None:
    """The stored drawing is a PNG of the canvas with the strokes in it, not an empty pad."""
    png = base64.b64decode(signature.handwriting)
    assert png.startswith(b"\x89PNG") and signature.handwriting_sha256
    image = Image.open(io.BytesIO(png))
    assert image.size == CANVAS_SIZE
    inked = image.width * image.height - image.getchannel("A").histogram()[0]
    assert inked > ENOUGH_INK, f"the stored drawing has {inked} inked pixels"


def assert_signature_shown(page: Page, side: str) -> None:
    image = page.locator(f"[data-testid=handwriting-{side}]")
    expect(image).to_be_visible()
    assert image.evaluate("(img) => img.complete && img.naturalWidth") == CANVAS_SIZE[0]


def test_a_signature_drawn_with_a_finger_on_a_phone_is_kept(
    live_server, hospital: Hospital, phone: Page
):
    base = live_server.url
    record = confirmed_record(hospital)
    sign_in(phone, base, "nurse.wang")
    phone.goto(f"{record_url(base, record.talk)}#signing")
    expect(phone.locator("[data-testid=signing]")).to_have_attribute("data-state", "confirmed")
    # The pad shows once the script runs; the form would still sign without it.
    expect(phone.locator("[data-signature-pad]")).to_be_visible()
    assert_fits_the_screen(phone, PHONE["width"])

    # A slip of the finger, wiped away, then her name.
    draw_with_a_finger(phone, [[(0.1, 0.9), (0.9, 0.1)]])
    assert phone.evaluate(INKED, CANVAS) > 0
    phone.click("[data-testid=signature-clear]")
    assert phone.evaluate(INKED, CANVAS) == 0
    draw_with_a_finger(phone, WANG)
    assert phone.evaluate(INKED, CANVAS) > ENOUGH_INK
    sign(phone)

    expect(phone).to_have_url(f"{record_url(base, record.talk)}#signing")
    expect(phone.locator(".messages")).to_contain_text(in_chinese("You signed the record."))
    signature = Signature.objects.get(record=record, side=Side.EMPLOYEE)
    assert_drawn_png(signature)
    assert not signature.dissent
    assert_signature_shown(phone, Side.EMPLOYEE)
    expect(phone.locator("[data-testid=unsigned-manager]")).to_be_visible()
    expect(phone.locator("[data-testid=signing-status]")).to_have_text(
        in_chinese("The record waits for the signature of %(name)s.") % {"name": "周敏"}
    )
    expect(phone.locator("[data-testid=sign-form]")).to_have_count(0)
    assert_fits_the_screen(phone, PHONE["width"])
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED


def test_a_disagreement_is_amended_and_the_new_version_signed_and_archived(
    live_server,
    hospital: Hospital,
    phone: Page,
    desktop: Page,
    hr_desktop: Page,
    pdf_certificate: Path,
):
    base = live_server.url
    record = confirmed_record(hospital)
    url = record_url(base, record.talk)
    first_version = record.version
    reason = "给药延误是药房配送晚了，不是我的责任。"

    # 王芳 signs on her phone, saying what she disagrees with: an appeal opens.
    employee = phone
    sign_in(employee, base, "nurse.wang")
    employee.goto(url)
    sign(employee, disagreement=reason)
    expect(employee.locator(".messages")).to_contain_text(
        in_chinese("You signed the record and said what you disagree with: HR looks at it.")
    )
    expect(employee.locator("[data-testid=dissent-employee]")).to_be_visible()
    expect(employee.locator("[data-testid=dissent-reason-employee]")).to_have_text(reason)
    assert_fits_the_screen(employee, PHONE["width"])
    appeal = Appeal.objects.get(record=record)
    assert appeal.state == AppealState.OPEN and appeal.reason == reason

    # 周敏 signs on her desktop with the mouse; the open appeal holds the record back.
    manager = desktop
    sign_in(manager, base, "headnurse.zhou")
    manager.goto(url)
    expect(manager.locator("[data-testid=dissent-reason-employee]")).to_have_text(reason)
    expect(manager.locator("[data-testid=dissent]")).to_have_count(0)  # hers only
    draw_with_the_mouse(manager, ZM)
    sign(manager)
    assert_signature_shown(manager, Side.MANAGER)
    assert_drawn_png(Signature.objects.get(record=record, side=Side.MANAGER))
    expect(manager.locator("[data-testid=signing-status]")).to_have_text(
        in_chinese(
            "Both sides signed, with an appeal: HR resolves it, and the record is archived or "
            "goes back to both sides to amend."
        )
    )
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED

    # HR 陈静 reads in English, finds the appeal in the navigation and has the record amended.
    hr = hr_desktop
    sign_in(hr, base, "hr.chen")
    hr.click("form.lang button[value=en]")
    expect(hr.locator("html")).to_have_attribute("lang", "en")
    hr.click("details[data-nav=manage] > summary")
    hr.click("nav.mainnav a[data-nav=appeals]")
    expect(hr).to_have_url(f"{base}/appeals/")
    expect(hr.locator("main h1")).to_have_text("Appeals")
    row = hr.locator("[data-testid=appeal-row]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("王芳 (H0013)")
    row.locator("[data-testid=open-appeal]").click()
    expect(hr).to_have_url(f"{base}/appeals/{appeal.pk}/")
    expect(hr.locator("[data-testid=appeal-reason]")).to_contain_text(reason)
    hr.check("[data-testid=outcome-amended]")
    hr.fill("[data-testid=resolution-text]", "The delay was the pharmacy's: 周敏 corrects it.")
    with hr.expect_navigation():
        hr.click("[data-testid=resolve]")
    expect(hr.locator(".messages")).to_contain_text(
        "The appeal is resolved: the record goes back to both sides to amend, confirm and sign "
        "again."
    )
    expect(hr.locator("[data-testid=appeal]")).to_have_attribute("data-state", "resolved")
    expect(hr.locator("[data-testid=outcome]")).to_have_text("record to be amended")
    hr.click("[data-testid=back-to-appeals]")
    expect(hr.locator("[data-testid=no-appeals]")).to_be_visible()
    appeal.refresh_from_db()
    assert appeal.outcome == AppealOutcome.AMENDED and appeal.resolved_by == hospital.hr_cardiology
    record.refresh_from_db()
    assert record.state == RecordState.IN_PROGRESS and record.version == first_version + 1

    # The record is back with both: 周敏 corrects her assessment and confirms, then 王芳.
    manager.goto(url)
    page_record = manager.locator("[data-testid=record]")
    expect(page_record).to_have_attribute("data-state", "in_progress")
    expect(page_record).to_have_attribute("data-version", str(first_version + 1))
    expect(manager.locator("[data-testid=sign-form]")).to_have_count(0)
    expect(manager.locator("[data-testid=confirm]")).to_be_visible()
    manager.locator("[data-testid=section-manager] [data-testid=field-assessment]").fill(
        "本季度护理质量稳定，交接规范。给药延误系药房配送所致。"
    )
    save(manager, "manager")
    confirm(manager)
    employee.goto(url)
    expect(employee.locator("[data-testid=values-manager]")).to_contain_text("药房配送所致")
    confirm(employee)
    expect(employee.locator("[data-testid=record]")).to_have_attribute("data-state", "confirmed")
    expect(employee.locator("[data-testid=unsigned-employee]")).to_be_visible()
    expect(employee.locator("[data-testid=earlier-signatures] li")).to_have_count(2)

    # Both sign the new version: the record is archived, with its exports.
    draw_with_a_finger(employee, WANG)
    sign(employee)
    manager.goto(url)
    draw_with_the_mouse(manager, ZM)
    sign(manager)
    expect(manager.locator(".messages")).to_contain_text(
        in_chinese("Both sides signed: the record is archived.")
    )
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    assert Signature.objects.filter(record=record, record_version=record.version).count() == 2
    for page in (manager, employee):
        page.goto(url)
        expect(page.locator("[data-testid=record]")).to_have_attribute("data-state", "archived")
        expect(page.locator("[data-testid=record-state]")).to_have_text(
            record_state_in_chinese("signed and archived")
        )
        expect(page.locator("[data-testid=next-step]")).to_contain_text(
            in_chinese("Both sides signed: the record is archived and can no longer be changed.")
        )
        expect(page.locator("[data-testid=archived]")).to_be_visible()
        assert_signature_shown(page, Side.EMPLOYEE)
        assert_signature_shown(page, Side.MANAGER)
    assert_fits_the_screen(employee, PHONE["width"])
    talk_id = record.talk_id
    pdf_link = employee.locator("[data-testid=download-pdf]")
    expect(pdf_link).to_have_attribute("href", f"/talks/{talk_id}/record/export.pdf")
    pdf = employee.request.get(f"{base}{pdf_link.get_attribute('href')}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    json_href = employee.locator("[data-testid=download-json]").get_attribute("href")
    exported = employee.request.get(f"{base}{json_href}")
    assert exported.status == 200 and exported.headers["content-type"].startswith(
        "application/json"
    )
    assert len(exported.json()["signatures"]) == 2
