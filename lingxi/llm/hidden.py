"""Hidden-state vectors from the local LLM (llama.cpp embedding mode, last-token pooling).

NoteLLM's compression embedding: the LLM reads a note inside a "compress this note into one
word" prompt and the hidden state at the position where the word would be generated is the
note's vector. Only a model we run ourselves exposes hidden states; an OpenAI-compatible chat
server does not, so this class is local-only."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lingxi.llm.chat import load_llama

LAST_TOKEN_POOLING = 3  # llama.cpp's LLAMA_POOLING_TYPE_LAST


class LocalHiddenState:
    def __init__(self, model_path: Path, threads: int = 2, context: int = 512) -> None:
        self.model_path = Path(model_path)
        self.name = f"hidden-last:{self.model_path.name}"
        self.threads = threads
        self.context = context
        self._llm: Any = None
        self._lock = threading.Lock()

    @property
    def llm(self) -> Any:
        if self._llm is None:
            self._llm = load_llama(self.model_path, self.threads, self.context, n_batch=self.context,
                                   n_ubatch=self.context, embedding=True,
                                   pooling_type=LAST_TOKEN_POOLING)
        return self._llm

    @property
    def dim(self) -> int:
        return int(self.llm.n_embd())

    def chat_prefix(self, user: str, answer_prefix: str) -> str:
        """A chat-template prompt that stops where the assistant's answer would begin (ChatML, as Qwen uses)."""
        return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{answer_prefix}"

    def embed(self, prompts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(prompts), self.dim), dtype=np.float32)
        with self._lock:
            for i, p in enumerate(prompts):
                toks = self.llm.tokenize(p.encode("utf-8"), add_bos=False, special=True)
                if len(toks) > self.context:  # keep the instruction's end: cut the middle of the note
                    keep = self.context // 2
                    toks = toks[:keep] + toks[-(self.context - keep):]
                    p = self.llm.detokenize(toks, special=True).decode("utf-8", "ignore")
                v = np.asarray(self.llm.embed(p, normalize=True, truncate=True), dtype=np.float32)
                out[i] = v.reshape(-1)[: self.dim]
                if progress and ((i + 1) % 25 == 0 or i + 1 == len(prompts)):
                    progress(i + 1, len(prompts))
        return out
