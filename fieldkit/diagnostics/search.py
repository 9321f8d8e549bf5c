"""Ranked symptom search over every fault table: Chinese, English, pinyin and codes.

A technician types what the customer said (``不显示``), what they saw in English
(``no display``), pinyin initials on a laptop without an IME (``bxs``), or a code
(``ERR-1``). Every entry is indexed by field, each field with a weight:

=========  ======  ==============================================
field      weight  text
=========  ======  ==============================================
code       100     ``codes`` (compared through :func:`normalize_code`)
symptom    10      the symptom as the manual words it
display    8       words the device shows (故障, 关阀, SLEEP)
meaning    6       what a code means
cause      4       each cause
device     3       brand, family and key (so ``美华 不显示`` narrows)
remedy     2       remedies, procedure titles and steps, emergency steps
note       1       the entry's note
=========  ======  ==============================================

Matching, per query word (all words must match somewhere, except in English where a
partial match of at least half the words is kept, ranked lower):

- Chinese: the word as a substring (score = weight, plus a bonus for a tight match);
  then with negations folded (不/没/未 → 无, so 不显示 finds 控制器上电无显示, at 0.9);
  a negation up to three characters before the rest (不显示 finds 无任何显示, at 0.8);
  then, if nothing matched, character bigrams (at least 60 % of them, at half weight).
- English: word tokens with light stemming and a few synonyms (nothing/none/not → no);
  a phrase match of the whole query earns a bonus.
- Pinyin: only for an ASCII query that found nothing in English (pypinyin is imported and
  the pinyin of the catalog computed on first use, then kept in memory and in a small
  JSON cache file, so later processes need not import pypinyin), and only over symptoms,
  display words, meanings, causes and device names: full pinyin starting on a syllable
  (``xianshi``) at 0.85, initials (``bxs``) at 0.7.

Search corpora are built once per catalog: each field's texts joined into one string, so a
query word is found with ``str.find`` over the whole catalog (C speed) rather than by
looping over entries in Python.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldkit.diagnostics.models import Device, FaultEntry
from fieldkit.diagnostics.normalize import looks_like_code, normalize_code

WEIGHTS: dict[str, float] = {
    "code": 100.0,
    "symptom": 10.0,
    "display": 8.0,
    "meaning": 6.0,
    "cause": 4.0,
    "device": 3.0,
    "remedy": 2.0,
    "note": 1.0,
}
_TEXT_FIELDS = [f for f in WEIGHTS if f != "code"]
_EN_LABEL = {f: f"{f}:en" for f in WEIGHTS}
# Pinyin is for what a technician would type from memory: not remedies or notes.
_PINYIN_FIELDS = ["symptom", "display", "meaning", "cause", "device"]

_NEGATIONS = str.maketrans({"不": "无", "没": "无", "沒": "无", "未": "无"})
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "on",
        "in",
        "is",
        "are",
        "be",
        "or",
        "and",
        "to",
        "at",
        "with",
        "when",
        "after",
        "for",
        "it",
        "its",
        "by",
        "from",
        "as",
        "this",
        "that",
        "does",
        "do",
        "was",
        "were",
        "has",
        "have",
    ]
)
_SYNONYMS = {
    "nothing": "no",
    "none": "no",
    "not": "no",
    "without": "no",
    "blank": "no",
    "lcd": "display",
    "screen": "display",
    "displays": "display",
    "shown": "display",
    "show": "display",
    "shows": "display",
}
_SEP = "\x00"


@dataclass(frozen=True)
class SearchHit:
    """One ranked result: the entry, its score and the field that matched best.

    ``matched_on`` is ``"code"`` or ``"<field>:<how>"`` with field one of symptom, display,
    meaning, cause, device, remedy, note and how one of zh, en, pinyin, initials.
    """

    entry: FaultEntry
    score: float
    matched_on: str


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def stem(word: str) -> str:
    word = _SYNONYMS.get(word, word)
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def english_tokens(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(_fold(text))]


class _Corpus:
    """All texts of one field joined by NUL, with the owner entry of each text."""

    def __init__(self, texts: list[tuple[int, str]]):
        self.owner = [owner for owner, _ in texts]
        self.lengths = [len(text) for _, text in texts]
        self.starts: list[int] = []
        pos = 0
        for _, text in texts:
            self.starts.append(pos)
            pos += len(text) + 1
        self.text = _SEP.join(text for _, text in texts)

    def find_all(self, needle: str) -> Iterable[tuple[int, int, int]]:
        """(text index, offset in that text, text length) for every occurrence."""
        if not needle:
            return
        find, starts = self.text.find, self.starts
        pos = find(needle)
        while pos >= 0:
            i = bisect_right(starts, pos) - 1
            yield i, pos - starts[i], self.lengths[i]
            pos = find(needle, pos + 1)


def to_pinyin(text: str) -> list[str]:
    """The pinyin syllables of the Chinese characters in ``text``, lower case."""
    from pypinyin import Style, lazy_pinyin  # slow import (~0.15 s): only when needed

    return [
        s.lower()
        for s in lazy_pinyin(text, style=Style.NORMAL, errors="ignore")
        if s.isascii() and s.isalpha()
    ]


PINYIN_CACHE_FORMAT = 1


def read_pinyin_cache(path: Path | None) -> dict[str, list[str]]:
    """Syllables computed by an earlier run; an unreadable or foreign file is ignored."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != PINYIN_CACHE_FORMAT:
        return {}
    texts = data.get("texts")
    if not isinstance(texts, dict):
        return {}
    return {
        k: v
        for k, v in texts.items()
        if isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
    }


