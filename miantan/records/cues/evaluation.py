"""Measuring the detector against labelled sentences (`manage.py evaluate_cues`).

A labelled file has one JSON object per line:
{"id": "zh-001", "lang": "zh"|"en", "text": "…", "labels": ["none"] or some of LABELS}.
Per language, a sentence is positive when it has a label other than "none" and predicted
positive when `detect` shows any cue; precision and recall are of that. Per label, the same
with that label alone. A ratio without a denominator is 0.0.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .detector import Cue, detect
from .lexicon import LABELS, LANGUAGES

NONE = "none"


class EvaluationFileError(ValueError):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Example:
    id: str
    lang: str
    text: str
    labels: frozenset[str]
    line: int

    @property
    def emotional(self) -> bool:
        return bool(self.labels - {NONE})


@dataclass
class Tally:
    n: int = 0
    positives: int = 0
    shown: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.shown if self.shown else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.positives if self.positives else 0.0

    def add(self, *, positive: bool, shown: bool) -> None:
        self.n += 1
        self.positives += positive
        self.shown += shown
        self.correct += positive and shown


@dataclass
class Report:
    languages: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in LANGUAGES})
    labels: dict[str, dict[str, Tally]] = field(
        default_factory=lambda: {k: {label: Tally() for label in LABELS} for k in LANGUAGES}
    )
    # (example, labels shown) for every sentence the detector got wrong.
    mistakes: list[tuple[Example, frozenset[str]]] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, Any]]:
        """The figures `evaluate_cues --json` prints."""
        return {
            language: {
                "precision": round(tally.precision, 4),
                "recall": round(tally.recall, 4),
                "n": tally.n,
            }
            for language, tally in self.languages.items()
        }


def read_examples(lines: Iterable[str]) -> list[Example]:
    """The examples of a labelled file; EvaluationFileError names the first malformed line.
    Blank lines are skipped."""
    examples = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            examples.append(_example(line, number))
    return examples


def evaluate(
    examples: Iterable[Example], detector: Callable[[str, str | None], list[Cue]] = detect
) -> Report:
    report = Report()
    for example in examples:
        shown = frozenset(cue.label for cue in detector(example.text, example.lang))
        report.languages[example.lang].add(positive=example.emotional, shown=bool(shown))
        for label, tally in report.labels[example.lang].items():
            tally.add(positive=label in example.labels, shown=label in shown)
        if example.emotional != bool(shown):
            report.mistakes.append((example, shown))
    return report


def _example(line: str, number: int) -> Example:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        raise EvaluationFileError(number, f"not JSON ({error.msg})") from None
    if not isinstance(raw, dict):
        raise EvaluationFileError(number, "not a JSON object")
    for key in ("id", "lang", "text"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise EvaluationFileError(number, f'"{key}" must be a non-empty string')
    if raw["lang"] not in LANGUAGES:
        raise EvaluationFileError(number, f'"lang" must be one of {", ".join(LANGUAGES)}')
    labels = raw.get("labels")
    allowed = (NONE, *LABELS)
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(label, str) and label in allowed for label in labels)
    ):
        raise EvaluationFileError(
            number, f'"labels" must be a non-empty list of {", ".join(allowed)}'
        )
    if NONE in labels and len(set(labels)) > 1:
        raise EvaluationFileError(number, '"none" cannot stand with other labels')
    return Example(raw["id"], raw["lang"], raw["text"], frozenset(labels), number)
