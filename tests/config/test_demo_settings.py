"""`make run` (config.settings.demo): the product as a customer first sees it.

DEBUG off with the product's own error pages, static files served without collecting them,
mail kept in files under var/mail/ with one log line each, links following PORT.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.settings_process import django, environment, run

DEMO = "config.settings.demo"
HOST = "127.0.0.1:18766"


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    return environment(DJANGO_SETTINGS_MODULE=DEMO, MIANTAN_VAR_DIR=str(tmp_path), PORT="18766")


GET = """
from django.test import Client
client = Client(headers={{"accept-language": "{language}"}}, HTTP_HOST="{host}")
response = client.get("{path}")
result = {{
    "status": response.status_code,
    "type": response.get("Content-Type", ""),
    "body": b"".join(response).decode(errors="replace")[:20000],
}}
"""


def test_demo_settings_answer_an_unknown_address_with_the_products_404_page(demo_env):
    page, _log = django(
        GET.format(language="zh-CN", path="/no-such-page/", host=HOST), env=demo_env
    )

    assert page["status"] == 404
    assert "<title>未找到 · 面谈</title>" in page["body"]
    for technical in ("Page not found", "URLconf", "DEBUG = True", "Traceback"):
        assert technical not in page["body"]


def test_demo_settings_404_page_follows_the_browsers_language(demo_env):
    page, _log = django(
        GET.format(language="en-US,en;q=0.8", path="/no-such-page/", host=HOST), env=demo_env
    )

    assert page["status"] == 404
    assert "<h1>Not found</h1>" in page["body"]


def test_demo_settings_answer_an_unknown_host_with_the_products_400_page(demo_env):
    page, _log = django(
        GET.format(language="en", path="/accounts/login/", host="intranet.example"), env=demo_env
    )

    assert page["status"] == 400
    assert "<h1>Bad request</h1>" in page["body"]
    assert "DisallowedHost" not in page["body"]
    assert "ALLOWED_HOSTS" not in page["body"]


def test_demo_settings_serve_the_front_end_libraries_with_debug_off(demo_env):
    for path in ("/static/vendor/echarts/echarts.min.js", "/static/vendor/htmx/htmx.min.js"):
        page, log = django(
            "from django.conf import settings\nassert not settings.DEBUG\n"
            + GET.format(language="zh-CN", path=path, host=HOST),
            env=demo_env,
        )

        assert page["status"] == 200, path
        assert "javascript" in page["type"]
        assert "No directory at" not in log


def test_demo_settings_build_links_on_the_port_served(demo_env):
    base_url, _log = django(
        "from django.conf import settings\nresult = settings.MIANTAN_BASE_URL", env=demo_env
    )

    assert base_url == "http://127.0.0.1:18766"


def test_demo_settings_build_links_on_8000_without_a_port(demo_env):
    env = {key: value for key, value in demo_env.items() if key != "PORT"}

    base_url, _log = django(
        "from django.conf import settings\nresult = settings.MIANTAN_BASE_URL", env=env
    )

    assert base_url == "http://127.0.0.1:8000"


def test_demo_settings_keep_a_configured_base_url(demo_env):
    env = {**demo_env, "MIANTAN_BASE_URL": "https://miantan.example.com/"}

    base_url, _log = django(
        "from django.conf import settings\nresult = settings.MIANTAN_BASE_URL", env=env
    )

    assert base_url == "https://miantan.example.com"


SEND = """
from django.core.mail import EmailMessage
EmailMessage("面谈请求：李明", "查看面谈: http://127.0.0.1:18766/talks/1/",
             to=["li.ming@hospital.example"]).send()
result = True
"""


def test_demo_settings_write_each_mail_to_a_file_with_one_log_line(demo_env, tmp_path):
    _result, log = django(SEND, env=demo_env)

    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    text = files[0].read_text()
    assert "To: li.ming@hospital.example" in text
    lines = [line for line in log.splitlines() if "miantan.notifications.mailbox" in line]
    assert len(lines) == 1
    assert f"mail to 1 recipient saved as {files[0]}" in lines[0]


def test_demo_settings_keep_mail_and_its_addresses_out_of_the_terminal(demo_env):
    _result, log = django(SEND, env=demo_env)

    for private in ("li.ming", "hospital.example", "面谈请求", "查看面谈", "Subject:"):
        assert private not in log


def test_demo_settings_pass_the_system_checks_without_a_warning(demo_env):
    # With the database, as `migrate` runs them at every `make run`.
    done = run("manage.py", "check", "--database", "default", env=demo_env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("System check identified no issues")
    assert "WARNING" not in done.stdout + done.stderr
    assert done.stderr == ""
