"""The detector: which feelings a sentence typed during a talk may show.

Every label collects the weights of its entries found in the text (`lexicon.py`), each
weight changed by its surroundings:

- a negator within `negation_window` words before it, in the same clause, cancels a cue word
  (我不烦, "I'm not stressed") and turns a positive word into a cue (不开心, "not happy");
  two negators cancel each other (我不是不满意, "I'm not unhappy"), a rhetorical question
  negates nothing (这不是为难人吗？); a wide negator (我不觉得,
  "I don't feel like") reaches to the end of its clause, and no negator reaches past a scope
  break (怎么, "how": "I don't know how much longer I can…" is not negated);
- a negation right after it cancels it too (压力不大, "the workload is manageable"), and so
  does a resolution later in the sentence (之前很焦虑，现在好多了);
- intensifiers before it (非常, 太, "really") raise the weight, diminishers (有点, "a bit")
  lower it, an exclamation mark raises frustration and defensiveness;
- a feeling of somebody else (客户很生气, "the customer was angry"), an interviewer's
  question (你压力大吗?), talk about a feeling as a subject (关于员工的焦虑问题, "stress
  levels on the ward") and an echoed question answered no ("Worried? No, …") are not cues;
- structural rules (`Rule`) read the shape of a sentence: a rhetorical question (凭什么…？,
  "why is it always…?"), blame put on somebody else, exhaustion with its duration (连续…累),
  resignation standing alone (算了。, "Whatever, …");
- a whole answer that is only a minimal answer (嗯, 还行吧, "fine.") is disengagement, and a
  cheerful opening followed by a complaint (太好了，又要加班), or a closing one after it
  ("…and the headcount went down. Brilliant."), is sarcasm;
- in Chinese, a character that carries a feeling (怨, 慌) counts in a word the lexicon does
  not list (抱怨, 心慌意乱), with a lower weight.

A label whose total reaches the lexicon's threshold is a cue. Nothing is stored: the caller
shows the cues to the interviewer and forgets them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexicon import LABELS, Entry, Lexicon, Rule, lexicon
from .messages import HINTS
from .text import Words, language_of, read

MAX_BOOST = 1.8
EVIDENCE_SEPARATOR = {"zh": "、", "en": ", "}
Span = tuple[int, int]


@dataclass(frozen=True)
class Cue:
    """One sign of a feeling in a sentence, for the interviewer only."""

    label: str
    score: float
    evidence: str
    script_hint: str


def detect(text: str, lang: str | None = None) -> list[Cue]:
    """The cues in a sentence, strongest first; none for a neutral one."""
    if not text or not text.strip():
        return []
    found = _Reading(text, lexicon(language_of(text, lang)))
    return found.cues()


@dataclass
class _Hit:
    label: str
    weight: float
    span: Span


class _Reading:
    def __init__(self, text: str, lex: Lexicon) -> None:
        self.lex = lex
        self.words: Words = read(text, lex)
        self._found: dict[int, list[Span]] = {}
        exceptions = self._all(lex.not_negators)
        rhetorical = [
            span
            for span in self._all(lex.rhetorical_negations)
            if self.words.clause_text(self.words.clause_at(span[0])).endswith(("?", "？"))
        ]
        plain_negators = [
            span
            for span in _longest(self._all(lex.negators))
            if not any(_overlaps(span, other) for other in exceptions)
            and not any(_inside(span, other) for other in rhetorical)
        ]
        self.plain_negators = plain_negators
        self.wide = set(self._all(lex.wide_negators))
        self.cue_hits = _without_contained(self._entries(lex.cues, plain_negators))
        cue_spans = [span for _, span in self.cue_hits]
        self.positive_hits = [
            (entry, span)
            for entry, span in self._entries(lex.negated_positives, plain_negators)
            if not any(_inside(span, other) for other in cue_spans)
        ]
        # A negator that is part of a cue (没人…听, "not my fault") negates nothing else.
        self.negators = [
            span
            for span in plain_negators
            if not any(_inside(span, other) and span != other for other in cue_spans)
        ]
        self.intensifiers = self._weighted(lex.intensifiers)
        self.diminishers = self._weighted(lex.diminishers)

    def cues(self) -> list[Cue]:
        hits = [
            *self._cue_words(),
            *self._negated_positives(),
            *self._morphemes(),
            *self._minimal(),
            *self._sarcasm(),
            *self._rules(),
        ]
        scores: dict[str, float] = {}
        spans: dict[str, list[Span]] = {}
        for hit in hits:
            scores[hit.label] = scores.get(hit.label, 0.0) + hit.weight
            spans.setdefault(hit.label, []).append(hit.span)
        if "!" in self.words.text:
            for label, boost in self.lex.exclamation_boost.items():
                if label in scores:
                    scores[label] *= boost
        found = [
            Cue(
                label=label,
                score=round(score, 2),
                evidence=self._evidence(spans[label]),
                script_hint=str(HINTS[label]),
            )
            for label, score in scores.items()
            if score >= self.lex.threshold
        ]
        return sorted(found, key=lambda cue: (-cue.score, LABELS.index(cue.label)))

    # --- the rules -----------------------------------------------------------------------

    def _cue_words(self) -> list[_Hit]:
        return [
            _Hit(entry.label, entry.weight * self._boost(start), (start, end))
            for entry, (start, end) in self.cue_hits
            if self._counts(entry.label, start, end, feeling=entry.text in self.lex.feelings)
        ]

    def _counts(self, label: str, start: int, end: int, *, feeling: bool) -> bool:
        """A cue word found at start–end is a feeling of the speaker's, here and now (a
        `feeling` word may be somebody else's)."""
        if self._negated(start) or self._negated_after(end) or self._asked(start):
            return False
        if label in ("frustration", "distress") and self._resolved(end):
            return False
        if self._about(start, end) or self._echoed(start, end):
            return False
        return not (feeling and self._somebody_else(start))

    def _negated_positives(self) -> list[_Hit]:
        hits = []
        for entry, (start, end) in self.positive_hits:
            if not self._negated(start) or self._asked(start):
                continue
            if entry.text in self.lex.feelings and self._somebody_else(start):
                continue
            if self._about(start, end):
                continue
            negator = self._negator_before(start)
            hits.append(
                _Hit(entry.label, entry.weight * self._boost(negator[0]), (negator[0], end))
            )
        return hits

    def _morphemes(self) -> list[_Hit]:
        """Chinese characters that carry a feeling in whatever word they stand (怨 in 抱怨,
        埋怨, 怨气), for words the lexicon does not list; one hit per word and label."""
        if not self.lex.morphemes:
            return []
        taken = [span for _, span in (*self.cue_hits, *self.positive_hits)]
        taken += self._all_text(self.lex.morpheme_exceptions)
        best: dict[tuple[str, int], _Hit] = {}
        for entry in self.lex.morphemes:
            for match in entry.pattern.finditer(self.words.text):
                if any(_overlaps((match.start(), match.end()), other) for other in taken):
                    continue
                word = self.words.units[self.words.unit_ending(match.end())]
                if not self._counts(entry.label, *word, feeling=True):
                    continue
                hit = _Hit(entry.label, entry.weight * self._boost(word[0]), word)
                key = (entry.label, word[0])
                if key not in best or best[key].weight < hit.weight:
                    best[key] = hit
        return list(best.values())

    def _minimal(self) -> list[_Hit]:
        pieces = self.words.clause_pieces
        if pieces and all(
            any(
                p.fullmatch(piece.replace(" ", "") if self.lex.language == "zh" else piece)
                for p in self.lex.minimal_answers
            )
            for piece in pieces
        ):
            words = [unit for i, unit in enumerate(self.words.units) if not self.words.is_mark(i)]
            span = (words[0][0], words[-1][1])
            return [_Hit("disengagement", self.lex.minimal_weight, span)]
        return []

    def _sarcasm(self) -> list[_Hit]:
        lead_ins = self._all(self.lex.sarcasm_lead_ins)
        for marker in self._all(self.lex.sarcasm_markers):
            before = self.words.before(marker[0], len(self.words.units))
            if not all(
                any(_inside(self.words.units[i], span) for span in lead_ins) for i in before
            ):
                continue
            contexts = [
                span for span in self._all(self.lex.sarcasm_contexts) if span[0] >= marker[1]
            ]
            if contexts:
                # The complaint adds no weight, only its words to the evidence.
                return [
                    _Hit(self.lex.sarcasm_label, self.lex.sarcasm_weight, marker),
                    _Hit(self.lex.sarcasm_label, 0.0, contexts[0]),
                ]
        return self._sarcastic_close()

    def _sarcastic_close(self) -> list[_Hit]:
        """The last clause alone is a closer ("Typical.") after anything, or a cheerful
        marker ("Brilliant.") after a complaint."""
        words = [i for i in range(len(self.words.units)) if not self.words.is_mark(i)]
        if not words or self.words.clauses[words[-1]] == self.words.clauses[words[0]]:
            return []
        last = self.words.clauses[words[-1]]
        closers = self._all(self.lex.sarcasm_closers)
        for marker in [*closers, *self._all(self.lex.sarcasm_markers)]:
            if self.words.clause_at(marker[0]) != last or not self._alone(marker, last):
                continue
            if marker in closers:
                return [_Hit(self.lex.sarcasm_label, self.lex.sarcasm_weight, marker)]
            contexts = [
                span for span in self._all(self.lex.sarcasm_contexts) if span[1] <= marker[0]
            ]
            if contexts:
                return [
                    _Hit(self.lex.sarcasm_label, self.lex.sarcasm_weight, marker),
                    _Hit(self.lex.sarcasm_label, 0.0, contexts[0]),
                ]
        return []

    def _rules(self) -> list[_Hit]:
        """The structural rules: at most one hit each, where a pattern's conditions hold."""
        hits = []
        for rule in self.lex.rules:
            spans = [span for _, span in self._entries(rule.patterns, self.plain_negators)]
            spans += self._all(rule.regex)
            for span in spans:
                if self._holds(rule, span):
                    hits.append(_Hit(rule.label, rule.weight * self._boost(span[0]), span))
                    break
        return hits

    def _holds(self, rule: Rule, span: Span) -> bool:
        start, end = span
        if self._negated(start) or self._negated_after(end):
            return False
        # A rhetorical question is a question by definition, not the interviewer's probe.
        if not rule.question and self._asked(start):
            return False
        if rule.label in ("frustration", "distress") and self._resolved(end):
            return False
        if self._about(start, end):
            return False
        clause = self.words.clause_at(start)
        if rule.question and not self.words.clause_text(clause).endswith(("?", "？")):
            return False
        if rule.alone and not self._alone(span, clause):
            return False
        if rule.in_clause and not any(
            self.words.clause_at(other[0]) == clause and not _overlaps(other, span)
            for other in self._all(rule.in_clause)
        ):
            return False
        if rule.in_sentence and not any(
            not _overlaps(other, span) for other in self._all(rule.in_sentence)
        ):
            return False
        if rule.speaker and not any(
            not _overlaps(other, span) for other in self._all(self.lex.self_words)
        ):
            return False
        return not rule.after_third_party or any(
            other[1] <= start and self.words.clause_at(other[0]) == clause
            for other in self._all(self.lex.third_parties)
        )

    # --- surroundings --------------------------------------------------------------------

    def _window(self, start: int) -> Span | None:
        """The characters of the negation window before `start`, or None at a clause start."""
        before = self.words.before(start, self.lex.negation_window)
        if not before:
            return None
        return (self.words.units[before[0]][0], start)

    def _negators_before(self, start: int) -> list[Span]:
        """The negators that reach the word at `start`: in its clause, within the window (a
        wide negator anywhere before it), and with no scope break between."""
        window = self._window(start)
        if window is None:
            return []
        clause = self.words.clause_at(start)
        breaks = [
            span
            for span in self._all(self.lex.scope_breaks)
            if span[1] <= start and self.words.clause_at(span[0]) == clause
        ]
        return [
            span
            for span in self.negators
            if span[1] <= start
            and (span[1] > window[0] or span in self.wide)
            and self.words.clauses[self.words.unit_ending(span[1])] == clause
            and not any(span[1] <= other[0] for other in breaks)
        ]

    def _negated(self, start: int) -> bool:
        return len(self._negators_before(start)) % 2 == 1

    def _negator_before(self, start: int) -> Span:
        return self._negators_before(start)[0]

    def _negated_after(self, end: int) -> bool:
        following = {self.words.units[i][0] for i in self.words.after(end, self.lex.post_window)}
        return any(span[0] in following for span in self._all(self.lex.post_negations))

    def _resolved(self, end: int) -> bool:
        return any(span[0] >= end for span in self._all(self.lex.resolutions))

    def _somebody_else(self, start: int) -> bool:
        clause = self.words.clause_at(start)
        in_clause = [
            span
            for span in self._all(self.lex.third_parties)
            if span[1] <= start and self.words.clause_at(span[0]) == clause
        ]
        return bool(in_clause) and not self._mentions_self(clause)

    def _about(self, start: int, end: int) -> bool:
        """The feeling is a subject talked about ("stress levels on the ward", 关于员工倦怠的
        问题), not the speaker's own."""
        following = {self.words.units[i][0] for i in self.words.after(end, 2)}
        if any(span[0] in following for span in self._all(self.lex.topic_after)):
            return True
        clause = self.words.clause_at(start)
        return any(
            self.words.clause_at(span[0]) == clause for span in self._all(self.lex.topic_words)
        ) and not self._mentions_self(clause)

    def _echoed(self, start: int, end: int) -> bool:
        """The cue word alone is a question answered no right after ("Worried? No, …")."""
        clause = self.words.clause_at(start)
        if not self.words.clause_text(clause).endswith(("?", "？")):
            return False
        if not self._alone((start, end), clause):
            return False
        following = [
            i
            for i, other in enumerate(self.words.clauses)
            if other == clause + 1 and not self.words.is_mark(i)
        ]
        return bool(following) and any(
            span[0] == self.words.units[following[0]][0]
            for span in self._all(self.lex.echo_answers)
        )

    def _alone(self, span: Span, clause: int) -> bool:
        """Every word of the clause is inside `span` or a filler (吧, "oh")."""
        for i, other in enumerate(self.words.clauses):
            if other != clause or self.words.is_mark(i):
                continue
            unit = self.words.units[i]
            if _inside(unit, span) or self.words.span_text(*unit).strip() in self.lex.fillers:
                continue
            return False
        return True

    def _asked(self, start: int) -> bool:
        """The clause is a question to the other person (你最近压力大吗?), not a feeling."""
        clause = self.words.clause_at(start)
        text = self.words.clause_text(clause)
        return any(p.search(text) for p in self.lex.probe_questions) and not self._mentions_self(
            clause
        )

    def _mentions_self(self, clause: int) -> bool:
        return any(
            self.words.clause_at(span[0]) == clause for span in self._all(self.lex.self_words)
        )

    def _boost(self, start: int) -> float:
        window = self._window(start)
        if window is None:
            return 1.0
        factor = 1.0
        for spans in (self.intensifiers, self.diminishers):
            for span, weight in spans:
                if window[0] <= span[0] and span[1] <= start:
                    factor *= weight
        return min(factor, MAX_BOOST)

    # --- helpers -------------------------------------------------------------------------

    def _entries(
        self, entries: tuple[Entry, ...], negators: list[Span]
    ) -> list[tuple[Entry, Span]]:
        """Where the entries match, except where a negator stands in a gap."""
        found = []
        for entry in entries:
            for match in self.words.matches(entry.pattern):
                gaps = [match.span(group) for group in range(1, (match.lastindex or 0) + 1)]
                if not any(_inside(negator, gap) for gap in gaps for negator in negators):
                    found.append((entry, match.span()))
        return found

    def _all_text(self, texts: frozenset[str]) -> list[Span]:
        """Where the texts stand, inside words or not."""
        return [
            (m.start(), m.end())
            for text in texts
            for m in re.finditer(re.escape(text), self.words.text)
        ]

    def _all(self, patterns: tuple[re.Pattern[str], ...]) -> list[Span]:
        """Where any of the patterns matches whole words (read once per sentence)."""
        key = id(patterns)
        if key not in self._found:
            self._found[key] = sorted({span for p in patterns for span in self.words.find(p)})
        return self._found[key]

    def _weighted(
        self, pairs: tuple[tuple[re.Pattern[str], float], ...]
    ) -> list[tuple[Span, float]]:
        found = {span: weight for pattern, weight in pairs for span in self.words.find(pattern)}
        kept = _longest(list(found))
        return [(span, found[span]) for span in kept]

    def _evidence(self, spans: list[Span]) -> str:
        texts: list[str] = []
        for start, end in _longest(spans):
            piece = self.words.span_text(start, end).strip()
            if piece and piece not in texts:
                texts.append(piece)
        return EVIDENCE_SEPARATOR[self.lex.language].join(texts)


def _inside(span: Span, other: Span) -> bool:
    return other[0] <= span[0] and span[1] <= other[1]


def _overlaps(span: Span, other: Span) -> bool:
    return span[0] < other[1] and other[0] < span[1]


def _longest(spans: list[Span]) -> list[Span]:
    """Spans that do not overlap, the longer kept where two do."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if not any(_overlaps(span, other) for other in kept):
            kept.append(span)
    return sorted(kept)


def _without_contained(hits: list[tuple[Entry, Span]]) -> list[tuple[Entry, Span]]:
    """Of two matches of the same label, one inside the other, only one counts: the heavier,
    or the longer at equal weight (烦死, not 烦 in it; "look bad because", not the looser
    "figures … because" around it)."""

    def beaten(entry: Entry, span: Span) -> bool:
        return any(
            other.label == entry.label
            and other_span != span
            and (
                (_inside(span, other_span) and other.weight >= entry.weight)
                or (_inside(other_span, span) and other.weight > entry.weight)
            )
            for other, other_span in hits
        )

    return [(entry, span) for entry, span in hits if not beaten(entry, span)]
