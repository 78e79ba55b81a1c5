"""Content-Security-Policy: every page sends it, no template needs what it forbids, and the
main pages, charts and API docs run in a real browser without a single violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.factories import PASSWORD
from tests.metrics.kpi_builders import assign, kpi, months, values
from tests.personas import Hospital

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "miantan"
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: sources for name, *sources in parts}


def test_csp_is_sent_with_the_sign_in_page(db):
    policy = directives(Client().get("/accounts/login/"))

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_csp_is_sent_with_pages_errors_and_the_api(hospital, client_as):
    client = client_as(hospital.hr_partner)

    for path in ("/me/", "/no-such-page/", "/api/v1/me", "/api/v1/docs"):
        assert "script-src 'self'" in client.get(path)["Content-Security-Policy"], path


def test_csp_allows_no_inline_script_and_no_eval(db):
    policy = directives(Client().get("/accounts/login/"))

    for name in ("default-src", "script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[name]
        assert "'unsafe-eval'" not in policy[name]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
FORBIDDEN = {
    "inline <script>": INLINE_SCRIPT,
    "event-handler attribute": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
    "<style> element": re.compile(r"<style[\s>]", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "hx-on (eval)": re.compile(r"\bhx-on", re.I),
}


def test_templates_use_nothing_the_csp_forbids():
    found = []
    for template in TEMPLATES.glob("**/templates/**/*.html"):
        text = template.read_text(encoding="utf-8")
        for what, pattern in FORBIDDEN.items():
            if pattern.search(text):
                found.append(f"{template.relative_to(TEMPLATES)}: {what}")

    assert found == []


# --- in a real browser ----------------------------------------------------------------------


@pytest.fixture
def watched(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A desktop page and the list of CSP violations it reports, from the console and from
    securitypolicyviolation events."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    violations: list[str] = []

    def note(message) -> None:
        text = message.text
        if "Content Security Policy" in text or "CSP violation" in text:
            violations.append(f"{page.url}: {text}")

    page.on("console", note)
    yield page, violations
    context.close()


@pytest.fixture
def charts(hospital: Hospital) -> Hospital:
    """KPI values for the cardiology team, so the profile and heat map draw their charts."""
    org = hospital.organisation
    periods = months(org, 6, last=timezone.localdate())
    satisfaction = kpi(org, "satisfaction", "患者满意度", name_en="Patient satisfaction")
    visits = kpi(org, "visits", "门诊量", name_en="Outpatient visits")
    for indicator, target in ((satisfaction, 85), (visits, 400)):
        assign(indicator, target, department=hospital.cardiology)
    for person, base in ((hospital.doctor_li, 70), (hospital.head, 90), (hospital.nurse_wang, 80)):
        values(person, satisfaction, periods, [base + step for step in range(6)])
        values(person, visits, periods, [base * 5 + step for step in range(6)])
    return hospital


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.mark.browser
def test_browser_main_pages_show_no_csp_violations(live_server, charts, watched):
    page, violations = watched
    hospital = charts
    with time_machine.travel(NOW, tick=True):
        sign_in(page, live_server.url, "hr.sun")
        paths = [
            reverse("web:home"),
            reverse("web:me"),
            reverse("web:talks"),
            reverse("web:talk_new"),
            reverse("web:people"),
            reverse("web:departments"),
            reverse("web:person", kwargs={"employee_id": hospital.doctor_li.pk}),
            reverse("web:notifications"),
            "/api/v1/docs",
            "/no-such-page/",
        ]
        for path in paths:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")

        page.goto(
            f"{live_server.url}"
            + reverse("web:profile", kwargs={"employee_id": hospital.doctor_li.pk})
        )
        expect(page.locator("#radar-chart")).to_have_attribute("data-rendered", "true")
        page.locator("#radar-chart").hover()
        page.goto(
            f"{live_server.url}"
            + reverse("web:department_profile", kwargs={"department_id": hospital.cardiology.pk})
        )
        expect(page.locator("#heatmap-chart")).to_have_attribute("data-rendered", "true")
        page.locator("#heatmap-chart").hover()
        page.goto(f"{live_server.url}/api/v1/docs")
        expect(page.locator(".swagger-ui .info")).to_be_visible()

    assert violations == []
