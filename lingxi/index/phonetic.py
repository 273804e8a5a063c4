"""How Chinese text sounds, as tokens for a second lexical index: speech recognisers write homophones (捕蛇者说 heard
as 补舌者说), which share no characters with the word meant but all of its syllables.

A run of Han characters becomes its toneless pinyin syllables, and the tokens are adjacent syllable pairs
(``bu0she``, ``she0zhe``, ...): a single syllable matches far too many characters to rank anything, a pair is about
as selective as a two-character word, and pairs do not depend on where a word segmenter put its boundaries (which
moves when a homophone is substituted). Tones are dropped because recognisers get them wrong as often as not.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_lock = threading.Lock()
_pinyin: Callable[..., list[str]] | None = None


def _lazy_pinyin() -> Callable[..., list[str]]:
    global _pinyin
    with _lock:
        if _pinyin is None:
            from pypinyin import lazy_pinyin

            _pinyin = lazy_pinyin
    return _pinyin


@lru_cache(maxsize=65536)
def syllables(run: str) -> tuple[str, ...]:
    """Toneless pinyin of a run of Han characters, one syllable per character."""
    out: list[Any] = _lazy_pinyin()(run, errors=lambda chars: ["?"] * len(chars))
    return tuple(str(s) for s in out)


def phonetic_tokens(text: str) -> list[str]:
    """Adjacent-syllable tokens of every run of Han characters in ``text`` (a one-character run gives its single
    syllable); text without Chinese gives none."""
    out: list[str] = []
    for m in _CJK_RUN.finditer(text):
        syl = [s for s in syllables(m.group(0)) if s.isalpha()]
        if len(syl) == 1:
            out.append(syl[0])
        out.extend(f"{a}0{b}" for a, b in zip(syl, syl[1:]))
    return out
