"""Prompts are data files in ``prompts/``; this module only loads and fills them."""

from __future__ import annotations

from pathlib import Path

from lingxi.prompting import load_prompt

PROMPTS = Path(__file__).parent / "prompts"


def template(name: str) -> str:
    return load_prompt(PROMPTS, name)


def render(name: str, **values: object) -> str:
    return template(name).format(**values)


def language_rule(question: str) -> str:
    if any("\u3400" <= c <= "\u9fff" for c in question):
        return "用中文回答。"
    return "Answer in English."


def is_chinese(question: str) -> bool:
    return any("\u3400" <= c <= "\u9fff" for c in question)
