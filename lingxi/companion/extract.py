"""LLM memory extraction and reflection, JSON-schema constrained so a small model cannot break them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lingxi.companion.memory import Memory
from lingxi.companion.timeexpr import annotate, fmt_day
from lingxi.llm.chat import ChatModel
from lingxi.prompting import load_prompt

PROMPTS = Path(__file__).parent / "prompts"
# Capitalised words a memory may use without them occurring in the turns it comes from.
COMMON = {"the", "user", "he", "she", "they", "his", "her", "their", "a", "an", "on", "in", "at", "it", "this",
          "that", "and", "but", "when", "after", "before", "during", "since", "for", "with", "i", "we", "week",
          "weekend", "january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
          "sunday"}


def grounded(memory: str, source: str) -> bool:
    """False when the memory names something (a capitalised word or a number) that its turns never mention —
    how a small model invents a pet's name or a date. Chinese text passes (no reliable cheap check)."""
    low = source.lower()
    for w in re.findall(r"\b[A-Z][A-Za-z'-]+\b|\b\d+\b", memory):
        if w.lower() in COMMON:
            continue
        if w.lower().rstrip("'s") not in low and w.lower() not in low:
            return False
    return True
EXTRACT_KINDS = ["fact", "preference", "plan", "event", "relationship", "emotion"]


def prompt(name: str) -> str:
    return load_prompt(PROMPTS, name)


@dataclass(frozen=True)
class Turn:
    ref: str
    speaker: str
    text: str


def extraction_schema(turn_ids: Sequence[str], max_items: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"memories": {"type": "array", "maxItems": max_items, "items": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": EXTRACT_KINDS},
                "text": {"type": "string"},
                "importance": {"type": "integer", "minimum": 1, "maximum": 10},
                "slot": {"type": "string"},
                "turns": {"type": "array", "maxItems": 4, "items": {"type": "string", "enum": list(turn_ids)}},
            },
            "required": ["kind", "text", "importance", "slot", "turns"],
        }}},
        "required": ["memories"],
    }


def extract(chat: ChatModel, turns: Sequence[Turn], when: datetime, max_items: int = 8) -> list[dict[str, Any]]:
    """Memory items (kind, text, importance, slot, turns) from a window of turns."""
    if not turns:
        return []
    dialogue = "\n".join(f"[{t.ref}] {t.speaker}: {annotate(t.text, when)}" for t in turns)
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    text = prompt("extract").format(date=fmt_day(when.date()), dialogue=dialogue, max_items=max_items,
                                    example_name=speakers[0] if speakers else "the user")
    schema = extraction_schema([t.ref for t in turns], max_items)
    reply = chat.complete_json([{"role": "user", "content": text}], schema, max_tokens=70 * max_items + 40)
    out = []
    valid = {t.ref for t in turns}
    source = f"{dialogue}\n{fmt_day(when.date())}\n{' '.join(speakers)}"
    for m in reply.get("memories", []):
        body = " ".join(str(m.get("text", "")).split())[:300]
        if not body or not grounded(body, source):
            continue
        out.append({"kind": m["kind"], "text": annotate(body, when) if "(" not in body else body,
                    "importance": int(m["importance"]), "slot": str(m.get("slot", "")).strip() or None,
                    "turns": [r for r in m.get("turns", []) if r in valid]})
    return out


def reflect(chat: ChatModel, who: str, memories: Sequence[Memory], n: int = 3) -> list[dict[str, Any]]:
    """Higher-level insights with the ids of the memories they rest on."""
    if len(memories) < 2:
        return []
    listing = "\n".join(f"{i}. {m.text}" for i, m in enumerate(memories, 1))
    schema = {"type": "object", "properties": {"insights": {"type": "array", "maxItems": n, "items": {
        "type": "object",
        "properties": {"text": {"type": "string"},
                       "sources": {"type": "array", "maxItems": 8,
                                   "items": {"type": "integer", "minimum": 1, "maximum": len(memories)}}},
        "required": ["text", "sources"]}}}, "required": ["insights"]}
    reply = chat.complete_json([{"role": "user", "content": prompt("reflect").format(
        who=who, n=n, memories=listing)}], schema, max_tokens=80 * n + 40)
    out = []
    for ins in reply.get("insights", []):
        src = sorted({memories[i - 1].id for i in ins.get("sources", []) if 1 <= i <= len(memories)})
        if len(src) >= 2 and str(ins.get("text", "")).strip():
            turns = list(dict.fromkeys(t for m in memories if m.id in src for t in m.turns))
            out.append({"kind": "reflection", "text": " ".join(ins["text"].split()), "sources": src, "turns": turns,
                        "importance": max(m.importance for m in memories if m.id in src)})
    return out
