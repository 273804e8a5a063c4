"""JSON schema → GBNF with enum and const strings that need escaping (lingxi/llm/grammar.py): the grammar text
itself, read back the way llama.cpp reads it, and the real bundled 0.5B model copying such strings (marker
`model`)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from lingxi.companion.extract import Turn, extract, extraction_schema
from lingxi.errors import BadInput
from lingxi.llm import grammar
from lingxi.llm.grammar import gbnf_literal, json_grammar

# Each needs a different escape somewhere between the user's words and the grammar.
HARD = {
    "backslash": r"C:\Users\me",
    "quote": 'he said "hi"',
    "newline": "line one\nline two",
    "tab": "col\tcol",
    "backslash-n": r"a literal \n here",
    "cjk": "我下个月搬家",
    "emoji": "好开心 😀!",
    "bracket": "arr[0] = x]",
    "control": "bell\x07",
}
GBNF_SIMPLE = {"t": "\t", "r": "\r", "n": "\n", "\\": "\\", '"': '"', "[": "[", "]": "]", "-": "-"}


def gbnf_text(literal: str) -> str:
    """What a GBNF string literal matches, read as llama.cpp's ``parse_char`` reads it."""
    assert literal[0] == literal[-1] == '"', literal
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        c = body[i]
        assert c != '"', f"a bare quote ends the literal at {i}: {literal}"
        if c != "\\":
            out.append(c)
            i += 1
        elif body[i + 1] in GBNF_SIMPLE:
            out.append(GBNF_SIMPLE[body[i + 1]])
            i += 2
        else:
            width = {"x": 2, "u": 4, "U": 8}[body[i + 1]]
            out.append(chr(int(body[i + 2:i + 2 + width], 16)))
            i += 2 + width
    return "".join(out)


def rule(gbnf: str, name: str) -> str:
    [line] = [ln for ln in gbnf.splitlines() if ln.startswith(f"{name} ::= ")]
    return line.removeprefix(f"{name} ::= ")


def says_schema(value: str) -> dict[str, object]:
    return {"type": "object", "properties": {"says": {"type": "string", "enum": [value]}}, "required": ["says"]}


@pytest.mark.parametrize("value", HARD.values(), ids=HARD.keys())
def test_literal_matches_the_json_a_model_writes(value: str) -> None:
    matched = gbnf_text(gbnf_literal(json.dumps(value)))
    assert matched == json.dumps(value, ensure_ascii=False)  # non-ASCII as itself, every other escape kept
    assert json.loads(matched) == value


def test_literal_texts_exactly() -> None:
    assert gbnf_literal(json.dumps("C:\\Users")) == r'"\"C:\\\\Users\""'
    assert gbnf_literal(json.dumps('say "hi"')) == r'"\"say \\\"hi\\\"\""'
    assert gbnf_literal(json.dumps("a\nb\tc")) == r'"\"a\\nb\\tc\""'
    assert gbnf_literal(json.dumps("搬家")) == r'"\"\u642c\u5bb6\""'
    assert gbnf_literal(json.dumps("😀")) == r'"\"\U0001f600\""'
    assert gbnf_literal(json.dumps("x]")) == r'"\"x]\""'
    assert gbnf_literal(json.dumps("\x07")) == r'"\"\\u0007\""'


@pytest.mark.parametrize("value", HARD.values(), ids=HARD.keys())
def test_enum_const_and_property_name_rules(value: str) -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup builds it)")
    schema = {"type": "object", "properties": {
        "says": {"type": "string", "enum": [value, "other"]},
        "same": {"const": value},
        value: {"type": "integer"},
    }, "required": ["says", "same", value]}
    text = json_grammar(schema)
    first, second = rule(text, "says").split(" | ")
    assert json.loads(gbnf_text(first)) == value and gbnf_text(second) == '"other"'
    assert json.loads(gbnf_text(rule(text, "same"))) == value
    keys = [ln.split(" ::= ")[1].split(' space ":"')[0] for ln in text.splitlines() if ' space ":" space ' in ln]
    assert sorted(json.loads(gbnf_text(k)) for k in keys) == sorted(["says", "same", value])


