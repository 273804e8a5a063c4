"""Chat models. A backend implements ``complete`` (and may override ``stream``); JSON parsing and checks live here.

Every structured step passes a JSON schema: the local backend turns it into a llama.cpp
grammar, so even a 0.5B model can only emit text that parses; OpenAI-compatible
servers get it as ``response_format``."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from lingxi.errors import BackendUnavailable, BadInput, ModelOutputError
from lingxi.llm import jumpforward, kvstate
from lingxi.llm.grammar import checked_grammar, schema_grammar
from lingxi.llm.http import check_base_url, post_events, post_json
from lingxi.llm.jumpforward import Literal, Sample, walk, walkable
from lingxi.text import is_cjk

Message = dict[str, str]


class ChatModel:
    name: str = "chat"
    context: int = 4096

    def __init__(self) -> None:
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.reused_tokens = 0  # prompt tokens a backend took from its context of earlier calls instead of reading

    def complete(
        self,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> str:
        raise NotImplementedError

    def stream(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        """Token pieces as they are generated (constrained to ``schema`` when given; ``parse_json`` reads the joined
        pieces). Backends that cannot stream yield the whole reply once."""
        yield self.complete(messages, schema=schema, max_tokens=max_tokens, temperature=temperature)

    def prepare(self, messages: list[Message]) -> None:
        """Read ``messages`` ahead of a call that starts with them (a backend that keeps earlier messages in its
        context evaluates them now, so the call reads only what follows; others do nothing)."""

    def pin(self, messages: list[Message]) -> None:
        """``messages`` open every prompt of some use (a system prompt, fixed instructions): a backend that can keep
        its context after them between processes does so (others do nothing)."""

    def fork(self, name: str = "second") -> ChatModel:
        """A model that replies as this one does from a context of its own (a backend that keeps earlier messages
        in its context returns another one, made once per ``name``; others return themselves)."""
        return self

    def count_tokens(self, text: str) -> int:
        """Token count; backends with a tokenizer override this. The estimate errs high for CJK."""
        cjk = sum(1 for c in text if is_cjk(c))
        return cjk + (len(text) - cjk) // 4 + 1

    def complete_json(self, messages: list[Message], schema: dict[str, Any], max_tokens: int = 512) -> dict[str, Any]:
        """A reply constrained to ``schema``, parsed. Raises ModelOutputError when it does not parse or fit."""
        return self.parse_json(self.complete(messages, schema=schema, max_tokens=max_tokens), schema)

    def parse_json(self, raw: str, schema: dict[str, Any]) -> dict[str, Any]:
        """A reply constrained to ``schema`` (whole or streamed and joined), parsed and checked."""
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ModelOutputError(f"{self.name}: reply is not JSON ({e.msg}): {raw[:200]!r}") from e
        check_schema(value, schema)
        return value  # type: ignore[no-any-return]


def check_schema(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """The subset of JSON Schema lingxi's prompts use: object/array/string/integer/number/boolean, required, enum."""
    t = schema.get("type")
    types: dict[str, type | tuple[type, ...]] = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float)}
    if t in types and (not isinstance(value, types[t]) or (t in ("integer", "number") and isinstance(value, bool))):
        raise ModelOutputError(f"model output {where} should be {t}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise ModelOutputError(f"model output {where}={value!r} is not one of {schema['enum']}")
    if t == "object":
        for key in schema.get("required", []):
            if key not in value:
                raise ModelOutputError(f"model output {where} lacks {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check_schema(value[key], sub, f"{where}.{key}")
    if t == "array" and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], f"{where}[{i}]")


def load_llama(model_path: Path, threads: int, context: int, **extra: Any) -> Any:
    """A llama-cpp-python ``Llama`` for a GGUF file, with lingxi's thread settings (shared by every local model)."""
    try:
        from llama_cpp import Llama
    except ImportError as e:
        raise BackendUnavailable("the local LLM needs llama-cpp-python (run `make setup`)") from e
    return Llama(model_path=str(model_path), n_ctx=context, n_threads=threads, n_threads_batch=threads,
                 verbose=False, **extra)


class Pinned(NamedTuple):
    """Messages that open every prompt of some use, as the context holds them, and where their state is kept."""

    segments: tuple[tuple[int, ...], ...]
    tokens: tuple[int, ...]
    path: Path


