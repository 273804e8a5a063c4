"""A small lexicon check for the user's emotional state, so the companion answers feelings first.

Deliberately simple and deterministic (it runs on every message, before the LLM): it only decides
whether the reply must open by acknowledging how the user feels. The LLM extractor records the
emotional state as a memory with the nuance a lexicon lacks."""

from __future__ import annotations

import re

NEGATIVE = {
    "sad": ["sad", "depressed", "down", "unhappy", "miserable", "heartbroken", "lonely", "cry", "crying", "伤心", "难过",
            "失落", "孤独", "想哭", "哭了", "沮丧", "心碎", "抑郁", "委屈"],
    "anxious": ["anxious", "worried", "nervous", "stressed", "overwhelmed", "scared", "afraid", "panic", "焦虑", "担心",
                "紧张", "压力", "害怕", "慌", "崩溃", "睡不着"],
    "angry": ["angry", "furious", "annoyed", "frustrated", "pissed", "hate", "生气", "气死", "烦死", "愤怒", "讨厌", "受够"],
    "tired": ["exhausted", "tired", "burned out", "burnt out", "drained", "累死", "好累", "疲惫", "心累", "太累"],
}
POSITIVE = {"happy": ["happy", "excited", "thrilled", "great news", "so glad", "开心", "高兴", "太好了", "激动", "兴奋"]}
_NEGATIONS = re.compile(r"\b(not|never|no longer|isn't|wasn't|don't)\s+(\w+\s+)?$", re.I)


def detect(text: str) -> str | None:
    """'sad' | 'anxious' | 'angry' | 'tired' | 'happy' | None."""
    low = text.lower()
    for label, words in list(NEGATIVE.items()) + list(POSITIVE.items()):
        for w in words:
            if w.isascii():
                for m in re.finditer(r"\b" + re.escape(w) + r"\b", low):
                    if not _NEGATIONS.search(low[: m.start()]):
                        return label
            elif w in text and not re.search(r"(不|没)" + re.escape(w[:1]), text):
                return label
    return None


def instruction(label: str | None) -> str:
    if label is None:
        return ""
    if label == "happy":
        return "\nThe user sounds happy: share their joy before anything else."
    return (f"\nThe user sounds {label}. Before solving anything, first acknowledge how they feel in one warm "
            "sentence; only then help, briefly.")
