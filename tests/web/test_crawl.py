"""No page leads nowhere: every role signs in, starts at its start page and follows every link
on the same site that it is shown (GET only, breadth first, a few pages per kind of URL), and
no link answers 4xx or 5xx to the person who sees it. Calendar files and CSV downloads are
requested but not read further; signing out is a form, never a link.

The data is like the demo's: the hospital's people with talks in every state, a launched
review cycle, an accepted and a rejected organisation import, a failed KPI import, an
evidence entry and the messages in everyone's inbox."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
import time_machine
from django.test import Client
from django.urls import Resolver404, resolve

from miantan.interviews.services import decline_talk
from miantan.metrics.evidence import record_evidence
from miantan.metrics.packs import load_pack
from miantan.notifications.services import deliver_due
from miantan.people.enums import ImportStatus
from miantan.people.models import Employee
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours
from tests.web.test_homes import (
    NOW,
    TODAY,
    asked,
    booked,
    failed_metrics_import,
    held,
    launched_cycle,
    rejected_org_import,
    waiting_since,
)

ROLES = (
    "employee",
    "manager",
    "department head",
    "HR",
    "executive",
    "admin",
    "department HR",
    "nurse",
)
# Requested for their status, never parsed for more links.
NOT_READ = (".ics", ".csv")
PAGES_PER_KIND = 4
MAX_PAGES = 200
MAX_DEPTH = 5


@pytest.fixture
def demo(hospital: Hospital) -> Iterator[Hospital]:
    hospital_hours(hospital.organisation)
    with time_machine.travel(NOW, tick=False):
        load_pack(hospital.organisation, "hospital", actor=hospital.hr_partner.user)
        held(hospital.doctor_li, hospital.head, at(date(2026, 11, 24), 9))
        held(hospital.nurse_wang, hospital.head_nurse, at(date(2026, 8, 4), 9))
        booked(hospital.doctor_li, hospital.head, at(TODAY + timedelta(days=1), 9))
        asked(hospital.nurse_wang, hospital.head_nurse, at(TODAY + timedelta(days=2), 15))
        waiting_since(hospital.head_nurse, hospital.head, NOW - timedelta(hours=72))
        refused = asked(hospital.zhao, hospital.hr_partner, at(TODAY + timedelta(days=3), 9))
        decline_talk(refused, actor=hospital.hr_partner.user, reason="请先和科室主任谈")
        launched_cycle(hospital)
        rejected_org_import(hospital)
        rejected_org_import(hospital, "组织架构.xlsx", status=ImportStatus.DONE)
        failed_metrics_import(hospital)
        record_evidence(
            hospital.head.user,
            hospital.doctor_li,
            kind="positive",
            happened_on=TODAY - timedelta(days=3),
            text="夜班抢救处置及时",
        )
        deliver_due()
        yield hospital


# --- reading a page's links --------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links_on(page: str, here: str) -> list[str]:
    """Same-site links of the page, as paths with their query, without fragments."""
    parser = _Links()
    parser.feed(page)
    found = []
    for href in parser.hrefs:
        href = urldefrag(href.strip())[0]
        if not href or href.startswith(("mailto:", "tel:", "javascript:")):
            continue
        parts = urlsplit(href)
        if (parts.scheme or parts.netloc) and parts.netloc not in ("testserver", ""):
            continue
        path = parts.path or urlsplit(here).path
        if not path.startswith("/"):
            path = urlsplit(here).path.rsplit("/", 1)[0] + "/" + path
        found.append(path + (f"?{parts.query}" if parts.query else ""))
    return found


def kind_of(url: str) -> str:
    """Pages of one kind: the URL's name and the names of its query parameters."""
    parts = urlsplit(url)
    try:
        name = resolve(parts.path).view_name
    except Resolver404:
        name = parts.path
    keys = sorted({pair.split("=", 1)[0] for pair in parts.query.split("&") if pair})
    return f"{name}?{'&'.join(keys)}"


# --- the crawl ---------------------------------------------------------------------------------


@dataclass
class Crawl:
    visited: dict[str, int] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {kind_of(url) for url in self.visited}


