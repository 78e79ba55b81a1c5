"""Every audit code the application writes has a readable label in English and in Chinese.

The codes are found in the source itself: every string literal shaped like an audit code
(`app.thing.verb` with a project app first) and every f-string that builds one, expanded with
the values that fill it. A new code without a label fails here, and so does a label for a code
nothing writes any more."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import translation

from miantan.audit.actions import ACTION_LABELS, label_for
from miantan.interviews.enums import TalkEvent

SOURCE = Path(__file__).resolve().parent.parent.parent / "miantan"
CODE = re.compile(r"^([a-z_]+)\.[a-z_]+\.[a-z_]+$")
# Codes built at run time: the f-string's fixed start and the values that complete it.
FAMILIES = {
    "interviews.talk.": {event.value for event in TalkEvent},
}


def project_apps() -> set[str]:
    return {config.label for config in apps.get_app_configs() if config.name.startswith("miantan.")}


def codes_in_source() -> dict[str, str]:
    """Each audit code written somewhere, with one file that writes it."""
    known_apps = project_apps()
    found: dict[str, str] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts or (
            path.name == "actions.py" and path.parent.name == "audit"
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for code in _codes(node, known_apps):
                found.setdefault(code, str(path.relative_to(SOURCE)))
    return found


def _codes(node: ast.AST, known_apps: set[str]) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        match = CODE.match(node.value)
        return {node.value} if match and match.group(1) in known_apps else set()
    if isinstance(node, ast.JoinedStr) and node.values:
        head = node.values[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            start = head.value
            if re.match(r"^[a-z_]+\.[a-z_]+\.$", start) and start.split(".")[0] in known_apps:
                assert start in FAMILIES, f"codes built from {start!r}: add them to FAMILIES"
                return {start + value for value in FAMILIES[start]}
    return set()


def test_action_labels_cover_every_code_in_the_source():
    missing = {
        code: where for code, where in codes_in_source().items() if code not in ACTION_LABELS
    }

    assert not missing, f"audit codes without a label in miantan/audit/actions.py: {missing}"


def test_action_labels_name_no_code_that_nothing_writes():
    written = set(codes_in_source())

    assert set(ACTION_LABELS) - written == set()


def test_action_labels_find_the_codes_of_every_kind():
    """The search itself works: literals, keyword arguments and f-strings."""
    codes = codes_in_source()

    for code in (
        "people.employee.viewed",
        "metrics.brief.viewed",
        "interviews.talk.kept",
        "interviews.talk.slots_viewed",
        "people.org_import.rejected",
        "accounts.login.failed",
    ):
        assert code in codes


@pytest.mark.parametrize("code", sorted(ACTION_LABELS))
def test_action_label_reads_in_english_and_in_chinese(code: str):
    with translation.override("en"):
        english = label_for(code)
    with translation.override("zh-hans"):
        chinese = label_for(code)

    assert english != code and re.search(r"[a-z]", english)
    assert chinese != english, f"{code}: {english!r} has no Chinese translation"
    assert re.search(r"[\u4e00-\u9fff]", chinese), f"{code}: {chinese!r} is not Chinese"


def test_action_label_of_an_unknown_code_is_the_code():
    assert label_for("people.employee.teleported") == "people.employee.teleported"