class LocalChatModel(ChatModel):
    """A GGUF model run in-process by llama-cpp-python. Loads on first use."""

    def __init__(
        self,
        model_path: Path,
        threads: int = 2,
        context: int = 4096,
        speculative: bool = False,
        seed: int = 0,
        jump_forward: bool = False,
        greedy_loop: bool = True,
        state_dir: Path | None = None,
    ) -> None:
        """``jump_forward``: write the text a JSON schema fixes instead of sampling it (``jumpforward.py``);
        ``greedy_loop``: greedy structured replies by lingxi's own loop (see ``_walks``); ``state_dir``: where the
        context after a pinned prefix of messages is kept for later processes (``pin``, ``kvstate.py``); None: not
        kept."""
        super().__init__()
        self.model_path = Path(model_path)
        self.name = f"local:{self.model_path.name}"
        self.threads = threads
        self.context = context
        self.speculative = speculative
        self.seed = seed
        self.jump_forward = jump_forward
        self.greedy_loop = greedy_loop
        self._llm: Any = None
        self._formatter: Any = None
        self._grammars: dict[str, Any] = {}
        self._head: tuple[int, ...] | None = None  # what the chat template writes before a first user message
        self._lock = threading.Lock()
        self._segments: list[tuple[int, ...]] = []  # the messages in the context, each evaluated alone, in order
        self._forks: dict[str, LocalChatModel] = {}
        self.state_dir = state_dir
        self._pinned: dict[tuple[str, ...], Pinned] = {}  # by the messages' roles and texts

    @property
    def llm(self) -> Any:
        if self._llm is None:
            draft = None
            if self.speculative:
                from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

                draft = LlamaPromptLookupDecoding(num_pred_tokens=10)
            self._llm = load_llama(self.model_path, self.threads, self.context, seed=self.seed, draft_model=draft)
        return self._llm

    def fork(self, name: str = "second") -> ChatModel:
        """Another context over the same GGUF file (llama.cpp maps the weights, so they are in memory once): what
        it keeps of its prompts is its own. Made once per ``name``, on first use."""
        with self._lock:
            if name not in self._forks:
                self._forks[name] = LocalChatModel(self.model_path, self.threads, self.context, self.speculative,
                                                   self.seed, self.jump_forward, self.greedy_loop, self.state_dir)
            return self._forks[name]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False))

    def next_token_logprobs(self, messages: list[Message], candidates: list[str]) -> dict[str, float]:
        """Log-probabilities of each candidate's first token right after the assistant turn opens.

        Used for yes/no relevance scoring: one forward pass over the prompt, no sampling."""
        import numpy as np

        llm = self.llm
        prompt = self._chat_prompt(messages)
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        with self._lock:
            llm.reset()
            self._segments = []
            llm.eval(tokens)
            # llama-cpp-python keeps ``scores`` only with logits_all; without it the last token's logits are read
            # from the context (``scores`` stays zero, and every candidate would score the same)
            logits = np.array(np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)),
                              dtype=np.float64)
        logits = logits - logits.max()
        logp = logits - np.log(np.exp(logits).sum())
        out = {}
        for cand in candidates:
            ids = llm.tokenize(cand.encode("utf-8"), add_bos=False)
            out[cand] = float(logp[ids[0]]) if ids else float("-inf")
        return out

    @staticmethod
    def _chat_prompt(messages: list[Message]) -> str:
        """ChatML, the template of the bundled Qwen models, opened for the assistant's reply."""
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(parts) + "<|im_start|>assistant\n"

    def _kwargs(self, schema: dict[str, Any] | None, max_tokens: int, temperature: float,
                stop: list[str] | None) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "stop": stop, "seed": self.seed}
        if temperature == 0.0:
            kw["top_k"] = 1
        if schema is not None:
            kw["grammar"] = schema_grammar(self.llm, schema)  # not response_format: its literals are mis-escaped
        return kw

    def _segment(self, message: Message) -> tuple[int, ...]:
        text = f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n"
        return tuple(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _prefill(self, messages: list[Message]) -> None:
        """Bring the context to the prompt's messages before the last, each one evaluated on its own from where it
        starts, keeping every whole message already there from an earlier call.

        llama-cpp-python reuses the longest prefix a prompt shares with the previous one and evaluates the rest in
        batches from there; where those batches start changes the floating-point sums a little, and a greedy small
        model's answer can flip with them (the same question over the same passages answered two ways depending on
        the question asked before it). Here every message but the last is evaluated alone, starting at its own
        first token, so its state is the same whichever call read it first; the last message and the reply are
        left to the completion, which starts at the last message's first token every time. A conversation or an
        agent that keeps its passages in earlier messages then pays for them once, not on every call.

        A model whose chat template writes a system message of its own when the prompt has none (Qwen's does) puts
        it in front of the first message: that text is the first segment then, as the completion will see it
        (without it the completion found no prefix in common and evaluated the whole prompt again, every call)."""
        self._keep(messages[:-1], self._implicit_head(messages) if len(messages) > 1 else ())

    def _implicit_head(self, messages: list[Message]) -> tuple[int, ...]:
        """The tokens the chat template writes before the first message when that is not a system message (its own
        system message), or (). The template's, not the prompt's: found once, on a one-word prompt."""
        if not messages or messages[0].get("role") == "system":
            return ()
        if self._head is None:
            probe: Message = {"role": "user", "content": "hello"}
            first, prompt = self._segment(probe), self._prompt_tokens([probe])
            at = next((i for i in range(len(prompt) - len(first) + 1) if tuple(prompt[i: i + len(first)]) == first), 0)
            self._head = tuple(prompt[:at])
        return self._head

    def pin(self, messages: list[Message]) -> None:
        """With a ``state_dir``, the context after ``messages`` is written there the first time they are evaluated
        from the start, and read back instead of evaluating them when a later context (this process's or another's)
        starts with them."""
        key = tuple(f"{m['role']}\0{m['content']}" for m in messages)
        if self.state_dir is None or not messages or key in self._pinned:
            return
        with self._lock:
            head = self._implicit_head(messages)
            segments = tuple(([head] if head else []) + [self._segment(m) for m in messages])
            tokens = tuple(t for seg in segments for t in seg)
            path = kvstate.state_path(self.state_dir, self.model_path, self.context, tokens)
            self._pinned[key] = Pinned(segments, tokens, path)
            self._pinned = dict(sorted(self._pinned.items(), key=lambda kv: -len(kv[1].segments)))  # longest first

    def _restore(self, wanted: list[tuple[int, ...]], keep: int) -> int:
        """How many of ``wanted``'s segments the context holds after reading back the state of the longest pinned
        prefix of them that it does not hold yet (``keep`` when there is none on disk; 0 when one did not read
        back, which resets the context)."""
        for p in self._pinned.values():
            n = len(p.segments)
            if keep < n <= len(wanted) and tuple(wanted[:n]) == p.segments and p.path.is_file():
                if not kvstate.load(self.llm, p.path, p.tokens):
                    self._segments = []
                    return 0
                self._segments = list(p.segments)
                return n
        return keep

    def _save_pinned(self, wanted: list[tuple[int, ...]], n: int) -> None:
        """The context's state written to disk when its ``n`` segments are a pinned prefix not yet there."""
        p = next((p for p in self._pinned.values() if len(p.segments) == n and tuple(wanted[:n]) == p.segments), None)
        if p is not None and not p.path.is_file():
            try:
                kvstate.save(self.llm, p.path, p.tokens)
            except OSError:
                pass  # a read-only or full cache folder: the prefix is evaluated each time, as without one

    def prepare(self, messages: list[Message]) -> None:
        """Counted as a prompt of its own (``prompt_tokens`` less ``reused_tokens`` stays what was evaluated)."""
        with self._lock:
            self.prompt_tokens += sum(len(self._segment(m)) for m in messages)
            self._keep(messages, self._implicit_head(messages))

    def _keep(self, messages: list[Message], head: tuple[int, ...] = ()) -> None:
        """The context brought to ``messages`` (after ``head``, what the template writes before them), each
        evaluated on its own (see ``_prefill``)."""
        llm = self.llm
        wanted = ([head] if head else []) + [self._segment(m) for m in messages]
        keep, pos = 0, 0
        for seg, had in zip(wanted, self._segments):
            end = pos + len(seg)
            if seg != had or llm.n_tokens < end or tuple(llm.input_ids[pos:end]) != seg:
                break
            keep, pos = keep + 1, end
        if keep == 0:
            llm.reset()
        else:
            llm.n_tokens = pos
        self._segments = self._segments[:keep]
        if self._pinned and (got := self._restore(wanted, keep)) != keep:
            keep, pos = got, sum(len(seg) for seg in wanted[:got])
        for i, seg in enumerate(wanted[keep:], keep + 1):
            if llm.n_tokens + len(seg) >= self.context:
                break  # the completion reports the overflow
            llm.eval(list(seg))
            self._segments.append(seg)
            if self._pinned:
                self._save_pinned(wanted, i)
        self.reused_tokens += pos  # kept from an earlier call, or read back from disk

    def complete(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
                 temperature: float = 0.0, stop: list[str] | None = None) -> str:
        if schema is not None and not stop and self._walks(schema, temperature):
            with self._lock:
                self._prefill(messages)
                return "".join(self._jump(messages, schema, max_tokens, temperature))
        with self._lock:
            self._prefill(messages)
            out = self.llm.create_chat_completion(messages=messages, **self._kwargs(schema, max_tokens, temperature, stop))
        usage = out.get("usage") or {}
        self.calls += 1
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))
        return str(out["choices"][0]["message"]["content"] or "")

    def stream(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        with self._lock:
            if schema is not None and self._walks(schema, temperature):
                self._prefill(messages)
                yield from self._jump(messages, schema, max_tokens, temperature)
                return
            self.calls += 1
            self._prefill(messages)
            # a streamed completion reports no usage: its prompt is counted here, as `complete` counts it
            self.prompt_tokens += len(self.llm.tokenize(self._chat_prompt(messages).encode("utf-8"), add_bos=False,
                                                        special=True))
            for part in self.llm.create_chat_completion(
                messages=messages, stream=True, **self._kwargs(schema, max_tokens, temperature, None)
            ):
                piece = part["choices"][0]["delta"].get("content")
                if piece:
                    self.completion_tokens += 1
                    yield piece


    def _prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The prompt's tokens as ``create_chat_completion`` makes them: the model's own chat template (ChatML when
        the model file has none), opened for the reply, with a BOS token where the model wants one and the
        template did not write it."""
        llm = self.llm
        if self._formatter is None:
            template = llm.metadata.get("tokenizer.chat_template")
            if template:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                eos, bos = llm.token_eos(), llm.token_bos()
                self._formatter = Jinja2ChatFormatter(
                    template=template, eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                    bos_token=llm._model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
            else:
                self._formatter = False
        if not self._formatter:
            text, added = self._chat_prompt(messages), False
        else:
            result = self._formatter(messages=messages)
            text, added = str(result.prompt), bool(result.added_special)
        return list(llm.tokenize(text.encode("utf-8"), add_bos=not added, special=True))

    def _walks(self, schema: dict[str, Any], temperature: float) -> bool:
        """Whether a reply to ``schema`` is written here (``_jump``) rather than by ``create_chat_completion``: with
        jump-forward on, or when decoding is greedy (the grammar then is checked on the model's first choice only,
        the same tokens as llama.cpp's sampler picks, faster)."""
        return (self.jump_forward and walkable(schema)) or \
            (self.greedy_loop and temperature == 0.0 and not self.speculative)

    def _jump(self, messages: list[Message], schema: dict[str, Any], max_tokens: int,
              temperature: float) -> Iterator[str]:
        """A reply constrained to ``schema``, the pieces as they come: with jump-forward on, its fixed text written,
        not sampled; else the whole reply sampled under the schema's grammar. Called with the lock held and the
        context prefilled. A reply cut short by ``max_tokens`` stops where it is (and does not parse, as a cut
        grammar-constrained reply does not)."""
        llm = self.llm
        llm.set_seed(self.seed)
        prompt = self._prompt_tokens(messages)
        self.calls += 1
        self.prompt_tokens += len(prompt)
        # the context is the model's own tokens where it sampled and each literal's tokens where it was written
        ops = walk(schema) if self.jump_forward and walkable(schema) else jumpforward.whole(schema)
        ids, left = list(prompt), max_tokens
        op: Literal | Sample | None = next(ops)
        while op is not None:
            got: str | None = None
            if isinstance(op, Literal):
                ids += llm.tokenize(op.text.encode("utf-8"), add_bos=False, special=False)
                yield op.text
            else:
                try:
                    got, sampled, whole = yield from self._sample(ids, op, left, temperature)
                except BadInput as e:
                    raise BadInput(f"llama.cpp cannot parse the grammar built for schema "
                                   f"{json.dumps(schema, ensure_ascii=False)[:200]}: {e}") from e
                ids, left = ids + sampled, left - len(sampled)
                if not whole:
                    return
            op = next(ops, None) if got is None else _send(ops, got)

    def _sample(self, tokens: list[int], op: Sample, left: int,
                temperature: float) -> Generator[str, None, tuple[str, list[int], bool]]:
        """One value sampled after ``tokens`` (the prompt and the reply so far): its text, its tokens, and whether
        it is whole."""
        import codecs

        import llama_cpp

        llm = self.llm
        if len(tokens) + 1 >= self.context:
            raise ValueError(f"Requested tokens ({len(tokens) + 1}) exceed context window of {self.context}")
        if temperature == 0.0 and not self.speculative:
            gen = _greedy_tokens(llm, tokens, op.grammar)
        else:
            grammar = self._grammars.get(op.grammar)
            if grammar is None:
                grammar = self._grammars[op.grammar] = checked_grammar(llm, op.grammar)
            gen = llm.generate(tokens, temp=temperature, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0,
                               grammar=grammar)
        out, sampled, whole = b"", [], False
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pieces = []
        try:
            for token in gen:
                if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                    whole = True
                    break
                sampled.append(token)
                self.completion_tokens += 1
                raw = llm.detokenize([token])
                out += raw
                if piece := decoder.decode(raw):
                    pieces.append(piece)
                    yield piece
                if op.done(out):
                    whole = True
                    break
                if len(sampled) >= left or len(tokens) + len(sampled) + 1 >= self.context:
                    break
        finally:
            gen.close()
        if tail := decoder.decode(b"", final=True):
            pieces.append(tail)
            yield tail
        return "".join(pieces), sampled, whole


def _greedy_tokens(llm: Any, tokens: list[int], grammar: str) -> Generator[int, None, None]:
    """Greedy tokens after ``tokens`` under GBNF ``grammar``, as llama.cpp's grammar-then-greedy sampler picks them
    but with the grammar checked on the model's first choice only: the full vocabulary (150k tokens for the
    bundled models, a fifth of the time of a step) is masked only when that choice breaks the grammar. The
    context keeps what it shares with ``tokens``. A token is evaluated when the next one is asked for, so the
    caller that stops after a token has not paid for it."""
    import ctypes

    import llama_cpp
    import numpy as np

    vocab, n_vocab = llm._model.vocab, llm.n_vocab()
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    if not sampler:
        raise BadInput(f"llama.cpp cannot parse the grammar {grammar[:200]!r}")
    try:
        have = min(llm.n_tokens, len(tokens) - 1)  # at least the last token is evaluated: its logits are needed
        same = np.asarray(llm.input_ids[:have]) == np.asarray(tokens[:have], dtype=llm.input_ids.dtype)
        llm.n_tokens = int(have if same.all() else same.argmin())
        llm.eval(tokens[llm.n_tokens:])
        one = (llama_cpp.llama_token_data * 1)()
        every = np.zeros(n_vocab, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)]))
        every["id"] = np.arange(n_vocab)
        while True:
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
            token = int(logits.argmax())
            one[0] = llama_cpp.llama_token_data(token, float(logits[token]), 0.0)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(llama_cpp.llama_token_data_array(one, 1, -1, False)))
            if not np.isfinite(one[0].logit):  # the first choice breaks the grammar: mask every token
                every["logit"] = logits
                llama_cpp.llama_sampler_apply(sampler, ctypes.byref(llama_cpp.llama_token_data_array(
                    every.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)), n_vocab, -1, False)))
                token = int(every["logit"].argmax())
                if not np.isfinite(every["logit"][token]):
                    return  # nothing continues the grammar
            llama_cpp.llama_sampler_accept(sampler, token)
            yield token
            llm.eval([token])
    finally:
        llama_cpp.llama_sampler_free(sampler)


