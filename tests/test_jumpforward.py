"""Jump-forward decoding: the walk over a schema (no model), and the local backend running it against the real
bundled 0.5B model (marker ``model``): the same replies as the full grammar, fewer tokens sampled."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lingxi.errors import ModelOutputError
from lingxi.llm.jumpforward import Literal, Sample, _ends_value, choice_grammar, value_grammar, walk, walkable

EXTRACT = {"type": "object", "required": ["found", "answer", "passage", "next_query"],
           "properties": {"found": {"type": "boolean"}, "answer": {"type": "string"}, "passage": {"type": "integer"},
                          "next_query": {"type": "string"}}}
PLAN = {"type": "object", "required": ["sub_questions"], "properties": {"sub_questions": {
    "type": "array", "maxItems": 2, "items": {
        "type": "object", "required": ["id", "question", "depends_on"],
        "properties": {"id": {"type": "integer"}, "question": {"type": "string"},
                       "depends_on": {"type": "array", "items": {"type": "integer"}}}}}}}


def drive(schema: dict[str, Any], values: list[str]) -> tuple[str, list[Sample]]:
    """Run a walk as a backend would, answering each sample with the next of ``values``."""
    ops, text, samples = walk(schema), "", []
    op = next(ops)
    try:
        while True:
            if isinstance(op, Literal):
                text += op.text
                op = next(ops)
            else:
                samples.append(op)
                value = values.pop(0)
                assert op.done(value.encode()), (value, op.grammar)
                text += value
                op = ops.send(value)
    except StopIteration:
        pass
    assert not values, f"values left over: {values}"
    return text, samples


def test_an_object_is_its_keys_written_and_its_values_sampled_each_with_what_follows_it():
    text, samples = drive(EXTRACT, ['{ "', " true", ' "Paris",', " 2,", ' "" }'])
    assert text == '{ "found": true, "answer": "Paris", "passage": 2, "next_query": "" }'
    assert json.loads(text) == {"found": True, "answer": "Paris", "passage": 2, "next_query": ""}
    assert [s.grammar.splitlines()[0] for s in samples][2:] == [
        'root ::= " " ("\\"" char* "\\"") (",")', 'root ::= " " (("-"? integral-part)) (",")',
        'root ::= " " ("\\"" char* "\\"") (" }")']


def test_an_array_of_objects_ends_each_item_with_whether_another_follows_and_holds_max_items():
    one, _ = drive(PLAN, ['{ "', ' { "', " 1,", ' "Who?",', " [] } ]"])
    assert one == '{ "sub_questions": [ { "id": 1, "question": "Who?", "depends_on": [] } ] }'
    two, samples = drive(PLAN, ['{"', '{"', " 1,", ' "Who?",', " []},", " 2,", ' "When #1?",', " [1]}]"])
    assert two == '{"sub_questions": [{"id": 1, "question": "Who?", "depends_on": []}, ' \
                  '{"id": 2, "question": "When #1?", "depends_on": [1]}]}'
    assert samples[1].grammar == choice_grammar('{"', "]")
    assert samples[4].grammar.splitlines()[0].endswith('("}," | "}]")')
    assert samples[-1].grammar.splitlines()[0].endswith('("}]")')  # maxItems 2: the second item closes the array
    empty, _ = drive(PLAN, ['{"', "]"])
    assert json.loads(empty) == {"sub_questions": []}


def test_a_value_is_whole_only_when_it_parses_before_what_follows_it():
    comma = _ends_value((",",))
    assert comma(b' "a, b",') and comma(b" 12,") and comma(b" [1, 2],")
    assert not comma(b' "a,') and not comma(b' "a\\",') and not comma(b" [1,") and not comma(b' "a"')
    assert _ends_value((" }",))(b' "x\\"y" }')
    assert _ends_value(("},", "}]"))(b" [1]}]") and not _ends_value(("},", "}]"))(b" [1]}")


def test_only_objects_with_every_key_required_are_walked():
    assert walkable(EXTRACT) and walkable(PLAN)
    assert not walkable({"type": "object", "properties": {"a": {"type": "string"}}})  # optional key
    assert not walkable({"type": "array", "items": {"type": "string"}})
    assert not walkable({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
                         "additionalProperties": True})


def test_a_value_grammar_starts_with_the_space_the_model_writes_after_a_colon():
    g = value_grammar({"type": "string", "enum": ["a", 'say "b"']}, (",",))
    assert g.startswith('root ::= " " (') and g.splitlines()[0].endswith(' (",")')


# ---- the real bundled model --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup builds it)")
    from lingxi.config import default_model_cache
    from lingxi.llm.bundled import resolve_model
    from lingxi.llm.chat import LocalChatModel

    path = resolve_model("qwen2.5-coder-0.5b", default_model_cache())
    return LocalChatModel(path, threads=1, jump_forward=True), LocalChatModel(path, threads=1, jump_forward=False)


PROMPTS = [
    ([{"role": "system", "content": "You answer from passages."},
      {"role": "user", "content": "Passage 1: Paris is the capital of France. It has 2 million people.\nQuestion: "
                                  "what is the capital of France? Reply in JSON with found, answer, passage, "
                                  "next_query."}], EXTRACT),
    ([{"role": "system", "content": "You plan searches."},
      {"role": "user", "content": "Split into at most two sub-questions, each with id, question and depends_on: "
                                  "In which year was the director of Inception born?"}], PLAN),
]


@pytest.mark.model
@pytest.mark.parametrize("i", range(len(PROMPTS)))
def test_the_model_gives_the_grammars_reply_sampling_fewer_tokens(models, i):
    jump, full = models
    messages, schema = PROMPTS[i]
    j0, f0 = jump.completion_tokens, full.completion_tokens
    assert jump.complete_json(messages, schema, max_tokens=200) == full.complete_json(messages, schema, max_tokens=200)
    assert jump.completion_tokens - j0 < full.completion_tokens - f0


@pytest.mark.model
@pytest.mark.parametrize("i", range(len(PROMPTS)))
def test_greedy_replies_written_here_are_llama_cpps_own(models, i):
    _, full = models
    messages, schema = PROMPTS[i]
    from lingxi.llm.grammar import schema_grammar

    theirs = full.llm.create_chat_completion(messages=messages, max_tokens=200, temperature=0.0, top_k=1,
                                             grammar=schema_grammar(full.llm, schema))
    assert full._walks(schema, 0.0) and not full._walks(schema, 0.7)
    from lingxi.llm.chat import LocalChatModel

    assert not LocalChatModel(full.model_path, greedy_loop=False)._walks(schema, 0.0)
    assert full.complete(messages, schema=schema, max_tokens=200) == theirs["choices"][0]["message"]["content"]


@pytest.mark.model
def test_streamed_pieces_are_the_reply_and_a_cut_reply_does_not_parse(models):
    jump, _ = models
    messages, schema = PROMPTS[0]
    pieces = list(jump.stream(messages, schema=schema, max_tokens=200))
    assert "".join(pieces) == jump.complete(messages, schema=schema, max_tokens=200)
    assert pieces[:2] == ['{"', 'found":']  # the layout as the model starts it, then the fixed text as written
    with pytest.raises(ModelOutputError):
        jump.complete_json(messages, schema, max_tokens=3)


@pytest.mark.model
def test_greedy_tokens_under_a_grammar_are_llama_cpps_own(models):
    from llama_cpp.llama_grammar import LlamaGrammar

    from lingxi.llm.chat import _greedy_tokens
    from lingxi.llm.grammar import json_grammar

    jump, _ = models
    llm, grammar = jump.llm, json_grammar(EXTRACT)
    prompt = jump._prompt_tokens(PROMPTS[0][0])

    def until_end(tokens):
        out = []
        for t in tokens:
            if llm.token_eos() == t or len(out) > 60:
                break
            out.append(t)
        return out

    ours = until_end(_greedy_tokens(llm, prompt, grammar))
    llm.reset()
    theirs = until_end(llm.generate(prompt, temp=0.0, top_k=1, grammar=LlamaGrammar.from_string(grammar)))
    assert ours == theirs and len(ours) > 10


@pytest.mark.model
def test_messages_read_ahead_are_kept_and_the_reply_is_the_same(models):
    jump, _ = models
    messages, schema = PROMPTS[0]
    alone = jump.complete(messages, schema=schema, max_tokens=200)
    other = [messages[0], {"role": "user", "content": "Say hi."}]
    jump.complete(other, max_tokens=4)  # something else in the context first
    p0, r0 = jump.prompt_tokens, jump.reused_tokens
    jump.prepare(messages[:-1])
    assert (jump.prompt_tokens - p0, jump.reused_tokens - r0) == (len(jump._segment(messages[0])),) * 2  # kept
    kept = jump.reused_tokens
    assert jump.complete(messages, schema=schema, max_tokens=200) == alone
    assert jump.reused_tokens - kept == len(jump._segment(messages[0]))
