"""A ChatModel subclass for the server and browser tests: it answers from the passages it is shown.

Unlike ScriptedChat it needs no script, so a test can ask anything: a plan is left to the agent's own fallback, a
read or answer step quotes the first sentence of passage 1 (so citations verify against the real store), a memory
extraction finds nothing, and a free reply echoes the message. It records every prompt it was sent."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from lingxi.llm.chat import ChatModel, Message


def first_passage(messages: list[Message]) -> tuple[int, str]:
    """The number and text of the first passage the ask is about: passage 1 of the prompt, or with the agent's
    reading room (passages in earlier messages, the ask naming them: "Read passages 5, 6 above") the first named."""
    ask = messages[-1]["content"]
    named = re.search(r"passages (\d+)", ask) if "<passage" not in ask else None
    n = int(named.group(1)) if named else 1
    shown = ask if named is None else "\n".join(m["content"] for m in messages)
    m = re.search(rf'<passage id="{n}"[^>]*>\n(.*?)\n</passage>', shown, re.S)
    return n, m.group(1) if m else ""


def first_sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    parts = re.split(r"(?<=[。！？.!?])\s*", text)
    return next((p.strip() for p in parts if len(p.strip()) > 3), text[:80])


def fill(schema: dict[str, Any]) -> Any:
    t = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if t == "object":
        return {k: fill(v) for k, v in schema.get("properties", {}).items()}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(str(t))


class ReadingChat(ChatModel):
    name = "reading-fake"

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay  # seconds per call, so a test can watch steps arrive one by one
        self.sent: list[list[Message]] = []
        self._lock = threading.Lock()

    def complete(self, messages, *, schema=None, max_tokens=512, temperature=0.0, stop=None) -> str:
        with self._lock:
            self.sent.append(messages)
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        prompt = messages[-1]["content"]
        if schema is None:
            return f"I hear you: {prompt[:60]}"
        props = schema.get("properties", {})
        n, text = first_passage(messages)
        sentence = first_sentence(text)
        if {"found", "passage"} <= set(props):  # a read step
            return json.dumps({"found": bool(sentence), "answer": sentence, "passage": n if sentence else 0,
                               "next_query": ""}, ensure_ascii=False)
        if {"answer", "short_answer"} <= set(props):  # the answer step
            reply = {"answer": f"{sentence}[{n}]" if sentence else "", "short_answer": sentence,
                     "found": bool(sentence), "next_query": ""}
            return json.dumps({k: v for k, v in reply.items() if k in props}, ensure_ascii=False)
        return json.dumps(fill(schema), ensure_ascii=False)

    def stream(self, messages, *, schema=None, max_tokens=512, temperature=0.0) -> Iterator[str]:
        if schema is not None:  # a structured reply streams as JSON text, a few characters at a time
            reply = self.complete(messages, schema=schema, max_tokens=max_tokens)
            yield from (reply[i: i + 3] for i in range(0, len(reply), 3))
            return
        for word in self.complete(messages, max_tokens=max_tokens).split(" "):
            yield word + " "
