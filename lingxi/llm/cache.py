"""A reply cache in front of any chat model, for evaluations that ask the same deterministic questions again.

Only greedy replies (temperature 0) are cached, keyed by the model's name and everything the reply depends on
(messages, schema, token limit, stop strings), so a changed prompt file or schema is a miss, never a stale hit.
Each reply is stored with the seconds it took, so an evaluation served from the cache can still report what
the model cost."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from lingxi.llm.chat import ChatModel, Message


class CachedChatModel(ChatModel):
    def __init__(self, inner: ChatModel, conn: sqlite3.Connection) -> None:
        super().__init__()
        self.inner = inner
        self.name = inner.name
        self.context = inner.context
        self.conn = conn
        self.hits = 0
        self.misses = 0
        self.model_seconds = 0.0  # generation time of every reply returned, cached or not
        conn.execute("CREATE TABLE IF NOT EXISTS chat_cache (key TEXT PRIMARY KEY, model TEXT NOT NULL,"
                     " reply TEXT NOT NULL, seconds REAL NOT NULL)")

    def _key(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int,
             stop: list[str] | None) -> str:
        blob = json.dumps({"model": self.inner.name, "messages": messages, "schema": schema,
                           "max_tokens": max_tokens, "stop": stop}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def complete(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
                 temperature: float = 0.0, stop: list[str] | None = None) -> str:
        if temperature != 0.0:
            return self.inner.complete(messages, schema=schema, max_tokens=max_tokens, temperature=temperature,
                                       stop=stop)
        key = self._key(messages, schema, max_tokens, stop)
        row = self.conn.execute("SELECT reply, seconds FROM chat_cache WHERE key = ?", (key,)).fetchone()
        if row is not None:
            self.hits += 1
            self.model_seconds += float(row[1])
            return str(row[0])
        t0 = time.perf_counter()
        reply = self.inner.complete(messages, schema=schema, max_tokens=max_tokens, temperature=0.0, stop=stop)
        seconds = time.perf_counter() - t0
        self.misses += 1
        self.model_seconds += seconds
        self.calls, self.prompt_tokens, self.completion_tokens, self.reused_tokens = (
            self.inner.calls, self.inner.prompt_tokens, self.inner.completion_tokens, self.inner.reused_tokens)
        self.conn.execute("INSERT OR REPLACE INTO chat_cache(key, model, reply, seconds) VALUES (?,?,?,?)",
                          (key, self.inner.name, reply, seconds))
        return reply

    def stream(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        if schema is not None and temperature == 0.0:  # a structured greedy reply: served from the cache, whole
            yield self.complete(messages, schema=schema, max_tokens=max_tokens)
            return
        yield from self.inner.stream(messages, schema=schema, max_tokens=max_tokens, temperature=temperature)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)
