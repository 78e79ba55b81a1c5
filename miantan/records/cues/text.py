"""Text into words: jieba segmentation for Chinese, a small tokeniser with contractions for
English. Cue entries are found with regular expressions on the normalised text and kept only
when they begin and end where a word does, so that 烦 is not read inside 麻烦 nor "mad" inside
"made"."""

from __future__ import annotations

import bisect
import itertools
import logging
import os
import re
import tempfile
import threading
import unicodedata
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .lexicon import Lexicon

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ENGLISH_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|\S")
SUFFIXES = re.compile(r"(?<=[a-z])('[a-z]+|n't)\b")

_segmenter: Any = None
_segmenter_lock = threading.Lock()


def language_of(text: str, language: str | None = None) -> str:
    """ "zh" or "en": the language named ("zh-hans" is "zh"), else Chinese when the text holds
    Chinese characters."""
    if language:
        code = language.lower()
        if code.startswith("zh"):
            return "zh"
        if code.startswith("en"):
            return "en"
    return "zh" if CJK.search(text) else "en"


@dataclass
class Words:
    """The normalised text, its words (as character spans) and the clause of each word."""

    text: str
    units: list[tuple[int, int]]
    clauses: list[int]
    clause_marks: frozenset[str]
    starts: dict[int, int] = field(init=False)
    ends: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.starts = {start: i for i, (start, _) in enumerate(self.units)}
        self.ends = {end: i for i, (_, end) in enumerate(self.units)}

    def find(self, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
        """The spans where the pattern matches whole words."""
        return [m.span() for m in self.matches(pattern)]

    def matches(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return [
            m
            for m in pattern.finditer(self.text)
            if m.end() > m.start() and m.start() in self.starts and m.end() in self.ends
        ]

    def unit_ending(self, end: int) -> int:
        """The word that holds the character before `end`."""
        return bisect.bisect_right(self.unit_starts, end - 1) - 1

    @cached_property
    def unit_starts(self) -> list[int]:
        return [start for start, _ in self.units]

    def clause_at(self, start: int) -> int:
        return self.clauses[self.starts[start]]

    def before(self, start: int, count: int) -> list[int]:
        """Up to `count` words right before the word at `start`, in its clause."""
        index = self.starts[start]
        clause = self.clauses[index]
        found: list[int] = []
        for i in range(index - 1, -1, -1):
            if self.clauses[i] != clause or len(found) == count:
                break
            if not self.is_mark(i):
                found.append(i)
        return found[::-1]

    def after(self, end: int, count: int) -> list[int]:
        """Up to `count` words right after the word that ends at `end`, in its clause."""
        index = self.unit_ending(end)
        clause = self.clauses[index]
        found: list[int] = []
        for i in range(index + 1, len(self.units)):
            if self.clauses[i] != clause or len(found) == count:
                break
            if not self.is_mark(i):
                found.append(i)
        return found

    def clause_text(self, clause: int) -> str:
        """The clause with the mark that ends it ("压力大吗?")."""
        indices = [i for i, c in enumerate(self.clauses) if c == clause]
        start = self.units[indices[0]][0]
        end = self.units[indices[-1]][1]
        following = indices[-1] + 1
        if following < len(self.units) and self.is_mark(following):
            end = self.units[following][1]
        return self.text[start:end].strip()

    def span_text(self, start: int, end: int) -> str:
        return self.text[start:end]

    def is_mark(self, index: int) -> bool:
        start, end = self.units[index]
        return all(ch in self.clause_marks or ch.isspace() for ch in self.text[start:end])

    @cached_property
    def clause_pieces(self) -> list[str]:
        """The text cut at every clause mark, for the minimal-answer patterns."""
        pieces: list[str] = []
        current: list[str] = []
        for ch in self.text:
            if ch in self.clause_marks:
                pieces.append("".join(current))
                current = []
            else:
                current.append(ch)
        pieces.append("".join(current))
        return [" ".join(piece.split()) for piece in pieces if piece.strip()]


def read(text: str, lexicon: Lexicon) -> Words:
    """The words of a text in the lexicon's language."""
    normal = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    if lexicon.language == "zh":
        units = _chinese_units(normal, lexicon)
    else:
        normal = _expand(normal, lexicon)
        units = [(m.start(), m.end()) for m in ENGLISH_WORD.finditer(normal)]
    clauses = _clauses(normal, units, lexicon)
    return Words(normal, units, clauses, lexicon.clause_marks)


def _expand(text: str, lexicon: Lexicon) -> str:
    """English contractions written out: "don't" → "do not", "it's" → "it is"."""
    if lexicon.contractions:
        words = "|".join(re.escape(k) for k in sorted(lexicon.contractions, key=len, reverse=True))
        text = re.sub(rf"\b({words})\b", lambda m: lexicon.contractions[m.group(1)], text)
    suffixes = lexicon.contraction_suffixes
    return SUFFIXES.sub(lambda m: suffixes.get(m.group(1), m.group(1)), text)


def _chinese_units(text: str, lexicon: Lexicon) -> list[tuple[int, int]]:
    """jieba's words, with a leading negator or intensifier and a trailing particle cut off
    (很烦 → 很 烦, 不开心 → 不 开心, 烦了 → 烦 了) unless the word is one of the lexicon's."""
    units: list[tuple[int, int]] = []
    for word, start, end in segmenter().tokenize(text):
        if word.isspace():
            continue
        cuts = [start, end]
        if word not in lexicon.words:
            cuts.extend(_prefix_cuts(word, start, lexicon))
            cuts.extend(_particle_cuts(word, end, lexicon))
        edges = sorted(set(cuts))
        units.extend(itertools.pairwise(edges))
    return units


def _prefix_cuts(word: str, start: int, lexicon: Lexicon) -> list[int]:
    cuts, rest, at = [], word, start
    while len(rest) > 1:
        prefix = next((p for p in lexicon.split_prefixes if rest.startswith(p)), None)
        if prefix is None or prefix == rest or rest in lexicon.words:
            break
        at += len(prefix)
        rest = rest[len(prefix) :]
        cuts.append(at)
    return cuts


def _particle_cuts(word: str, end: int, lexicon: Lexicon) -> list[int]:
    cuts, rest, at = [], word, end
    while len(rest) > 1 and rest[-1] in lexicon.particles and rest not in lexicon.words:
        at -= 1
        rest = rest[:-1]
        cuts.append(at)
    return cuts


def _clauses(text: str, units: list[tuple[int, int]], lexicon: Lexicon) -> list[int]:
    """The clause number of each word: a mark ends a clause, a word such as 但是 or "but"
    begins one."""
    clauses, clause, closed = [], 0, False
    for start, end in units:
        piece = text[start:end]
        is_mark = all(ch in lexicon.clause_marks for ch in piece)
        if (closed and not is_mark) or piece in lexicon.clause_words:
            clause += 1
        closed = is_mark
        clauses.append(clause)
    return clauses


def segmenter() -> Any:
    """jieba with its own dictionary, loaded once on first use. Its dictionary cache is written
    under VAR_DIR (the system's temporary folder without one), and it prints nothing."""
    global _segmenter
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                with warnings.catch_warnings():
                    # jieba 0.42 has regular expressions Python now warns about.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    import jieba

                logging.getLogger("jieba").setLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.tmp_dir = str(_cache_dir())
                tokenizer.initialize()
                _segmenter = tokenizer
    return _segmenter


def _cache_dir() -> Path:
    from django.conf import settings

    folder = Path(getattr(settings, "VAR_DIR", tempfile.gettempdir())) / "cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path(tempfile.gettempdir())
    return folder if os.access(folder, os.W_OK) else Path(tempfile.gettempdir())
