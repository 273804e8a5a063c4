"""Chinese-aware tokenization for BM25: jieba search mode, stopwords, English lower-casing and stemming."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+(?:[.'’+#-][0-9A-Za-z]+)*|[\u3400-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_lock = threading.Lock()
ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be been but by for from has have he her his i if in into is it its me my no not of on or "
    "our she so than that the their them then there these they this those to too us was we were what when where "
    "which who whom why will with would you your do does did can could should shall may might must am being had "
    "having how all any both each few more most other some such only own same very just over under again once".split()
)
_jieba: Any = None


def jieba_module() -> Any:
    """jieba, imported and initialised once (quietly)."""
    global _jieba
    with _lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    import stopwordsiso

    # stopwords-iso's English list (1,300 words, "run" and "show" among them) is too eager for search;
    # English uses the short list of function words below.
    words = set(stopwordsiso.stopwords("zh")) | ENGLISH_STOPWORDS
    # Words that carry meaning in questions about notes stay searchable.
    words -= {"不", "没有", "多少", "哪里", "时间", "第一", "第二", "第三"}
    return frozenset(words)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for lexical indexing and querying (the same function for both)."""
    stop = stopwords()
    stem = _stemmer().stemWord
    out: list[str] = []
    for m in _WORD.finditer(text):
        piece = m.group(0)
        if _CJK.match(piece):
            for tok in jieba_module().cut_for_search(piece):
                if tok not in stop:
                    out.append(tok)
        else:
            low = piece.lower()
            if low in stop:
                continue
            out.append(stem(low) if low.isalpha() else low)
    return out
