"""Jump-forward decoding of constrained JSON: the text a schema fixes is written for the model, not sampled from it.

In a reply such as ``{ "found": true, "answer": "…", "passage": 2, "next_query": "…" }`` most tokens are fixed by
the schema: braces, keys, colons, commas. A grammar-constrained sampler still generates them one forward pass each.
Here a schema whose objects have a fixed set of keys is walked instead: the fixed text is appended (the backend
evaluates it in one batch with the next value's first step), and only the values are sampled, each under a grammar
of its own.

The model still writes everything it would choose: its first token says how it lays JSON out (``{"key"`` or
``{ "key"``) and the rest follows that layout; every value is sampled together with the text after it (``",``
is one token to the model), and every literal ends on a boundary the model's own tokens would also end on (never
on a bare space). ``walk`` is independent of any backend: it yields ``Literal`` and ``Sample`` operations and is
sent each sampled value's text back; the local backend runs them (``LocalChatModel``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from lingxi.llm import grammar


@dataclass(frozen=True)
class Literal:
    text: str


@dataclass(frozen=True)
class Sample:
    grammar: str  # GBNF of the value (with the space that leads it), or of a string's body after its opening quote
    done: Callable[[bytes], bool]  # whether the bytes sampled so far are the whole value (else: until end of text)


Walk = Generator[Literal | Sample, str | None, None]


def _fixed_object(schema: Any) -> bool:
    """An object whose keys are all given and all required: its whole layout is known before any value."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    return (isinstance(props, dict) and bool(props) and schema.get("type", "object") == "object"
            and set(schema.get("required", [])) >= set(props) and not schema.get("additionalProperties"))


def _object_array(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "array" and _fixed_object(schema.get("items")) \
        and "prefixItems" not in schema


def walkable(schema: dict[str, Any]) -> bool:
    """Whether jump-forward decoding applies: a top-level object with fixed keys."""
    return _fixed_object(schema)


def _root(grammar: str) -> tuple[str, str]:
    """A grammar's root rule body (without its trailing ``space``) and the other rules."""
    lines = grammar.strip().splitlines()
    (root,) = [ln for ln in lines if ln.startswith("root ::= ")]
    body = root[len("root ::= "):].strip()
    body = re.sub(r"\s+space$", "", body)
    return body, "\n".join(ln for ln in lines if ln is not root)


def value_grammar(schema: dict[str, Any], follows: tuple[str, ...] = ()) -> str:
    """GBNF for one value written after a key's colon: a space, the value, then one of ``follows`` (the texts that
    may come after it)."""
    body, rest = _root(grammar.json_grammar(schema))
    after = " (" + " | ".join(json.dumps(f) for f in follows) + ")" if follows else ""
    return f'root ::= " " ({body}){after}\n{rest}\n'


def choice_grammar(*options: str) -> str:
    return "root ::= " + " | ".join(json.dumps(o) for o in options) + "\n"


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"), strict=False)
    except ValueError:
        return False
    return True


def _ends_value(follows: tuple[str, ...]) -> Callable[[bytes], bool]:
    """Whether the bytes sampled are a whole value and then one of ``follows``: a value may end in the same token
    as what follows it (``",``), as the model writes it."""
    return lambda out: _follow(out, follows) is not None


def _follow(out: bytes, follows: tuple[str, ...]) -> str | None:
    """Which of ``follows`` ends ``out`` after a whole value (None: the value is not whole yet)."""
    for f in follows:
        tail = f.encode()
        if out.endswith(tail) and _parses(out[: len(out) - len(tail)]):
            return f
    return None


def _one_of(*values: bytes) -> Callable[[bytes], bool]:
    return lambda out: out in values


def whole(schema: dict[str, Any]) -> Walk:
    """The reply to ``schema`` sampled whole under its grammar, until the model ends it (no text written for it)."""
    yield Sample(grammar.json_grammar(schema), lambda out: False)


def walk(schema: dict[str, Any]) -> Walk:
    """The reply to ``schema`` as fixed text and sampled values, in order; send each sampled value's text back.

    The model's first token says how it lays JSON out, ``{"key"`` (as ``json.dumps`` does) or ``{ "key"`` (a space
    inside braces and brackets): the rest is written the same way."""
    got = yield Sample(choice_grammar('{"', '{ "'), _one_of(b'{"', b'{ "'))
    yield from _object(schema, " " if (got or "").startswith("{ ") else "", "", quoted=True)


def _object(schema: dict[str, Any], pad: str, head: str, quoted: bool = False,
            closes: tuple[str, ...] = ()) -> Generator[Literal | Sample, str | None, str]:
    """An object's keys and values, ``head`` written before its first key (``quoted``: that key's opening quote
    was sampled). Each value is sampled with the text that follows it (a comma; the closing brace, and then one of
    ``closes``), so the model may end it as it would, and that text is not written again. Returns which of
    ``closes`` came after the object ("" without any)."""
    props = list(schema["properties"].items())
    carried = ""
    for i, (key, sub) in enumerate(props):
        name = json.dumps(key, ensure_ascii=False)
        if i == 0:
            yield Literal(f"{head}{name[1:] if quoted else name}:")
        else:
            yield Literal(f"{'' if carried else ','} {name}:")
        last = i == len(props) - 1
        follows = tuple(f"{pad}}}{c}" for c in closes or ("",)) if last else (",",)
        carried = yield from _value(sub, follows, pad)
    if carried:
        return carried[len(pad) + 1:]
    yield Literal(f"{pad}}}")
    if not closes:
        return ""
    got = yield Sample(choice_grammar(*closes), _one_of(*(c.encode() for c in closes)))
    return got or ""


def _value(schema: dict[str, Any], follows: tuple[str, ...], pad: str) -> Generator[Literal | Sample, str | None, str]:
    """A value after its key's colon; returns which of ``follows`` was sampled with it ("" when none was)."""
    if _fixed_object(schema):
        yield from _object(schema, pad, f" {{{pad}")
        return ""
    if _object_array(schema):
        yield from _array(schema, pad)
        return ""
    if schema.get("type") == "boolean" and "enum" not in schema:
        yield Sample(value_grammar(schema), _one_of(b" true", b" false"))
        return ""
    got = yield Sample(value_grammar(schema, follows), _ends_value(follows))
    return _follow((got or "").encode(), follows) or ""


def _array(schema: dict[str, Any], pad: str) -> Walk:
    """An array of objects; whether another item follows is sampled with each item's end (``},`` or ``}]`` are one
    token to the model); ``minItems`` and ``maxItems`` hold."""
    low, high = int(schema.get("minItems", 0)), schema.get("maxItems")
    if high is not None and int(high) <= 0:
        yield Literal(f" [{pad}]")
        return
    if low > 0:
        yield Literal(f" [{pad}{{{pad}")
        quoted = False
    else:
        yield Literal(" [")
        options = (f'{pad}{{{pad}"', f"{pad}]")
        got = yield Sample(choice_grammar(*options), _one_of(*(o.encode() for o in options)))
        if (got or "").strip() == "]":
            return
        quoted = True
    n = 1
    while True:
        closes = tuple(c for c, ok in ((",", high is None or n < int(high)), (f"{pad}]", n >= low)) if ok)
        close = yield from _object(schema["items"], pad, "", quoted=quoted, closes=closes)
        if close != ",":
            return
        yield Literal(f" {{{pad}")
        quoted, n = False, n + 1
