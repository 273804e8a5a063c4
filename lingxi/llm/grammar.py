"""JSON schema → llama.cpp grammar (GBNF): llama-cpp-python's own converter, with string literals it gets right.

llama-cpp-python 0.3.36 writes every enum or const value and every property name into the grammar as
``SchemaConverter._format_literal(json.dumps(value))``, and ``_format_literal`` escapes only ``"``, CR and LF. The
JSON escapes in that text keep a bare backslash, which GBNF reads as its own escape: ``\\`` lets the model write one
backslash (invalid JSON, or another string), ``\"`` turns into ``\\"`` and ends the literal early (llama.cpp
cannot parse the grammar, and llama-cpp-python hands the null sampler on: a segfault), ``\n`` and ``\t`` become raw
control characters (invalid JSON), and an emoji's surrogate pair becomes two code points no model can write. The
memory extractor copies the user's own words through an enum, so any turn with a backslash, a quote or an emoji
hit one of these. Here the converter is llama-cpp-python's, only its literal formatting is replaced; a grammar for
a schema without such characters is byte for byte the one llama-cpp-python builds."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from lingxi.errors import BackendUnavailable, BadInput

# The pieces of JSON text (as json.dumps writes it) that a GBNF literal cannot take as they stand: a surrogate pair,
# a \uXXXX escape, any other backslash escape, and the characters GBNF itself escapes.
_JSON_PIECE = re.compile(r'\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})|\\.|(["\r\n])',
                         re.IGNORECASE | re.DOTALL)
_GBNF_ESCAPES = {'"': '\\"', "\r": "\\r", "\n": "\\n", "\\": "\\\\"}


def _gbnf_piece(m: re.Match[str]) -> str:
    high, low, code, bare = m.groups()
    if high:  # a character beyond the BMP: GBNF's \U takes its code point, as the model writes it
        return f"\\U{0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00:08x}"
    if code and int(code, 16) >= 0x20 and not 0xD800 <= int(code, 16) < 0xE000:
        return m.group(0)  # GBNF reads \uXXXX as the character itself, which is how the model writes it
    if bare:
        return _GBNF_ESCAPES[bare]
    # a JSON escape the model must write as it stands (\\ \" \n \t \u0001 …): its backslash, then the rest
    return "".join(_GBNF_ESCAPES.get(c, c) for c in m.group(0))


def gbnf_literal(json_text: str) -> str:
    """A GBNF string literal matching ``json_text`` — JSON as ``json.dumps`` writes it — the way a model writes
    that JSON: characters beyond ASCII as themselves, every other escape as its backslash and letters."""
    return '"' + _JSON_PIECE.sub(_gbnf_piece, json_text) + '"'


@functools.cache
def _converter_class() -> Any:
    try:
        from llama_cpp.llama_grammar import SchemaConverter
    except ImportError as e:
        raise BackendUnavailable("JSON grammars need llama-cpp-python (run `make setup`)") from e

    class Converter(SchemaConverter):
        # every call site passes json.dumps output (enum and const values, property names)
        def _format_literal(self, literal: str) -> str:
            return gbnf_literal(literal)

    return Converter


def json_grammar(schema: dict[str, Any]) -> str:
    """The GBNF grammar of the JSON values ``schema`` allows, as llama-cpp-python's ``json_schema_to_gbnf`` builds
    it but with correct literals. Raises BadInput for a schema the converter cannot handle (llama-cpp-python itself
    falls back to any JSON at all without a word)."""
    try:
        copy = json.loads(json.dumps(schema))  # the converter may write into the schema it resolves
        converter = _converter_class()(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
        converter.visit(converter.resolve_refs(copy, "stdin"), "")
        return str(converter.format_grammar())
    except (ValueError, TypeError, KeyError, AssertionError, NotImplementedError, RecursionError) as e:
        raise BadInput(f"schema cannot be turned into a grammar ({type(e).__name__}: {e}): "
                       f"{json.dumps(schema, ensure_ascii=False, default=str)[:200]}") from e


def schema_grammar(llm: Any, schema: dict[str, Any]) -> Any:
    """A ``LlamaGrammar`` for ``schema``, checked by llama.cpp's own parser first: llama-cpp-python passes a grammar
    that does not parse on to the sampler chain as a null pointer, and the process dies on the first token."""
    try:
        return checked_grammar(llm, json_grammar(schema))
    except BadInput as e:
        raise BadInput(f"llama.cpp cannot parse the grammar built for schema "
                       f"{json.dumps(schema, ensure_ascii=False)[:200]}") from e


def checked_grammar(llm: Any, text: str) -> Any:
    """A ``LlamaGrammar`` for GBNF ``text``, checked by llama.cpp's own parser first (see ``schema_grammar``)."""
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, text.encode("utf-8"), b"root")
    if not sampler:
        raise BadInput(f"llama.cpp cannot parse the grammar {text[:200]!r}")
    llama_cpp.llama_sampler_free(sampler)
    return LlamaGrammar.from_string(text, verbose=False)
