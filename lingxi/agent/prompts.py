"""Prompts are data files in ``prompts/``; this module only loads and fills them. ``LINGXI_AGENT_PROMPTS`` names a
folder whose ``<name>.txt`` files are used instead of the bundled ones of the same name (the rest stay bundled)."""

from __future__ import annotations

import os
from pathlib import Path

from lingxi.errors import BadInput
from lingxi.prompting import load_prompt
from lingxi.text import is_chinese, language_rule

PROMPTS = Path(__file__).parent / "prompts"
__all__ = ["is_chinese", "language_rule", "render", "template"]


def template(name: str) -> str:
    own = os.environ.get("LINGXI_AGENT_PROMPTS", "").strip()
    if own:
        folder = Path(own).expanduser()
        if not folder.is_dir():
            raise BadInput(f"LINGXI_AGENT_PROMPTS: {own} is not a folder")
        if (folder / f"{name}.txt").is_file():
            return load_prompt(folder.resolve(), name)
    return load_prompt(PROMPTS, name)


def render(name: str, **values: object) -> str:
    try:
        return template(name).format(**values)
    except (KeyError, IndexError, ValueError) as e:
        raise BadInput(f"prompt {name!r}: cannot fill it ({type(e).__name__}: {e}); placeholders are "
                       f"{', '.join(sorted(values))}, and literal braces are written {{{{ }}}}") from e