def crawl(client: Client, start: str = "/") -> Crawl:
    """Breadth first from `start`, at most PAGES_PER_KIND pages of each kind."""
    result = Crawl()
    queue: deque[tuple[str, str, int]] = deque([(start, "(sign-in)", 0)])
    per_kind: dict[str, int] = {}
    while queue and len(result.visited) < MAX_PAGES:
        url, referrer, depth = queue.popleft()
        if url in result.visited:
            continue
        kind = kind_of(url)
        if per_kind.get(kind, 0) >= PAGES_PER_KIND:
            continue
        per_kind[kind] = per_kind.get(kind, 0) + 1
        try:
            response = client.get(url)
        except Exception as error:  # a server error: name it with the page that linked here
            result.visited[url] = 500
            result.broken.append(f"{url} (linked from {referrer}): {type(error).__name__}: {error}")
            continue
        status = response.status_code
        result.visited[url] = status
        if status >= 400:
            result.broken.append(f"{url} (linked from {referrer}): {status}")
            continue
        if status in (301, 302, 303, 307, 308):
            queue.appendleft((response["Location"], url, depth))
            continue
        content_type = response.get("Content-Type", "")
        if depth >= MAX_DEPTH or url.split("?")[0].endswith(NOT_READ):
            continue
        if not content_type.startswith("text/html"):
            continue
        for link in links_on(response.content.decode(), url):
            if link not in result.visited:
                queue.append((link, url, depth + 1))
    return result


def signed_in(client_as: Callable[[Employee], Client], person: Employee) -> Client:
    return client_as(person)


@pytest.mark.parametrize("role", ROLES)
def test_crawl_finds_no_link_that_leads_nowhere(
    demo: Hospital, client_as: Callable[[Employee], Client], role: str
):
    result = crawl(signed_in(client_as, demo.by_role(role)))

    assert not result.broken, "\n".join(result.broken)
    assert len(result.visited) > 10


def test_crawl_reaches_the_pages_of_each_role(demo: Hospital, client_as):
    """The crawl is not vacuous: each role gets to the pages its start page is about."""
    expected = {
        "employee": {"web:home_employee", "web:talk_new", "web:talk_detail", "web:talk_ics"},
        "department head": {"web:home_manager", "web:person", "web:profile", "web:brief"},
        "HR": {"web:home_hr", "web:cycle_detail", "web:org_import_detail", "web:people"},
        "executive": {"web:home_executive", "web:departments"},
        "admin": {"web:home_admin", "web:roles", "web:kpi_catalogue", "web:metrics_import"},
    }
    for role, names in expected.items():
        kinds = {kind.split("?")[0] for kind in crawl(client_as(demo.by_role(role))).kinds}
        assert names <= kinds, f"{role} did not reach {sorted(names - kinds)}"


def test_crawl_link_reader_keeps_same_site_links_only():
    page = (
        '<a href="/talks/1/#propose">a</a><a href="https://example.com/x">b</a>'
        '<a href="?page=2">c</a><a href="mailto:x@example.com">d</a>'
        '<a href="http://testserver/people/">e</a><a href="#top">f</a>'
    )

    assert links_on(page, "/talks/") == ["/talks/1/", "/talks/?page=2", "/people/"]


def test_crawl_names_a_link_that_answers_not_found(demo: Hospital, client_as, monkeypatch):
    """The crawl itself catches a dead link (here: one planted into the start page)."""
    client = client_as(demo.doctor_li)
    original = client.get

    def get(path: str, *args, **kwargs):
        response = original(path, *args, **kwargs)
        if path == "/home/me/":
            response.content = re.sub(
                b"</main>", b'<a href="/people/987654/">x</a></main>', response.content
            )
        return response

    monkeypatch.setattr(client, "get", get)

    assert any("/people/987654/" in line for line in crawl(client).broken)


# --- Chinese text on the pages ---------------------------------------------------------------


# Not prose: scripts, styles, and code samples (a file format shown as it is written).
_NOT_TEXT = ("script", "style", "template", "pre", "code")


class _Text(HTMLParser):
    """The text a reader sees: no scripts, styles, code samples or attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _NOT_TEXT:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _NOT_TEXT:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


@pytest.mark.parametrize("role", ["HR", "department head", "nurse"])
def test_crawl_pages_in_chinese_use_full_width_punctuation(
    demo: Hospital, client_as: Callable[[Employee], Client], role: str
):
    """Labels joined to values in a template ("主题: 季度") are caught here, where the
    catalogue alone cannot see them."""
    from tests.test_translations import half_width_by_han

    client = client_as(demo.by_role(role))
    found = {}
    for url, status in crawl(client).visited.items():
        if status != 200 or url.split("?")[0].endswith(NOT_READ):
            continue
        response = client.get(url)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        parser = _Text()
        parser.feed(response.content.decode())
        places = [p for line in "".join(parser.parts).splitlines() for p in half_width_by_han(line)]
        if places:
            found[url] = places
    assert not found, found
