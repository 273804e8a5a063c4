"""Personas are YAML data: name, kind, voice and style, what they may and may not do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lingxi.errors import BadInput, NotFound

BUILTIN = Path(__file__).parent / "personas"
PERSONA_KINDS = ("pet", "assistant", "group-chat character")
MEMORY_SCOPES = ("persona", "shared")


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    kind: str
    voice: str
    style: tuple[str, ...] = ()
    may: tuple[str, ...] = ()
    may_not: tuple[str, ...] = ()
    greeting: str = ""
    uses_search: bool = False
    description: str = ""
    memory: str = "persona"  # "persona": its own memories; "shared": memories every persona of the user sees
    voices: tuple[tuple[str, str], ...] = ()  # (language, voice spec) for speech: ("en", "piper:en_US-joe-medium")
    path: str = field(default="", compare=False)

    def voice_for(self, lang: str) -> str | None:
        return dict(self.voices).get(lang)


def parse_persona(data: Any, where: str) -> Persona:
    if not isinstance(data, dict):
        raise BadInput(f"{where}: a persona is a YAML mapping")
    missing = [k for k in ("id", "name", "kind", "voice") if not str(data.get(k) or "").strip()]
    if missing:
        raise BadInput(f"{where}: persona lacks {', '.join(missing)}")
    if data["kind"] not in PERSONA_KINDS:
        raise BadInput(f"{where}: kind {data['kind']!r} is not one of {', '.join(PERSONA_KINDS)}")

    def strings(key: str) -> tuple[str, ...]:
        v = data.get(key) or []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise BadInput(f"{where}: {key} must be a list of strings")
        return tuple(v)

    memory = str(data.get("memory") or "persona")
    if memory not in MEMORY_SCOPES:
        raise BadInput(f"{where}: memory {memory!r} is not one of {', '.join(MEMORY_SCOPES)}")
    voices = data.get("speech") or {}
    if not isinstance(voices, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in voices.items()):
        raise BadInput(f"{where}: speech must map a language (en, zh) to a voice such as 'piper:en_US-joe-medium'")
    return Persona(str(data["id"]), str(data["name"]), str(data["kind"]), str(data["voice"]).strip(),
                   strings("style"), strings("may"), strings("may_not"), str(data.get("greeting") or ""),
                   bool(data.get("uses_search", False)), str(data.get("description") or ""), memory,
                   tuple(sorted(voices.items())), where)


def load_file(path: Path) -> Persona:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise BadInput(f"{path}: not a readable YAML persona ({e})") from e
    return parse_persona(data, str(path))


def available(extra: Path | None = None) -> dict[str, Persona]:
    """Built-in personas plus ``extra/*.yaml`` (e.g. $LINGXI_HOME/personas), later ones overriding by id."""
    out: dict[str, Persona] = {}
    for folder in [BUILTIN] + ([extra] if extra and extra.is_dir() else []):
        for f in sorted(folder.glob("*.yaml")):
            p = load_file(f)
            out[p.id] = p
    return out


def load(name: str, extra: Path | None = None) -> Persona:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return load_file(p)
    found = available(extra)
    if name not in found:
        raise NotFound(f"no persona {name!r}; available: {', '.join(sorted(found))}")
    return found[name]
