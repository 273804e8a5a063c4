"""Prompts are data files (``<package>/prompts/<name>.txt``); this loads them once."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def load_prompt(folder: Path, name: str) -> str:
    return (folder / f"{name}.txt").read_text(encoding="utf-8").strip()
