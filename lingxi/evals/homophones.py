"""Simulated speech-recognition errors: a seeded share of a Chinese text's words replaced by homophones.

A homophone is found, never hand-picked: another common word of jieba's dictionary with the same toneless pinyin,
else the word spelled character by character with other common characters of the same syllable. A replacement has as many characters as the word it replaces, so every character offset of
the clean text stays valid in the noisy one (gold spans carry over)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from lingxi.index.phonetic import syllables
from lingxi.index.tokenize import jieba_module

_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
WORD_FREQ = 200  # dictionary words at least this common can stand in for a word
CHAR_FREQ = 1000  # characters at least this common (as one-character words) can stand in for a character


@dataclass(frozen=True)
class Table:
    words: dict[tuple[str, ...], list[tuple[str, int]]]  # pinyin → common words with that sound, with frequency
    chars: dict[str, list[tuple[str, int]]]  # syllable → common characters with that sound


@lru_cache(maxsize=1)
def table() -> Table:
    freq = jieba_module().dt.FREQ
    words: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    chars: dict[str, list[tuple[str, int]]] = {}
    for w, f in freq.items():
        if not _HAN.match(w):
            continue
        if len(w) == 1 and f >= CHAR_FREQ:
            chars.setdefault(syllables(w)[0], []).append((w, f))
        elif len(w) >= 2 and f >= WORD_FREQ:
            words.setdefault(syllables(w), []).append((w, f))
    return Table(words, chars)


def homophone(word: str, rng: random.Random) -> str | None:
    """Another spelling of ``word`` with the same toneless pinyin and length, or None when there is none."""
    t = table()
    sound = tuple(syllables(word))
    alts = [(w, f) for w, f in t.words.get(sound, []) if w != word]
    if alts:
        return rng.choices([w for w, _ in alts], weights=[f for _, f in alts])[0]
    out = []
    for ch, syl in zip(word, sound):
        cands = [(c, f) for c, f in t.chars.get(syl, []) if c != ch]
        out.append(rng.choices([c for c, _ in cands], weights=[f for _, f in cands])[0] if cands else ch)
    new = "".join(out)
    return new if new != word else None


def corrupt(text: str, rate: float, seed: int) -> tuple[str, int, int]:
    """``text`` with ``rate`` of its Chinese words (jieba's segmentation) replaced by homophones, chosen with
    ``seed``. Returns (noisy text, words replaced, Chinese words in all)."""
    rng = random.Random(seed)
    pieces = list(jieba_module().cut(text))
    han = [i for i, p in enumerate(pieces) if _HAN.match(p)]
    order = han[:]
    rng.shuffle(order)
    want = round(rate * len(han))
    done = 0
    for i in order:
        if done >= want:
            break
        alt = homophone(pieces[i], rng)
        if alt is not None and len(alt) == len(pieces[i]):
            pieces[i] = alt
            done += 1
    return "".join(pieces), done, len(han)