def write_pinyin_cache(path: Path | None, texts: dict[str, list[str]]) -> None:
    """Keep the syllables for the next run (temp file + replace); failures are ignored."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"format": PINYIN_CACHE_FORMAT, "texts": texts}, ensure_ascii=False),
            encoding="utf-8",
        )
        os.replace(tmp, path)
    except OSError:
        pass


class _PinyinCorpus:
    """Full pinyin (with syllable starts) and initials of one field's Chinese texts."""

    def __init__(self, texts: list[tuple[int, str]], memo: dict[str, list[str]]):
        full: list[tuple[int, str]] = []
        initials: list[tuple[int, str]] = []
        self.boundaries: set[int] = set()
        pos = 0
        for owner, text in texts:
            syllables = memo.get(text)
            if syllables is None:
                syllables = memo[text] = to_pinyin(text)
            joined = ""
            for syllable in syllables:
                self.boundaries.add(pos + len(joined))
                joined += syllable
            full.append((owner, joined))
            initials.append((owner, "".join(s[0] for s in syllables)))
            pos += len(joined) + 1
        self.full = _Corpus(full)
        self.initials = _Corpus(initials)


@dataclass(slots=True)
class _Match:
    score: float = 0.0
    how: str = ""


class SearchIndex:
    """The search index of a list of (entry, device) pairs in catalog order."""

    def __init__(
        self, items: Sequence[tuple[FaultEntry, Device]], pinyin_cache: Path | None = None
    ):
        self.pinyin_cache = pinyin_cache
        self.entries = [entry for entry, _ in items]
        self.devices = [device.key for _, device in items]
        zh: dict[str, list[tuple[int, str]]] = {f: [] for f in _TEXT_FIELDS}
        en: dict[str, list[tuple[int, str]]] = {f: [] for f in _TEXT_FIELDS}
        self.codes: dict[str, list[int]] = {}
        for idx, (entry, device) in enumerate(items):
            for code in entry.codes:
                self.codes.setdefault(normalize_code(code), []).append(idx)
            for name, texts in _entry_texts(entry, device):
                for text in texts:
                    if isinstance(text, str):
                        zh[name].append((idx, _fold(text)))
                        en[name].append((idx, _fold(text)))
                    else:
                        zh[name].append((idx, _fold(text.zh)))
                        en[name].append((idx, _fold(text.en)))
        self._zh_texts = zh
        self.zh = {f: _Corpus(t) for f, t in zh.items()}
        self.zh_neg = {
            f: _Corpus([(o, s.translate(_NEGATIONS)) for o, s in t]) for f, t in zh.items()
        }
        self.en = {f: _Corpus(t) for f, t in en.items()}
        self.tokens: dict[str, dict[int, str]] = {}  # token → entry → best field
        for name in _TEXT_FIELDS:  # in weight order, so the first field seen is the best
            for owner, text in en[name]:
                for token in english_tokens(text):
                    self.tokens.setdefault(token, {}).setdefault(owner, name)
        self._pinyin: dict[str, _PinyinCorpus] | None = None

    # -- pinyin, built on first use ---------------------------------------------------
    @property
    def pinyin_ready(self) -> bool:
        return self._pinyin is not None

    def pinyin(self) -> dict[str, _PinyinCorpus]:
        if self._pinyin is None:
            # Each text converted once (the same text can sit in many entries), and kept on
            # disk so the next process need not import pypinyin at all.
            cached = read_pinyin_cache(self.pinyin_cache)
            memo = dict(cached)
            self._pinyin = {
                f: _PinyinCorpus([(o, s) for o, s in self._zh_texts[f] if has_cjk(s)], memo)
                for f in _PINYIN_FIELDS
            }
            if len(memo) != len(cached):
                used = {s for f in _PINYIN_FIELDS for _o, s in self._zh_texts[f] if has_cjk(s)}
                write_pinyin_cache(self.pinyin_cache, {t: memo[t] for t in used})
        return self._pinyin

    # -- search -----------------------------------------------------------------------
    def search(
        self, query: str, limit: int = 20, devices: set[str] | None = None
    ) -> list[SearchHit]:
        text = _fold(query).strip()
        if not text:
            return []
        words = text.split()
        results: dict[int, _Match] = {}

        # A code typed as the whole query (also "ERR 1", "AL 01").
        if looks_like_code(text):
            for idx in self.codes.get(normalize_code(text), []):
                results[idx] = _Match(WEIGHTS["code"], "code")

        per_word: list[dict[int, _Match]] = []
        english_words: list[str] = []
        for word in words:
            if has_cjk(word):
                per_word.append(self._chinese(word))
            else:
                found = self._code_word(word)
                if found:
                    per_word.append(found)
                else:
                    english_words.append(word)
        english = self._english(english_words, text) if english_words else {}
        if english_words and not english and not per_word:
            joined = "".join(w for w in english_words if w.isalpha())
            if len(joined) >= 2 and joined.isascii():
                english = self._pinyin_match(joined)
        if english_words:
            per_word.append(english)

        if per_word:
            combined = _intersect(per_word)
            if not results:
                results = combined
            else:
                for idx, match in combined.items():
                    best = results.get(idx)
                    if best is None or match.score > best.score:
                        results[idx] = match
        if devices is not None:
            results = {i: m for i, m in results.items() if self.devices[i] in devices}
        top = heapq.nsmallest(limit, results.items(), key=lambda item: (-item[1].score, item[0]))
        return [SearchHit(self.entries[idx], round(m.score, 3), m.how) for idx, m in top]

    def _code_word(self, word: str) -> dict[int, _Match]:
        if not looks_like_code(word) or not any(ch.isdigit() for ch in word):
            return {}
        return {
            idx: _Match(WEIGHTS["code"], "code") for idx in self.codes.get(normalize_code(word), [])
        }

    def _chinese(self, word: str) -> dict[int, _Match]:
        found: dict[int, _Match] = {}
        folded_word = word.translate(_NEGATIONS)
        # Folding only changes texts at negation characters; without one in the word, the
        # folded corpus finds exactly what the plain one finds.
        passes = [(self.zh, word, 1.0)]
        if folded_word != word or "无" in word:
            passes.append((self.zh_neg, folded_word, 0.9))
        for corpora, needle, factor in passes:
            for name in _TEXT_FIELDS:
                _scan(corpora[name], needle, WEIGHTS[name] * factor, f"{name}:zh", found)
        if folded_word.startswith("无") and len(folded_word) > 1:
            # A negation a few characters before the rest: 不显示 ~ 无任何显示.
            gap = re.compile("无[\u4e00-\u9fff]{1,3}?" + re.escape(folded_word[1:]))
            for name in _TEXT_FIELDS:
                corpus = self.zh_neg[name]
                weight = WEIGHTS[name] * 0.8
                for match in gap.finditer(corpus.text):
                    i = bisect_right(corpus.starts, match.start()) - 1
                    idx = corpus.owner[i]
                    score = weight * (1 + 0.5 * len(word) / corpus.lengths[i])
                    if idx not in found or score > found[idx].score:
                        found[idx] = _Match(score, f"{name}:zh")
        if found:
            return found
        bigrams = {folded_word[i : i + 2] for i in range(len(folded_word) - 1)}
        if len(bigrams) < 2:
            return found
        for name in _TEXT_FIELDS:
            corpus = self.zh_neg[name]
            seen: dict[int, set[str]] = {}
            for bigram in bigrams:
                for i, _o, _l in corpus.find_all(bigram):
                    seen.setdefault(corpus.owner[i], set()).add(bigram)
            for idx, got in seen.items():
                fraction = len(got) / len(bigrams)
                score = WEIGHTS[name] * 0.5 * fraction
                if fraction >= 0.6 and (idx not in found or score > found[idx].score):
                    found[idx] = _Match(score, f"{name}:zh")
        return found

    def _english(self, words: list[str], phrase: str) -> dict[int, _Match]:
        tokens = [stem(w) for w in _WORD.findall(" ".join(words))]
        tokens = [t for t in tokens if t not in _STOPWORDS] or tokens
        if not tokens:
            return {}
        unique = list(dict.fromkeys(tokens))
        scores: dict[int, list[Any]] = {}  # entry → [score, best weight, best field, words]
        for token in unique:
            for idx, name in self.tokens.get(token, {}).items():
                weight = WEIGHTS[name]
                record = scores.get(idx)
                if record is None:
                    scores[idx] = [weight, weight, name, 1]
                else:
                    record[0] += weight
                    record[3] += 1
                    if weight > record[1]:
                        record[1], record[2] = weight, name
        wanted = len(unique)
        meaningful = [t for t in unique if t != "no"]
        result: dict[int, _Match] = {}
        for idx, (score, _weight, name, count) in scores.items():
            if count < wanted:
                fraction = count / wanted
                if fraction < 0.5 or not any(idx in self.tokens.get(t, ()) for t in meaningful):
                    continue
                score *= fraction * fraction
            result[idx] = _Match(score, _EN_LABEL[name])
        # Phrase bonus: the whole query as written inside one text.
        if len(tokens) > 1:
            for name in _TEXT_FIELDS:
                for i, _o, _l in self.en[name].find_all(phrase):
                    idx = self.en[name].owner[i]
                    if idx in result:
                        result[idx].score += WEIGHTS[name]
        return result

    def _pinyin_match(self, letters: str) -> dict[int, _Match]:
        found: dict[int, _Match] = {}
        for name, corpus in self.pinyin().items():
            weight = WEIGHTS[name]
            for i, offset, length in corpus.full.find_all(letters):
                if corpus.full.starts[i] + offset in corpus.boundaries:
                    idx = corpus.full.owner[i]
                    score = weight * 0.85 * (1 + 0.5 * len(letters) / max(length, 1))
                    if idx not in found or score > found[idx].score:
                        found[idx] = _Match(score, f"{name}:pinyin")
            for i, _offset, length in corpus.initials.find_all(letters):
                idx = corpus.initials.owner[i]
                score = weight * 0.7 * (1 + 0.5 * len(letters) / max(length, 1))
                if idx not in found or score > found[idx].score:
                    found[idx] = _Match(score, f"{name}:initials")
        return found


