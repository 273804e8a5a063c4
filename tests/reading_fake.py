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


def first_sentence(prompt: str) -> str:
    m = re.search(r'<passage id="1"[^>]*>\n(.*?)\n</passage>', prompt, re.S)
    if not m:
        return ""
    text = m.group(1).strip()
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
        sentence = first_sentence(prompt)
        if {"found", "passage"} <= set(props):  # a read step
            return json.dumps({"found": bool(sentence), "answer": sentence, "passage": 1 if sentence else 0,
                               "next_query": ""}, ensure_ascii=False)
        if {"answer", "short_answer"} <= set(props):  # the answer step
            reply = {"answer": f"{sentence}[1]" if sentence else "", "short_answer": sentence,
                     "found": bool(sentence), "next_query": ""}
            return json.dumps({k: v for k, v in reply.items() if k in props}, ensure_ascii=False)
        return json.dumps(fill(schema), ensure_ascii=False)

    def stream(self, messages, *, max_tokens=512, temperature=0.0) -> Iterator[str]:
        for word in self.complete(messages, max_tokens=max_tokens).split(" "):
            yield word + " "
