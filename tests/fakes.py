"""The only fake in the suite: a real ChatModel subclass replaying scripted replies and recording prompts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lingxi.llm.chat import ChatModel, Message

Reply = str | dict[str, Any] | Callable[[list[Message]], str | dict[str, Any]]


class ScriptedChat(ChatModel):
    name = "scripted"

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__()
        self.replies = list(replies)
        self.sent: list[list[Message]] = []
        self.schemas: list[dict[str, Any] | None] = []
        self.max_tokens: list[int] = []
        self.prepared: list[tuple[int, list[Message]]] = []  # (calls made before, messages) of each ``prepare``

    def prepare(self, messages) -> None:
        self.prepared.append((self.calls, list(messages)))

    def complete(self, messages, *, schema=None, max_tokens=512, temperature=0.0, stop=None) -> str:
        self.sent.append(messages)
        self.schemas.append(schema)
        self.max_tokens.append(max_tokens)
        self.calls += 1
        if not self.replies:
            raise AssertionError(f"no scripted reply left for call {self.calls}: {messages[-1]['content'][:200]}")
        r = self.replies.pop(0)
        if callable(r):
            r = r(messages)
        return r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)

    def stream(self, messages, *, schema=None, max_tokens=512, temperature=0.0):
        """The scripted reply in pieces of three characters, as a model streams it (escapes split across pieces)."""
        reply = self.complete(messages, schema=schema, max_tokens=max_tokens, temperature=temperature)
        for i in range(0, len(reply), 3):
            yield reply[i: i + 3]


def passage_with(messages: list[Message], needle: str) -> int:
    """The number of the passage shown whose text contains ``needle`` (what a good reader would cite): in the prompt,
    or with the agent's reading room in the messages before it."""
    prompt = "\n".join(m["content"] for m in messages[1:])
    for block in prompt.split("<passage id=")[1:]:
        n = int(block.split('"')[1])
        if needle in block:
            return n
    raise AssertionError(f"no passage with {needle!r} in prompt: {prompt}")


def step_of(messages: list[Message]) -> str:
    """Which of the agent's steps the last message asks for: "plan", "read", "answer", or "other" (a baseline's
    one call). A request after the reading room names its step; one that shows its passages carries the reply's
    JSON shape."""
    ask = messages[-1]["content"]
    if "sub_questions" in ask:
        return "plan"
    if ask.startswith("Answer step") or ('"found"' in ask and '"short_answer"' in ask):
        return "answer"
    if ask.startswith("Read step") or '"found"' in ask:
        return "read"
    return "other"