def _scan(corpus: _Corpus, needle: str, weight: float, how: str, found: dict[int, _Match]) -> None:
    """Offer every text of ``corpus`` containing ``needle``; tighter matches score higher.

    Inlined loop (no generator, one hit per text): common words hit thousands of texts
    in a large catalog, and this is the hot path of every Chinese query.
    """
    text, starts, lengths, owner = corpus.text, corpus.starts, corpus.lengths, corpus.owner
    find = text.find
    half = 0.5 * len(needle)
    last = len(starts) - 1
    pos = find(needle)
    while pos >= 0:
        i = bisect_right(starts, pos) - 1
        idx = owner[i]
        score = weight * (1 + half / lengths[i])
        current = found.get(idx)
        if current is None or score > current.score:
            found[idx] = _Match(score, how)
        if i >= last:
            break
        pos = find(needle, starts[i + 1])


def _intersect(per_word: list[dict[int, _Match]]) -> dict[int, _Match]:
    """Entries matched by every word; scores add, the best field names the match."""
    if not per_word:
        return {}
    if len(per_word) == 1:
        return per_word[0]
    common = set(per_word[0])
    for found in per_word[1:]:
        common &= set(found)
    result: dict[int, _Match] = {}
    for idx in common:
        matches = [found[idx] for found in per_word]
        best = max(matches, key=lambda m: m.score)
        result[idx] = _Match(sum(m.score for m in matches), best.how)
    return result


def _entry_texts(entry: FaultEntry, device: Device) -> list[tuple[str, list[Any]]]:
    remedies: list[Any] = [*entry.remedies, *entry.emergency]
    for cause in entry.causes:
        remedies.extend(cause.remedies)
    for procedure in entry.procedures:
        remedies.append(procedure.title)
        remedies.extend(procedure.steps)
    return [
        ("symptom", [entry.symptom]),
        ("display", list(entry.display)),
        ("meaning", [entry.meaning] if entry.meaning else []),
        ("cause", [cause.text for cause in entry.causes]),
        ("device", [device.brand, device.family, device.key]),
        ("remedy", remedies),
        ("note", [entry.note] if entry.note else []),
        ("note", [cause.note for cause in entry.causes if cause.note is not None]),
    ]
