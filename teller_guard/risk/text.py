"""Finding the rule set's phrases in what the customer said: as words, not substrings.

Customer text is cut into words with jieba (the ``rjieba`` binding of jieba-rs).  A phrase
matches only where it starts and ends on word boundaries, so 卡单 does not fire inside 信用卡单据
and 做单 not inside 做单位.  A phrase the customer negates in the same clause does not count:
不是刷单, 没有做任务, 没有人让我保密.

The segmenter is built once per process, and the phrases of the packaged rule set are added to
its dictionary so that jieba keeps them whole where the context allows.  Only the packaged
phrases: a dictionary that grew with every override a process loads would cut the same text
differently depending on what was loaded before.  A branch override's new phrases are matched
on jieba's own word boundaries.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ahocorasick
import rjieba

# A negation right before a phrase (or with one of BRIDGES between) cancels it: 不是刷单,
# 不是在做任务, 没有被要求保密.  不要/别 are not here on purpose: "不要告诉家人" is the scam's own
# instruction, not a denial.
NEGATIONS = frozenset({
    "不", "不是", "没", "没有", "非", "并非", "不用", "不需要", "无需", "未", "从没", "从没有",
    "从来没", "从来没有", "从不", "并不是", "并没有", "也不是", "都不是", "而不是", "绝不是",
    "不会", "不能", "没法", "别的不",
    # jieba often joins the negation and the verb into one word: 没开屏幕共享, 不交保证金
    "没开", "没说", "没找", "没收", "没交", "没转", "没借", "没买", "没下", "没装", "没点", "没用",
    "不交", "不去", "不买", "不借", "不转", "不吃", "不找", "不装", "不点", "不信",
})
BRIDGES = frozenset({
    "是", "在", "要", "去", "做", "搞", "用", "给", "参加", "玩", "被", "让", "叫", "过", "什么", "啥",
    "任何", "我", "你", "他", "她", "我们", "他们", "对方", "人家", "要求", "说", "需要", "用过", "把",
    "交", "买", "听", "进", "装", "会",
})
MAX_BRIDGES = 2
# "没有人让我保密": a nobody who asked negates what follows in the clause; "没人的时候他让我保密"
# does not (the nobody is not the one asking).
NOBODY = (("没有", "人", "让"), ("没有", "人", "叫"), ("没有", "人", "要求"), ("没", "人", "让"),
          ("没人", "让"), ("没人", "叫"), ("没人", "要求"), ("没有人", "让"), ("没有人", "叫"),
          ("没有人", "要求"), ("没有", "人要"), ("没", "人要"))
CLAUSE_BREAKS = frozenset("，,。.！!？?；;：:、\n…") | {"但", "但是", "可是", "不过", "而是", "就是"}
MAX_PHRASE_LENGTH = 12  # characters; longer entries are refused by the rule loader
# "不交滞纳金就上征信" is a threat, not a denial: a negated phrase followed in its clause by one
# of these is a condition, and counts.
CONDITIONALS = frozenset({"就", "才", "的话", "否则", "不然", "要不然", "就要", "就会"})


def normalize_text(text: str | None) -> str:
    """Fold full-width characters and case and drop whitespace, so 安全 账户 matches 安全账户."""
    if not text:
        return ""
    if not unicodedata.is_normalized("NFKC", text):  # a fast C check; most text already is
        text = unicodedata.normalize("NFKC", text)
    return "".join(text.lower().split())


class Segmenter:
    """A jieba instance, loaded on first use with a fixed list of extra dictionary words."""

    def __init__(self, dictionary_words: Callable[[], Iterable[str]]):
        self._dictionary_words = dictionary_words
        self._lock = threading.Lock()
        self._jieba: rjieba.Jieba | None = None

    def cut(self, text: str) -> list[str]:
        jieba = self._jieba
        if jieba is None:
            jieba = self._load()
        return jieba.cut(text, True)

    def _load(self) -> rjieba.Jieba:
        with self._lock:
            if self._jieba is None:
                jieba = rjieba.Jieba()
                for word in sorted({normalize_text(word) for word in self._dictionary_words()}):
                    if len(word) > 1:
                        jieba.add_word(word, None, None)
                self._jieba = jieba
        return self._jieba


@dataclass(frozen=True)
class Analysis:
    """One normalized text, cut into words, with the phrases of an index found in it."""

    text: str
    words: tuple[str, ...]  # empty when no phrase occurs in the text (it is then not cut)
    found: frozenset[str]  # phrases present and not negated
    negated: frozenset[str]  # phrases present but negated in their clause


EMPTY = Analysis("", (), frozenset(), frozenset())


class PhraseIndex:
    """Every phrase of a rule set, normalized; ``analyze`` finds which of them a text says."""

    def __init__(self, phrases: Iterable[str], segmenter: Segmenter):
        self.phrases = frozenset(normalize_text(phrase) for phrase in phrases if phrase)
        self.segmenter = segmenter
        # One Aho-Corasick scan (in C) finds every occurrence; only those are checked for word
        # boundaries and negation, which keeps the Python work per text to a few matches.
        self._automaton = ahocorasick.Automaton()
        for phrase in self.phrases:
            self._automaton.add_word(phrase, phrase)
        if self.phrases:
            self._automaton.make_automaton()

    def analyze(self, raw: str | None) -> Analysis:
        return self._analyze(normalize_text(raw))

    def analyze_all(self, texts: Iterable[str | None]) -> Analysis:
        """Several fields at once, each its own clause: a phrase never spans two fields."""
        parts = []
        for text in texts:
            if text:
                normalized = normalize_text(text)
                if normalized:
                    parts.append(normalized)
        return self._analyze(parts[0] if len(parts) == 1 else "\n".join(parts))

    def _analyze(self, text: str) -> Analysis:
        if not text:
            return EMPTY
        occurrences = list(self._automaton.iter(text)) if self.phrases else []
        if not occurrences:
            # nothing to check boundaries for: no need to cut the text into words at all
            return Analysis(text, (), frozenset(), frozenset())
        words = self.segmenter.cut(text)
        word_at: dict[int, int] = {}  # character offset where a word starts -> its index
        offset = 0
        for index, word in enumerate(words):
            word_at[offset] = index
            offset += len(word)
        word_at[offset] = len(words)
        found: set[str] = set()
        negated: set[str] = set()
        for last_char, phrase in occurrences:
            end = last_char + 1
            begin = end - len(phrase)
            # a phrase counts only where it starts and ends on word boundaries
            first = word_at.get(begin)
            last = word_at.get(end)
            if first is None or last is None or _inside_latin_or_number(text, begin, end):
                continue
            (negated if _negated(words, first, last) else found).add(phrase)
        # A phrase said once plainly counts even if it is denied elsewhere.
        return Analysis(text, tuple(words), frozenset(found), frozenset(negated - found))


def _conditional(words: list[str], last: int) -> bool:
    """Whether the clause goes on after the phrase with 就/才/否则…: 不交滞纳金就停机."""
    for word in words[last:]:
        if word in CLAUSE_BREAKS:
            return False
        if word in CONDITIONALS:
            return True
    return False


def _is_latin_or_digit(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _inside_latin_or_number(text: str, begin: int, end: int) -> bool:
    """jieba cuts runs of digits and letters around dictionary words (100000 → 10000/0,
    apple → app/le): a phrase starting or ending with a digit or letter must not continue one."""
    return ((begin > 0 and _is_latin_or_digit(text[begin]) and _is_latin_or_digit(text[begin - 1]))
            or (end < len(text) and _is_latin_or_digit(text[end - 1]) and _is_latin_or_digit(text[end])))


def _negated(words: list[str], first: int, last: int) -> bool:
    """Whether the phrase in words[first:last] is denied in its clause."""
    index = first - 1
    for _ in range(MAX_BRIDGES):
        if index >= 0 and words[index] in BRIDGES:
            index -= 1
    if index >= 0 and words[index] in NEGATIONS:
        return not _conditional(words, last)
    clause_start = first
    while clause_start > 0 and words[clause_start - 1] not in CLAUSE_BREAKS:
        clause_start -= 1
    clause = words[clause_start:first]
    if not any("没" in word for word in clause):
        return False  # every NOBODY form starts with 没
    for nobody in NOBODY:
        width = len(nobody)
        for position in range(len(clause) - width + 1):
            if tuple(clause[position:position + width]) == nobody:
                return True
    return False
