"""Prompts are data files (``<package>/prompts/<name>.txt``); this loads them once."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def load_prompt(folder: Path, name: str) -> str:
    return (folder / f"{name}.txt").read_text(encoding="utf-8").strip()


def head_and_ask(text: str) -> tuple[str, str]:
    """A prompt split before its last paragraph: what stays the same across calls (instructions, examples, a
    context) and the ask. Sent as two messages, a model that keeps earlier messages in its context reads the head
    once; joined by a blank line they are the prompt again."""
    head, ask = text.rsplit("\n\n", 1)
    return head, ask
