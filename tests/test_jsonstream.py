"""Reading one string field of a JSON reply while it is being generated."""

from __future__ import annotations

import json

import pytest

from lingxi.llm.jsonstream import FieldText


def fed(raw: str, size: int, key: str = "answer") -> tuple[list[str], FieldText]:
    f = FieldText(key)
    return [f.feed(raw[i: i + size]) for i in range(0, len(raw), size)], f


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("text", ['林舟是旅行作家 [3]。', 'say "hi"\\ then\nnew line\ttab', "emoji 🐼 and é", ""])
def test_the_field_arrives_whole_and_in_order_however_the_reply_is_cut(text, size):
    for ascii_only in (False, True):  # escapes of every kind, \\uXXXX and surrogate pairs included
        raw = json.dumps({"answer": text, "short_answer": "x", "found": True, "next_query": ""},
                         ensure_ascii=ascii_only)
        pieces, f = fed(raw, size)
        assert "".join(pieces) == text == f.text and f.done
        assert all("\\" not in p or "\\" in text for p in pieces)  # never half an escape


def test_only_the_named_field_and_nothing_before_its_key():
    raw = '{"short_answer": "\\"answer\\": \\"no", "answer": "yes [1]", "found": true}'
    pieces, f = fed(raw, 4)
    assert "".join(pieces) == "yes [1]"
    pieces, f = fed('{"found": false, "next_query": ""}', 5)
    assert "".join(pieces) == "" and not f.done


def test_an_unfinished_field_shows_what_is_complete():
    f = FieldText("answer")
    assert f.feed('{"answer": "abc\\') == "abc" and not f.done
    assert f.feed('u00e9') == "é"
    assert f.feed('d", "x": 1}') == "d" and f.done and f.feed("more") == ""
