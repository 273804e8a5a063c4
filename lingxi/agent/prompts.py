"""Prompts are data files in ``prompts/``; this module only loads and fills them."""

from __future__ import annotations

from pathlib import Path

from lingxi.agent.text import is_chinese, language_rule
from lingxi.prompting import load_prompt

PROMPTS = Path(__file__).parent / "prompts"
__all__ = ["is_chinese", "language_rule", "render", "template"]


def template(name: str) -> str:
    return load_prompt(PROMPTS, name)


def render(name: str, **values: object) -> str:
    return template(name).format(**values)
