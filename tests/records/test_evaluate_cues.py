"""`manage.py evaluate_cues`: the shipped labelled set, its figures (whole and held out), the
text and JSON output, any file in the format, and malformed lines."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from miantan.records.cues.evaluation import evaluate, read_examples
from miantan.records.cues.lexicon import DATA, LABELS

SHIPPED = DATA / "evaluation.jsonl"
# Written apart from the shipped set, then used to tune the rules (words and sentence shapes).
SECOND = DATA / "second_set.jsonl"
# Written after all tuning and never used for it.
UNTUNED = DATA / "untuned.jsonl"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate_cues", *args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, *rows: dict | str) -> Path:
    path = tmp_path / "set.jsonl"
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the shipped set -----------------------------------------------------------------------------


def test_the_shipped_set_has_300_sentences_half_in_each_language() -> None:
    examples = read_examples(SHIPPED.read_text(encoding="utf-8").splitlines())
    languages = Counter(e.lang for e in examples)
    given = Counter(label for e in examples for label in e.labels)

    assert len(examples) >= 300
    assert 0.4 <= languages["zh"] / len(examples) <= 0.6
    assert len({e.id for e in examples}) == len(examples)
    assert all(given[label] >= 40 for label in (*LABELS, "none"))


def test_the_shipped_set_has_the_hard_cases() -> None:
    examples = read_examples(SHIPPED.read_text(encoding="utf-8").splitlines())
    texts = {e.text: e.labels for e in examples}

    minimal = [t for t, labels in texts.items() if len(t) <= 8 and "disengagement" in labels]
    assert len(minimal) >= 20
    assert texts["还行吧。"] == {"disengagement"}
    assert texts["Fine."] == {"disengagement"}
    assert texts["我不是不满意，只是想多了解一下评分的依据。"] == {"none"}
    assert texts["太好了，周末又要加班。"] == {"frustration"}
    assert texts["I'd rather not get into that today."] == {"disengagement"}


def test_the_shipped_set_meets_the_bar_in_each_language() -> None:
    figures = json.loads(run(str(SHIPPED), "--json"))

    print("whole set:", figures)
    for language in ("zh", "en"):
        assert figures[language]["precision"] >= 0.8
        assert figures[language]["recall"] >= 0.7


def test_the_held_out_part_is_also_reasonable() -> None:
    """Every fifth line of the shipped set was kept out of the tuning of the lexicons: their
    figures show how the rules do on sentences they were not fitted to."""
    examples = read_examples(SHIPPED.read_text(encoding="utf-8").splitlines())
    held_out = [e for e in examples if e.line % 5 == 0]

    figures = evaluate(held_out).summary()

    print("held out (every fifth line):", figures)
    for language in ("zh", "en"):
        assert figures[language]["n"] >= 30
        assert figures[language]["precision"] >= 0.7
        assert figures[language]["recall"] >= 0.6


@pytest.mark.parametrize("path", [SECOND, UNTUNED], ids=["second set", "untuned"])
def test_the_further_sets_meet_the_bar_too(path: Path) -> None:
    figures = json.loads(run(str(path), "--json"))

    print(path.name, figures)
    for language in ("zh", "en"):
        assert figures[language]["n"] >= 12
        assert figures[language]["precision"] >= 0.8
        assert figures[language]["recall"] >= 0.7


# --- output --------------------------------------------------------------------------------------


def test_json_prints_exactly_one_object_per_language() -> None:
    out = run(str(SHIPPED), "--json")

    figures = json.loads(out)
    assert out.count("\n") <= 1
    assert set(figures) == {"zh", "en"}
    for values in figures.values():
        assert set(values) == {"precision", "recall", "n"}
    assert figures["zh"]["n"] + figures["en"]["n"] == len(SHIPPED.read_text().splitlines())


def test_text_prints_each_language_and_a_table_per_label() -> None:
    out = run(str(SHIPPED))

    assert "A cue is shown, against labels other than none" in out
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert any(row[:1] == ["zh"] and len(row) == 6 for row in rows)
    assert any(row[:1] == ["en"] and len(row) == 6 for row in rows)
    for language in ("zh", "en"):
        for label in LABELS:
            assert any(row[:2] == [language, label] for row in rows)


def test_any_file_in_the_format_is_measured(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"id": "a", "lang": "zh", "text": "我真的受够了。", "labels": ["frustration"]},
        {"id": "b", "lang": "zh", "text": "谢谢，我下周交。", "labels": ["none"]},
        {"id": "c", "lang": "zh", "text": "嗯。", "labels": ["none"]},
        "",
        {"id": "d", "lang": "zh", "text": "今天的会开完了。", "labels": ["distress"]},
    )

    figures = json.loads(run(str(path), "--json"))

    assert figures["zh"] == {"precision": 0.5, "recall": 0.5, "n": 4}
    assert figures["en"] == {"precision": 0.0, "recall": 0.0, "n": 0}


def test_mistakes_are_listed_on_request(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"id": "c", "lang": "zh", "text": "嗯。", "labels": ["none"]},
        {"id": "d", "lang": "en", "text": "The meeting is over.", "labels": ["distress"]},
    )

    out = run(str(path), "--mistakes")

    assert "line 1 c: 嗯。" in out and "shown disengagement" in out
    assert "line 2 d: The meeting is over." in out and "shown nothing" in out


# --- malformed files -----------------------------------------------------------------------------

GOOD = {"id": "a", "lang": "en", "text": "I'm fine.", "labels": ["none"]}


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"lang": "en", "text": "x", "labels": ["none"]}, '"id"'),
        ({"id": "x", "lang": "fr", "text": "x", "labels": ["none"]}, '"lang"'),
        ({"id": "x", "lang": "en", "text": "", "labels": ["none"]}, '"text"'),
        ({"id": "x", "lang": "en", "text": "x", "labels": []}, '"labels"'),
        ({"id": "x", "lang": "en", "text": "x", "labels": ["anger"]}, '"labels"'),
        ({"id": "x", "lang": "en", "text": "x", "labels": "none"}, '"labels"'),
        ({"id": "x", "lang": "en", "text": "x", "labels": ["none", "distress"]}, '"none"'),
    ],
)
def test_a_malformed_line_is_refused_with_its_number(
    tmp_path: Path, bad: dict | str, problem: str
) -> None:
    path = write(tmp_path, GOOD, GOOD, bad, GOOD)

    with pytest.raises(CommandError, match="line 3") as refused:
        run(str(path))

    assert problem in str(refused.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run(str(tmp_path / "missing.jsonl"))
