"""The reply cache: a greedy reply is asked of the model once; anything the reply depends on is part of the key."""

from __future__ import annotations

import sqlite3

from lingxi.llm.cache import CachedChatModel

from fakes import ScriptedChat

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def test_greedy_replies_are_served_from_the_cache(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    inner = ScriptedChat([{"a": "one"}, {"a": "two"}, {"a": "three"}, "warm"])
    chat = CachedChatModel(inner, conn)
    msgs = [{"role": "user", "content": "q"}]
    assert chat.complete_json(msgs, SCHEMA) == {"a": "one"}
    assert chat.complete_json(msgs, SCHEMA) == {"a": "one"}  # a hit: the model is not asked again
    assert (inner.calls, chat.hits, chat.misses) == (1, 1, 1)
    # a different prompt, schema or token limit is a different question
    assert chat.complete_json([{"role": "user", "content": "q2"}], SCHEMA) == {"a": "two"}
    assert chat.complete_json(msgs, SCHEMA, max_tokens=7) == {"a": "three"}
    # a sampled reply is never cached
    assert chat.complete(msgs, temperature=0.7) == "warm"
    assert inner.calls == 4
    # a new process (new wrapper, same file) still hits, and reports the time the first reply took
    again = CachedChatModel(ScriptedChat([]), sqlite3.connect(tmp_path / "c.db", isolation_level=None))
    assert again.complete_json(msgs, SCHEMA) == {"a": "one"}
    assert again.hits == 1 and again.model_seconds >= 0.0


def test_another_model_is_a_miss(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    a = ScriptedChat(["from a"])
    CachedChatModel(a, conn).complete([{"role": "user", "content": "q"}])
    b = ScriptedChat(["from b"])
    b.name = "other"
    assert CachedChatModel(b, conn).complete([{"role": "user", "content": "q"}]) == "from b"


def test_a_streamed_structured_reply_keeps_its_schema(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    inner = ScriptedChat([{"a": "one"}, {"a": "sampled"}])
    chat = CachedChatModel(inner, conn)
    msgs = [{"role": "user", "content": "q"}]
    assert "".join(chat.stream(msgs, schema=SCHEMA)) == '{"a": "one"}'  # greedy: cached, whole
    assert chat.complete_json(msgs, SCHEMA) == {"a": "one"} and inner.calls == 1
    assert "".join(chat.stream(msgs, schema=SCHEMA, temperature=0.7)) == '{"a": "sampled"}'
    assert inner.schemas[-1] == SCHEMA  # a sampled stream still reaches the model with its schema
