"""LLM memory extraction and reflection, JSON-schema constrained so a small model cannot break them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lingxi.companion.memory import RELATIONS, USER, Memory
from lingxi.companion.timeexpr import annotate, fmt_day, resolve
from lingxi.index.tokenize import tokenize
from lingxi.ingest.text import is_cjk
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
ATTRIBUTES = ["", "name", "job", "home", "age", "relationship_status"]
SELF_WORDS = {"user", "the user", "用户", "我", "me", "i", "myself", "you", "你"}
LANGUAGES = {"zh": "Chinese (简体中文)", "en": "English"}


def prompt(name: str) -> str:
    return load_prompt(PROMPTS, name)


def lang_of(text: str) -> str:
    """"zh" when at least a fifth of the letters are Han characters, else "en" (the languages memories are
    written in)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(1 for c in letters if is_cjk(c)) / len(letters) >= 0.2 else "en"


@dataclass(frozen=True)
class Turn:
    ref: str
    speaker: str
    text: str


def clauses(text: str) -> int:
    """Clauses with some substance (4+ letters) — how many things a stretch of speech may say."""
    return sum(1 for c in re.split(r"[，。！？；,.!?;\n]+", text) if sum(ch.isalnum() for ch in c) >= 4)


def extraction_schema(turn_ids: Sequence[str], max_items: int, min_items: int = 0) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"memories": {"type": "array", "minItems": min_items, "maxItems": max_items, "items": {
            "type": "object",
            "properties": {
                "about": {"type": "string"},
                "relation": {"type": "string", "enum": list(RELATIONS)},
                "text": {"type": "string"},
                "time": {"type": "string"},
                "kind": {"type": "string", "enum": EXTRACT_KINDS},
                "attribute": {"type": "string", "enum": ATTRIBUTES},
                "importance": {"type": "integer", "minimum": 1, "maximum": 10},
                "turns": {"type": "array", "maxItems": 4, "items": {"type": "string", "enum": list(turn_ids)}},
            },
            "required": ["about", "relation", "text", "time", "kind", "attribute", "importance", "turns"],
        }}},
        "required": ["memories"],
    }


def extract(chat: ChatModel, turns: Sequence[Turn], when: datetime, max_items: int = 8, *,
            user: str | None = "the user", companion: str | None = None, context: Sequence[Turn] = (),
            lang: str | None = None, min_items: int | None = None, min_importance: int = 3
            ) -> list[dict[str, Any]]:
    """Readable memory items from a window of turns: subject, relation, text in the conversation's language,
    the time it refers to (resolved against the session date), kind, slot, importance, source turns.

    ``user`` is the speaker name of the app's user (their memories get subject ``USER``); ``None`` for a
    transcript between named people, whose own memories take their names. ``context`` turns are shown before
    the window, marked as already read, so a reply can be understood without re-extracting what it answers."""
    if not turns:
        return []
    lang = lang or lang_of(" ".join(t.text for t in turns))
    # only what people say: a small model copies the companion's own lines into memories as if they were facts
    dialogue = "\n".join([f"(earlier) {t.speaker}: {t.text}" for t in context if t.speaker != companion] +
                         [f"[{t.ref}] {t.speaker}: {annotate(t.text, when, lang)}" for t in turns
                          if t.speaker != companion])
    speakers = list(dict.fromkeys(t.speaker for t in turns if t.speaker != companion))
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
    text = prompt("extract").format(date=fmt_day(when.date()), dialogue=dialogue, max_items=max_items, people=people,
                                    about_rule=about_rule, self_word=self_word, self_word2=self_word2,
                                    language=LANGUAGES[lang], example=example, companion=companion or "the app")
    valid = {t.ref for t in turns if t.speaker != companion}
    if not valid:
        return []
    # a small model tends to stop after the first memory of a sentence that says three things: the grammar asks
    # for about one per clause (at most half the budget); filler it adds that way scores low and is dropped
    said = " ".join(t.text for t in turns if t.ref in valid)
    least = min(clauses(said), max_items // 2) if min_items is None else min_items
    schema = extraction_schema(sorted(valid, key=[t.ref for t in turns].index), max_items, least)
    reply = chat.complete_json([{"role": "user", "content": text}], schema, max_tokens=90 * max_items + 40)
    heard = "\n".join(f"{t.speaker}: {annotate(t.text, when, lang)} {annotate(t.text, when)}" for t in turns
                      if t.speaker != companion)
    source = f"{heard}\n{fmt_day(when.date())}\n{' '.join(speakers)}"
    items = [it for m in reply.get("memories", []) if int(m.get("importance", 5)) >= min_importance
             and (it := _item(m, turns, when, lang, user, speakers, source, valid))]
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
    if not found:
        found = resolve(body, when)
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
