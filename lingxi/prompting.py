"""Prompts are data files (``<package>/prompts/<name>.txt``); this loads them once and fills them. A ``Prompts``
set may name an environment variable whose folder's ``<name>.txt`` files are used instead of the bundled ones of
the same name (the rest stay bundled)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lingxi.errors import BadInput


@cache
def load_prompt(folder: Path, name: str) -> str:
    return (folder / f"{name}.txt").read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Prompts:
    folder: Path
    env: str = ""  # e.g. LINGXI_AGENT_PROMPTS: a folder of prompts used instead of the bundled ones

    def template(self, name: str) -> str:
        own = os.environ.get(self.env, "").strip() if self.env else ""
        if own:
            folder = Path(own).expanduser()
            if not folder.is_dir():
                raise BadInput(f"{self.env}: {own} is not a folder")
            if (folder / f"{name}.txt").is_file():
                return load_prompt(folder.resolve(), name)
        return load_prompt(self.folder, name)

    def render(self, name: str, **values: object) -> str:
        try:
            return self.template(name).format(**values)
        except (KeyError, IndexError, ValueError) as e:
            raise BadInput(f"prompt {name!r}: cannot fill it ({type(e).__name__}: {e}); placeholders are "
                           f"{', '.join(sorted(values))}, and literal braces are written {{{{ }}}}") from e
