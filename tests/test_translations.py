"""Every user-facing string has a Simplified Chinese translation (English is the source)."""

import re
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


# --- Chinese punctuation ------------------------------------------------------------------------

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Half-width punctuation touching a Chinese character: "主题: 季度" → "主题：季度",
# "在职 (active)" → "在职（active）", "完成." → "完成。". A full stop counts only right against
# the character and not before a letter or digit ("指标.xlsx", ".xlsx 文件" are file names);
# the rest also across one space.
HALF_WIDTH_BY_HAN = re.compile(
    rf"[{HAN}] ?[,:;!?()\"]|[{HAN}]\.(?![A-Za-z0-9])|[,:;!?()\"] ?[{HAN}]|\.[{HAN}]"
)


def half_width_by_han(text: str) -> list[str]:
    """The places in `text` where half-width punctuation touches a Chinese character."""
    return [match.group() for match in HALF_WIDTH_BY_HAN.finditer(text)]


def read_po(path: Path) -> list[tuple[str, list[str]]]:
    """(msgid, msgstrs) of every entry of a .po file, obsolete ones left out."""
    entries: list[tuple[str, list[str]]] = []
    msgid: list[str] = []
    strs: list[list[str]] = []
    current: list[str] | None = None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if line.startswith("msgid ") or not line:
            if msgid or strs:
                entries.append(("".join(msgid), ["".join(s) for s in strs]))
            msgid, strs, current = [], [], None
            if line.startswith("msgid "):
                current = msgid
                current.append(_unquote(line[len("msgid ") :]))
            continue
        if line.startswith("#"):
            continue
        if line.startswith("msgstr"):
            strs.append([_unquote(line.split(" ", 1)[1])])
            current = strs[-1]
        elif line.startswith(("msgid_plural", "msgctxt")):
            current = None
        elif line.startswith('"') and current is not None:
            current.append(_unquote(line))
    return entries


def _unquote(quoted: str) -> str:
    return quoted.strip()[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def test_translations_zh_hans_use_full_width_punctuation() -> None:
    found = {
        msgid: places
        for msgid, msgstrs in read_po(PO_FILE)
        for text in msgstrs
        if msgid and (places := half_width_by_han(text))
    }

    assert not found, f"half-width punctuation next to Chinese characters: {found}"


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("主题: 季度绩效面谈", ["题:"]),
        ("在职 (active) 或离职 (left)", ["职 (", ") 或", "职 ("]),
        ("面谈已确定.", ["定."]),
        ("请先登录,再继续", ["录,"]),
        ('点击"确定"', ['击"', '定"']),
        ("主题：季度绩效面谈（2026 Q4）。", []),
        ("只能导入 .xlsx 和 .csv 文件。", []),
        ("花名册.xlsx 已导入", []),
        ("10:00–10:45，%(name)s 已接受", []),
    ],
)
def test_translations_punctuation_check_finds_half_width_marks(
    text: str, places: list[str]
) -> None:
    assert half_width_by_han(text) == places


def test_translations_say_revoke_as_che_xiao() -> None:
    """撤销 is the word for revoking (a role, a token, a link); 吊销 is for licences."""
    assert not [msgid for msgid, msgstrs in read_po(PO_FILE) if any("吊销" in s for s in msgstrs)]