def _send(ops: Generator[Literal | Sample, str | None, None], value: str) -> Literal | Sample | None:
    try:
        return ops.send(value)
    except StopIteration:
        return None


class OpenAIChatModel(ChatModel):
    """Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp server, hosted APIs."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0,
                 retries: int = 3, context: int = 8192) -> None:
        super().__init__()
        self.base_url = check_base_url(base_url, "LLM")
        self.model = model
        self.name = f"openai:{model}"
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.context = context

    def stream(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        """The reply's pieces as the server sends them (``stream: true``, server-sent events)."""
        payload = self._payload(messages, schema, max_tokens, temperature, None)
        payload["stream"] = True
        self.calls += 1
        for event in post_events(f"{self.base_url}/chat/completions", payload, api_key=self.api_key,
                                 timeout=self.timeout, retries=self.retries, what="LLM server"):
            usage = event.get("usage") or {}
            self.prompt_tokens += int(usage.get("prompt_tokens", 0))
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    self.completion_tokens += 1
                    yield str(piece)

    def _payload(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int, temperature: float,
                 stop: list[str] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                   "temperature": temperature, "seed": 0}
        if stop:
            payload["stop"] = stop
        if schema is not None:
            # llama.cpp's server reads "schema" on json_object; vLLM and OpenAI read json_schema.
            payload["response_format"] = {"type": "json_object", "schema": schema}
        return payload

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        return post_json(f"{self.base_url}/chat/completions", payload, api_key=self.api_key, timeout=self.timeout,
                         retries=self.retries, what="LLM server")

    def complete(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
                 temperature: float = 0.0, stop: list[str] | None = None) -> str:
        out = self._post(self._payload(messages, schema, max_tokens, temperature, stop))
        try:
            content = out["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise ModelOutputError(f"{self.name}: reply is not a chat completion: {str(out)[:200]}") from e
        usage = out.get("usage") or {}
        self.calls += 1
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))
        return str(content or "")
