"""Chat models. A backend implements ``complete`` (and may override ``stream``); JSON parsing and checks live here.

Every structured step passes a JSON schema: the local backend turns it into a llama.cpp
grammar, so even a 0.5B model can only emit text that parses; OpenAI-compatible
servers get it as ``response_format``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingxi.errors import BackendUnavailable, ModelOutputError
from lingxi.llm.grammar import schema_grammar
from lingxi.llm.http import check_base_url, post_events, post_json

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

    def fork(self, name: str = "second") -> ChatModel:
        """A model that replies as this one does from a context of its own (a backend that keeps earlier messages
        in its context returns another one, made once per ``name``; others return themselves)."""
        return self

    def count_tokens(self, text: str) -> int:
        """Token count; backends with a tokenizer override this. The estimate errs high for CJK."""
        cjk = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
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


class LocalChatModel(ChatModel):
    """A GGUF model run in-process by llama-cpp-python. Loads on first use."""

    def __init__(
        self,
        model_path: Path,
        threads: int = 2,
        context: int = 4096,
        speculative: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.model_path = Path(model_path)
        self.name = f"local:{self.model_path.name}"
        self.threads = threads
        self.context = context
        self.speculative = speculative
        self.seed = seed
        self._llm: Any = None
        self._lock = threading.Lock()
        self._segments: list[tuple[int, ...]] = []  # the messages in the context, each evaluated alone, in order
        self._forks: dict[str, LocalChatModel] = {}

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
                                                   self.seed)
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
        agent that keeps its passages in earlier messages then pays for them once, not on every call."""
        llm = self.llm
        wanted = [self._segment(m) for m in messages[:-1]]
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
        for seg in wanted[keep:]:
            if llm.n_tokens + len(seg) >= self.context:
                break  # the completion reports the overflow
            llm.eval(list(seg))
            self._segments.append(seg)
        self.reused_tokens += pos

    def complete(self, messages: list[Message], *, schema: dict[str, Any] | None = None, max_tokens: int = 512,
                 temperature: float = 0.0, stop: list[str] | None = None) -> str:
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
