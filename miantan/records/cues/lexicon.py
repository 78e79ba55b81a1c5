"""The lexicons and rules of the emotion cues, read from the data files `data/<language>.json`.

An entry is written as the words it matches, with two marks: "…" lets up to `gap` characters
(Chinese) or words (English) stand between its parts ("压力…大" matches 压力大, 压力太大了,
not 压力不大: a gap never holds a negator), and in English a word ending in "*" matches any
word that begins so ("frustrat*" matches frustrated, frustrating). Entries match whole words
only: the detector checks that a match begins and ends where a word does (`text.Words`).

A data file holds: `threshold` (the total a label needs to be a cue), `negation_window` and
`post_window` (in words), `clause_breaks`; `negators` (with `not_negators`, words that begin
like one: 不错, 不过), `intensifiers` and `diminishers` with their factors,
`exclamation_boost`; `cues` (label → entry → weight), `negated_positives` (label → entry →
weight, a cue only after a negator: 开心, "happy"), `feelings` (entries that may be somebody
else's), `third_parties`, `self_words`, `post_negations` (压力不大), `resolutions` (现在好多了),
`probe_questions` (regular expressions for a question to the other person), `minimal_answers`
(regular expressions a whole answer matches: 嗯, 还行吧, "fine") and `sarcasm` (a marker at the
start of a clause, `lead_ins` allowed before it, and a later context). Chinese adds
`prefix_negators`, `split_prefixes` and `particles` (how a word is cut: 很烦 → 很 烦),
`keep_whole` (words never cut) and `morphemes` (characters that carry a feeling inside any
word, with `morpheme_exceptions`); English adds `contractions` and `contraction_suffixes`.

How far a negation reaches: `wide_negators` (我不觉得…, "I don't feel like…") negate to the
end of their clause, not only within `negation_window`; `scope_breaks` (怎么, "how",
"because") end the reach of any negator before them; in a question, a negator inside one of
the `rhetorical_negations` (这不是…吗？, "isn't it…?") negates nothing. Talk *about* a
feeling is not the feeling: `topic_words` (关于, "among", "survey") in a clause that does not
speak of the speaker, and `topic_after` right after a cue word ("stress levels", 心理疏导),
cancel it; an echoed question answered no (紧张？没有…, "Worried? No, …") is not a cue
either (`echo_answers`).
`fillers` are the words a clause may hold besides a marker that stands alone in it (吧, "oh").

`rules` are the structural rules, by name: each gives a label and a weight when one of its
`patterns` (or `regex`, raw expressions such as the reduplication "(.)了又\\1" of 改了又改)
is found and its conditions hold: `question` (its clause ends with a question mark:
凭什么…？, "why is it always…?"), `alone` (it is its whole clause: 算了。, "Whatever."),
`in_clause` / `in_sentence` (another pattern stands in the same clause / sentence: 连续… with
累), `self` (the speaker speaks of themself elsewhere in the sentence) and `after_third_party`
(somebody else is named before it in its clause: "the day team didn't…"). The `sarcasm`
section may also give `closers`: words that, as the last clause after a complaint ("Typical."),
are frustration.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
LANGUAGES = ("zh", "en")
LABELS = ("frustration", "distress", "disengagement", "defensiveness")
GAP = "…"


class LexiconError(ValueError):
    """A data file that does not have the expected shape."""


@dataclass(frozen=True)
class Entry:
    """One cue word or phrase: what it matches, the label it gives and with what weight."""

    text: str
    label: str
    weight: float
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Rule:
    """A structural rule (`rules` in a data file): a pattern and the conditions it needs."""

    name: str
    label: str
    weight: float
    patterns: tuple[Entry, ...]
    regex: tuple[re.Pattern[str], ...] = ()  # raw expressions (改了又改: "(.)了又\\1")
    in_clause: tuple[re.Pattern[str], ...] = ()
    in_sentence: tuple[re.Pattern[str], ...] = ()
    question: bool = False
    alone: bool = False
    speaker: bool = False  # the speaker speaks of themself elsewhere in the sentence
    after_third_party: bool = False


@dataclass(frozen=True)
class Lexicon:
    language: str
    threshold: float
    negation_window: int
    post_window: int
    clause_marks: frozenset[str]  # single characters that end a clause
    clause_words: frozenset[str]  # words that begin a new clause ("但是", "but")
    negators: tuple[re.Pattern[str], ...]
    wide_negators: tuple[re.Pattern[str], ...]  # negators that reach to the end of the clause
    scope_breaks: tuple[re.Pattern[str], ...]  # words no negation reaches past (怎么, "how")
    rhetorical_negations: tuple[re.Pattern[str], ...]  # 这不是…吗？: a negator that negates nothing
    not_negators: tuple[re.Pattern[str], ...]
    intensifiers: tuple[tuple[re.Pattern[str], float], ...]
    diminishers: tuple[tuple[re.Pattern[str], float], ...]
    exclamation_boost: dict[str, float]
    cues: tuple[Entry, ...]
    negated_positives: tuple[Entry, ...]
    morphemes: tuple[Entry, ...]  # Chinese characters read inside any word (怨 in 抱怨, 埋怨)
    morpheme_exceptions: frozenset[str]  # words where they mean nothing (麻烦, 恐怕)
    feelings: frozenset[str]
    third_parties: tuple[re.Pattern[str], ...]
    self_words: tuple[re.Pattern[str], ...]
    post_negations: tuple[re.Pattern[str], ...]
    resolutions: tuple[re.Pattern[str], ...]
    probe_questions: tuple[re.Pattern[str], ...]
    topic_words: tuple[re.Pattern[str], ...]  # a clause about a subject (关于, "among")
    topic_after: tuple[re.Pattern[str], ...]  # right after a cue word: "stress levels"
    echo_answers: tuple[re.Pattern[str], ...]  # "No" after an echoed "Worried?"
    fillers: frozenset[str]  # words a clause may hold besides a marker alone in it
    rules: tuple[Rule, ...]
    minimal_weight: float
    minimal_answers: tuple[re.Pattern[str], ...]
    sarcasm_label: str
    sarcasm_weight: float
    sarcasm_lead_ins: tuple[re.Pattern[str], ...]
    sarcasm_markers: tuple[re.Pattern[str], ...]
    sarcasm_contexts: tuple[re.Pattern[str], ...]
    sarcasm_closers: tuple[re.Pattern[str], ...]
    contractions: dict[str, str]
    contraction_suffixes: dict[str, str]
    split_prefixes: tuple[str, ...]  # words a Chinese token may begin with (不, 很, 有点 …)
    particles: frozenset[str]  # characters a Chinese token may end with (了, 啊 …)
    words: frozenset[str]  # Chinese words of the lexicon, never cut into a prefix and a rest


@cache
def lexicon(language: str) -> Lexicon:
    """The lexicon of a language ("zh" or "en"), read once."""
    if language not in LANGUAGES:
        raise LexiconError(f"no lexicon for {language!r}")
    raw = json.loads((DATA / f"{language}.json").read_text(encoding="utf-8"))
    return build(raw)


def build(raw: dict[str, Any]) -> Lexicon:
    """A lexicon from the parsed content of a data file."""
    language = _get(raw, "language", str)
    if language not in LANGUAGES:
        raise LexiconError(f"unknown language {language!r}")
    gap = _get(raw, "gap", int)

    def compile_all(texts: Any) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile(str(text), language, gap) for text in texts)

    def weighted(mapping: Any) -> tuple[tuple[re.Pattern[str], float], ...]:
        return tuple((_compile(t, language, gap), float(w)) for t, w in dict(mapping).items())

    def entries(by_label: Any) -> tuple[Entry, ...]:
        found = []
        for label, words in dict(by_label).items():
            if label not in LABELS:
                raise LexiconError(f"unknown label {label!r}")
            for text, weight in dict(words).items():
                pattern = _compile(text, language, gap)
                found.append(Entry(text, label, float(weight), pattern))
        return tuple(found)

    def rule(name: str, spec: Any) -> Rule:
        spec = dict(spec)
        label = str(spec.get("label"))
        if label not in LABELS:
            raise LexiconError(f"unknown label {label!r} in rule {name!r}")
        patterns = tuple(
            Entry(str(text), label, 0.0, _compile(str(text), language, gap))
            for text in spec.get("patterns", [])
        )
        expressions = tuple(re.compile(str(text)) for text in spec.get("regex", []))
        if not patterns and not expressions:
            raise LexiconError(f"rule {name!r} has no patterns")
        return Rule(
            name=name,
            label=label,
            weight=float(spec.get("weight", 1.0)),
            patterns=patterns,
            regex=expressions,
            in_clause=compile_all(spec.get("in_clause", [])),
            in_sentence=compile_all(spec.get("in_sentence", [])),
            question=bool(spec.get("question", False)),
            alone=bool(spec.get("alone", False)),
            speaker=bool(spec.get("self", False)),
            after_third_party=bool(spec.get("after_third_party", False)),
        )

    breaks = [str(mark) for mark in raw.get("clause_breaks", [])]
    minimal = dict(raw.get("minimal_answers", {}))
    sarcasm = dict(raw.get("sarcasm", {}))
    intensifiers = dict(raw.get("intensifiers", {}))
    diminishers = dict(raw.get("diminishers", {}))
    cues = entries(raw.get("cues", {}))
    positives = entries(raw.get("negated_positives", {}))
    return Lexicon(
        language=language,
        threshold=float(_get(raw, "threshold", (int, float))),
        negation_window=_get(raw, "negation_window", int),
        post_window=_get(raw, "post_window", int),
        clause_marks=frozenset(mark for mark in breaks if len(mark) == 1 and not mark.isalnum()),
        clause_words=frozenset(mark for mark in breaks if mark.isalnum()),
        negators=compile_all([*raw.get("negators", []), *raw.get("wide_negators", [])]),
        wide_negators=compile_all(raw.get("wide_negators", [])),
        scope_breaks=compile_all(raw.get("scope_breaks", [])),
        rhetorical_negations=compile_all(raw.get("rhetorical_negations", [])),
        not_negators=compile_all(raw.get("not_negators", [])),
        intensifiers=weighted(intensifiers),
        diminishers=weighted(diminishers),
        exclamation_boost={k: float(v) for k, v in raw.get("exclamation_boost", {}).items()},
        cues=cues,
        negated_positives=positives,
        morphemes=_morphemes(raw.get("morphemes", {})),
        morpheme_exceptions=frozenset(raw.get("morpheme_exceptions", [])),
        feelings=frozenset(raw.get("feelings", [])),
        third_parties=compile_all(raw.get("third_parties", [])),
        self_words=compile_all(raw.get("self_words", [])),
        post_negations=compile_all(raw.get("post_negations", [])),
        resolutions=compile_all(raw.get("resolutions", [])),
        probe_questions=tuple(re.compile(p) for p in raw.get("probe_questions", [])),
        topic_words=compile_all(raw.get("topic_words", [])),
        topic_after=compile_all(raw.get("topic_after", [])),
        echo_answers=compile_all(raw.get("echo_answers", [])),
        fillers=frozenset(str(word) for word in raw.get("fillers", [])),
        rules=tuple(rule(str(name), spec) for name, spec in dict(raw.get("rules", {})).items()),
        minimal_weight=float(minimal.get("weight", 1.0)),
        minimal_answers=tuple(re.compile(p) for p in minimal.get("patterns", [])),
        sarcasm_label=str(sarcasm.get("label", "frustration")),
        sarcasm_weight=float(sarcasm.get("weight", 1.0)),
        sarcasm_lead_ins=compile_all(sarcasm.get("lead_ins", [])),
        sarcasm_markers=compile_all(sarcasm.get("markers", [])),
        sarcasm_contexts=compile_all(sarcasm.get("contexts", [])),
        sarcasm_closers=compile_all(sarcasm.get("closers", [])),
        contractions={str(k): str(v) for k, v in raw.get("contractions", {}).items()},
        contraction_suffixes={
            str(k): str(v) for k, v in raw.get("contraction_suffixes", {}).items()
        },
        split_prefixes=tuple(
            sorted(
                {
                    *raw.get("prefix_negators", []),
                    *raw.get("split_prefixes", []),
                    *intensifiers,
                    *diminishers,
                },
                key=len,
                reverse=True,
            )
        ),
        particles=frozenset(raw.get("particles", [])),
        words=_whole_words(raw) if language == "zh" else frozenset(),
    )


def _morphemes(by_label: Any) -> tuple[Entry, ...]:
    found = []
    for label, chars in dict(by_label).items():
        if label not in LABELS:
            raise LexiconError(f"unknown label {label!r}")
        for text, weight in dict(chars).items():
            found.append(Entry(text, label, float(weight), re.compile(re.escape(text))))
    return tuple(found)


def _compile(text: str, language: str, gap: int) -> re.Pattern[str]:
    parts = [part.strip() for part in text.split(GAP)]
    if not all(parts):
        raise LexiconError(f"an empty part in {text!r}")
    # Each gap is a group, so that the detector can refuse a gap that holds a negator
    # (压力…大 matches 压力太大, not 压力不大).
    if language == "zh":
        between = rf"([^，,。.！!？?；;：:…\n]{{0,{gap}}}?)"
        return re.compile(between.join(re.escape(part) for part in parts))
    between = rf"((?:\s+[^\s.,!?;:…]+){{0,{gap}}}?)\s+"
    return re.compile(between.join(_english_words(part) for part in parts))


def _english_words(part: str) -> str:
    words = []
    for word in part.lower().split():
        if word.endswith("*") and len(word) > 1:
            words.append(re.escape(word[:-1]) + r"[a-z]*")
        else:
            words.append(re.escape(word))
    return r"[\s,\-]+".join(words)


def _whole_words(raw: dict[str, Any]) -> frozenset[str]:
    """Every literal part of two characters or more (不满, 有点, 不错, 最近)."""
    texts: list[str] = []
    for section in ("cues", "negated_positives"):
        for words in dict(raw.get(section, {})).values():
            texts.extend(words)
    for section in (
        "negators",
        "wide_negators",
        "not_negators",
        "keep_whole",
        "post_negations",
        "scope_breaks",
    ):
        texts.extend(raw.get(section, []))
    for spec in dict(raw.get("rules", {})).values():
        texts.extend(dict(spec).get("patterns", []))
    texts.extend(raw.get("intensifiers", {}))
    texts.extend(raw.get("diminishers", {}))
    parts = {part.strip() for text in texts for part in str(text).split(GAP)}
    return frozenset(part for part in parts if len(part) >= 2)


def _get(raw: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LexiconError(f"{key!r} is missing or of the wrong kind")
    return value