def test_llama_cpp_python_literals_are_still_wrong() -> None:
    """Why lingxi/llm/grammar.py exists: llama-cpp-python's own literals for these values match something else, or
    do not parse at all. When this fails, llama-cpp-python has fixed them and our converter can go."""
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    wrong = {}
    for name, value in HARD.items():
        literal = rule(llama_grammar.json_schema_to_gbnf(json.dumps(says_schema(value))), "says")
        try:
            matched = gbnf_text(literal)
        except AssertionError:
            matched = None
        if matched != json.dumps(value, ensure_ascii=False):
            wrong[name] = matched
    assert sorted(wrong) == ["backslash", "backslash-n", "control", "emoji", "newline", "quote", "tab"]
    assert wrong["quote"] is None  # the literal ends at the escaped quote: llama.cpp cannot parse the grammar
    assert wrong["backslash"] == r'"C:\Users\me"'  # one backslash: invalid JSON


def test_plain_schemas_get_llama_cpp_pythons_grammar_byte_for_byte() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    schemas = [
        {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
         "required": ["city", "days"]},
        extraction_schema(["I moved to Berlin last May.", "我下个月搬家，", "It's 20% off [sale]"]),
        {"type": "object", "properties": {"名字": {"type": "string", "enum": ["南瓜", "小明"]},
                                          "n": {"type": "integer", "minimum": 1, "maximum": 10},
                                          "ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 3}},
         "required": ["名字", "n", "ids"]},
    ]
    for schema in schemas:
        assert json_grammar(schema) == llama_grammar.json_schema_to_gbnf(json.dumps(schema))


def test_schema_the_converter_cannot_handle_is_bad_input() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup builds it)")
    with pytest.raises(BadInput, match=r"schema cannot be turned into a grammar \(AssertionError: Pattern must "):
        json_grammar({"type": "string", "pattern": "abc"})
    with pytest.raises(BadInput, match=r"schema cannot be turned into a grammar \(TypeError: "):
        json_grammar({"type": "string", "enum": [object()]})


# The real model (marker `model`).

@pytest.fixture(scope="module")
def small():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup builds it)")
    from lingxi.config import default_model_cache, default_threads
    from lingxi.llm.bundled import resolve_model
    from lingxi.llm.chat import LocalChatModel

    return LocalChatModel(resolve_model("qwen2.5-coder-0.5b", default_model_cache()), threads=default_threads(),
                          context=2048)


@pytest.mark.model
@pytest.mark.parametrize("value", HARD.values(), ids=HARD.keys())
def test_model_copies_the_enum_value_exactly(small, value: str) -> None:
    msgs = [{"role": "user", "content": f"Repeat what was said, as JSON with the key says.\n{value}"}]
    assert small.complete_json(msgs, says_schema(value), max_tokens=40) == {"says": value}


@pytest.mark.model
def test_grammar_llama_cpp_cannot_parse_is_bad_input_not_a_crash(small, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grammar, "json_grammar", lambda schema: 'root ::= "\\"unterminated')
    with pytest.raises(BadInput, match="llama.cpp cannot parse the grammar built for schema"):
        small.complete_json([{"role": "user", "content": "hi"}], says_schema("x"), max_tokens=4)


@pytest.mark.model
def test_extraction_of_a_turn_with_a_backslash_and_quotes(small, monkeypatch: pytest.MonkeyPatch) -> None:
    said = r'My notes live in C:\Users\me and my sister calls them "the vault".'
    replies: list[str] = []
    complete = small.complete
    monkeypatch.setattr(small, "complete", lambda *a, **kw: replies.append(complete(*a, **kw)) or replies[-1])
    items = extract(small, [Turn("t1", "user", said)], datetime(2024, 5, 1), max_items=2)
    [reply] = replies
    assert [m["says"] for m in json.loads(reply)["memories"]] == [said]  # the grammar made it copy the turn exactly
    assert [it["turns"] for it in items] == [["t1"]]
