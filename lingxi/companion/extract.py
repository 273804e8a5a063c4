"""LLM memory extraction and reflection, JSON-schema constrained so a small model cannot break them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lingxi.companion.memory import RELATIONS, USER, Memory
from lingxi.companion.timeexpr import annotate, fmt_day, resolve
from lingxi.index.tokenize import tokenize
from lingxi.llm.chat import ChatModel
from lingxi.prompting import load_prompt
from lingxi.text import is_cjk, written_in

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
ATTRIBUTES = ["", "name", "job", "home", "age", "relationship_status"]
SELF_WORDS = {"user", "the user", "用户", "我", "me", "i", "myself", "you", "你"}
LANGUAGES = {"zh": "Chinese (简体中文)", "en": "English"}


def prompt(name: str) -> str:
    return load_prompt(PROMPTS, name)


@dataclass(frozen=True)
class Turn:
    ref: str
    speaker: str
    text: str


def clauses(text: str) -> list[str]:
    """A turn cut into clauses with some substance (4+ letters or digits; a shorter piece joins its neighbour)."""
    out: list[str] = []
    for piece in re.split(r"(?<=[，。！？；!?;])|(?<=[.,])\s+", text):
        piece = piece.strip()
        if not piece:
            continue
        if out and (sum(ch.isalnum() for ch in piece) < 4 or sum(ch.isalnum() for ch in out[-1]) < 4):
            out[-1] += ("" if is_cjk(out[-1][-1]) or is_cjk(piece[0]) or (not out[-1][-1].isascii() and
                        not piece[0].isascii()) else " ") + piece
        else:
            out.append(piece)
    return out


def units(turns: Sequence[Turn], max_units: int) -> list[tuple[str, str]]:
    """(turn ref, what it says) — the pieces a window is read in: its clauses, or whole turns when the clauses
    would be more than ``max_units``."""
    cut = [(t.ref, c) for t in turns for c in clauses(t.text)]
    if len(cut) <= max_units:
        return cut
    return [(t.ref, " ".join(t.text.split())[:300]) for t in turns]


def reply_budget(chat: ChatModel, pieces: Sequence[str], per_item: int = 80) -> int:
    """Tokens the extraction reply may take: every item first copies its piece (the grammar fixes ``says``), so
    each gets the piece's own tokens on top of ``per_item`` for the memory; a flat budget per item cut long
    windows off mid-JSON."""
    return sum(chat.count_tokens(json.dumps(p, ensure_ascii=False)) + per_item for p in pieces) + 40


def extraction_schema(pieces: Sequence[str]) -> dict[str, Any]:
    """One memory per piece, in order, each opening with the piece itself (fixed by the grammar): the model
    writes about the words it has just copied, instead of repeating its first memory."""
    def item(piece: str) -> dict[str, Any]:
        return {"type": "object", "properties": {
            "says": {"type": "string", "enum": [piece]},
            "kind": {"type": "string", "enum": [*EXTRACT_KINDS, "none"]},
            "about": {"type": "string"},
            "relation": {"type": "string", "enum": list(RELATIONS)},
            "text": {"type": "string"},
            "time": {"type": "string"},
            "attribute": {"type": "string", "enum": ATTRIBUTES},
            "importance": {"type": "integer", "minimum": 1, "maximum": 10},
        }, "required": ["says", "kind", "about", "relation", "text", "time", "attribute", "importance"]}

    return {"type": "object", "properties": {"memories": {"type": "array", "prefixItems": [item(p) for p in pieces]}},
            "required": ["memories"]}


def extract(chat: ChatModel, turns: Sequence[Turn], when: datetime, max_items: int = 8, *,
            user: str | None = "the user", companion: str | None = None, context: Sequence[Turn] = (),
            lang: str | None = None) -> list[dict[str, Any]]:
    """Readable memory items from a window of turns: subject, relation, text in the conversation's language,
    the time it refers to (resolved against the session date), kind, slot, importance, source turns.

    ``user`` is the speaker name of the app's user (their memories get subject ``USER``); ``None`` for a
    transcript between named people, whose own memories take their names. ``context`` turns are shown before
    the window, marked as already read. The companion's own lines are left out: a small model copies them into
    memories as if they were facts. ``max_items`` bounds the pieces a window is cut into (see ``units``)."""
    said = [t for t in turns if t.speaker != companion]
    if not said:
        return []
    lang = lang or written_in(" ".join(t.text for t in said))
    pieces = units([Turn(t.ref, t.speaker, annotate(t.text, when, lang)) for t in said], 2 * max_items)
    dialogue = "\n".join([f"(earlier) {t.speaker}: {t.text}" for t in context if t.speaker != companion] +
                         [f"[{t.ref}] {t.speaker}: {annotate(t.text, when, lang)}" for t in said])
    speakers = list(dict.fromkeys(t.speaker for t in said))
    if user is not None:
        people = "the user" if companion is None else f"the user (not {companion})"
        about_rule = '"user" for the user.'
        example = "“用户下个月要搬家”" if lang == "zh" else "“The user is moving house next month”"
        self_word, self_word2 = "the user's", "the user"
    else:
        names = speakers or ["the speaker"]
        people = " and ".join(names)
        about_rule = " or ".join(f'"{n}"' for n in names) + " for the people talking."
        example = f"“{names[0]}下个月要搬家”" if lang == "zh" else f"“{names[0]} is moving house next month”"
        self_word, self_word2 = "a speaker's", "the person who talks about it"
    text = prompt("extract").format(date=fmt_day(when.date()), dialogue=dialogue, people=people,
                                    about_rule=about_rule, self_word=self_word, self_word2=self_word2,
                                    language=LANGUAGES[lang], example=example, companion=companion or "the app",
                                    example_block=prompt(f"extract_example_{lang}"))
    reply = chat.complete_json([{"role": "user", "content": text}], extraction_schema([p for _, p in pieces]),
                               max_tokens=reply_budget(chat, [p for _, p in pieces]))
    heard = "\n".join(f"{t.speaker}: {annotate(t.text, when, lang)} {annotate(t.text, when)}" for t in said)
    source = f"{heard}\n{fmt_day(when.date())}\n{' '.join(speakers)}"
    items: list[dict[str, Any]] = []
    for (ref, piece), m in zip(pieces, reply.get("memories", [])):
        if m.get("kind") == "none" or not str(m.get("text", "")).strip():
            continue
        it = _item({**m, "turns": [ref], "says": piece}, said, when, lang, user, speakers, source, {ref})
        if it is not None and not any(x["text"] == it["text"] and x["subject"] == it["subject"] for x in items):
            items.append(it)
    return [it for it in items if role_ok(it, items)]


def _subject(about: str, user: str | None, speakers: Sequence[str]) -> tuple[str, bool]:
    """(subject, is a participant)."""
    a = " ".join(about.split()).strip("\"'“”")
    if user is not None and a.lower() in SELF_WORDS:
        return USER, True
    for s in speakers:
        if a.lower() == s.lower():
            return (USER if user is not None and s == user else s), True
    return a, False


def _item(m: dict[str, Any], turns: Sequence[Turn], when: datetime, lang: str, user: str | None,
          speakers: Sequence[str], source: str, valid: set[str]) -> dict[str, Any] | None:
    body = " ".join(str(m.get("text", "")).split())[:300]
    if not body or not grounded(body, source):
        return None
    subject, participant = _subject(str(m.get("about", "")), user, speakers)
    if not subject or (not participant and subject.lower() not in source.lower()):
        return None  # a subject the conversation never names is invented
    relation = "self" if participant else str(m.get("relation") or "other")
    if relation == "self" and not participant:
        relation = "other"
    refs = [r for r in m.get("turns", []) if r in valid] or _attribute(body, [t for t in turns if t.ref in valid])
    event_date, when_text = None, None
    phrase = str(m.get("time") or "").strip()
    found = resolve(phrase, when) if phrase else []
    if not found:  # the model may copy a resolved date, or leave it out: the memory, then the words it came from
        found = resolve(body, when) or resolve(str(m.get("says") or ""), when)
    if found:
        r = found[0]
        event_date, when_text = r.iso, r.render(lang)
        if "(" in body or "（" in body:
            pass
        elif r.phrase in body:
            body = annotate(body, when, lang)
        else:
            body = f"{body.rstrip('。.')}（{when_text}）" if lang == "zh" else f"{body.rstrip('.')} ({when_text})"
    attribute = str(m.get("attribute") or "")
    return {"kind": m["kind"], "text": body, "importance": int(m["importance"]), "subject": subject,
            "relation": relation, "lang": lang, "event_date": event_date, "when_text": when_text,
            "slot": f"{subject.lower()}.{attribute}" if attribute else None, "turns": refs}


def _attribute(body: str, turns: Sequence[Turn]) -> list[str]:
    """The turn a memory most likely comes from when the model named none: the one sharing most words (so that
    forgetting the memory can take its source along)."""
    words = set(tokenize(body))
    best = max(turns, key=lambda t: len(words & set(tokenize(t.text))), default=None)
    return [best.ref] if best is not None else []


def role_ok(item: dict[str, Any], batch: Sequence[dict[str, Any]]) -> bool:
    """False for a memory that gives the user (or a speaker) a name the same window uses for another subject:
    "the user is called 南瓜" next to "南瓜 is the user's cat" (how a small model mixes up roles)."""
    if not (item.get("slot") or "").endswith(".name") or item["relation"] != "self":
        return True
    others = {it["subject"] for it in batch if it["relation"] != "self"}
    return not any(o and o in item["text"] for o in others)


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
