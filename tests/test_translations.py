"""Every user-facing string has a Simplified Chinese translation (English is the source)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
PO_FILE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

needs_gettext = pytest.mark.skipif(
    shutil.which("msgfmt") is None, reason="gettext is not installed"
)


def _untranslated(po_file: Path) -> str:
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@needs_gettext
def test_translations_zh_hans_catalogue_is_complete() -> None:
    statistics = _untranslated(PO_FILE)
    assert "untranslated" not in statistics and "fuzzy" not in statistics, statistics


@needs_gettext
def test_translations_cover_every_string_in_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Extract the strings afresh, in a copy of the source tree, into a copy of the catalogue:
    nothing may be left untranslated. (makemessages writes next to the sources it reads.)"""
    for folder in ("miantan", "config"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    copy = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    shutil.copy(PO_FILE, copy)
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["zh_Hans"], no_location=True, verbosity=0)
    statistics = _untranslated(copy)
    assert "untranslated" not in statistics and "fuzzy" not in statistics, (
        f"strings without a Chinese translation: {statistics}"
    )
