"""Group chat: several personas in one conversation with a user, each with its own memory.

For each message the group decides who speaks: the persona(s) the user addresses by name, otherwise the most
relevant one — the message's embedding against each persona's profile (description, style, what it may do)
and against what that persona remembers of the user. A second persona joins when its relevance is within
``join_margin`` of the first's. A later speaker sees what the earlier ones said in the same round."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from lingxi.companion.chat import Companion, CompanionConfig
from lingxi.companion.persona import Persona
from lingxi.errors import BadInput
from lingxi.llm.chat import ChatModel

if TYPE_CHECKING:
    from lingxi.library import Library


@dataclass
class GroupConfig:
    max_speakers: int = 2
    join_margin: float = 0.02  # a second persona speaks when its relevance is this close to the first's
    memory_weight: float = 0.5  # share of relevance from the persona's own memories of the user


def addressed(message: str, personas: Sequence[Persona]) -> list[Persona]:
    """Personas named in the message ("@阿乐", "团子，…", "Tuanzi, …"), in the order they are named."""
    found = []
    for p in personas:
        names = [p.name, p.id] + re.findall(r"\(([A-Za-z][A-Za-z ]+)\)", p.voice.split("\n")[0])[:1]
        pos = [m.start() for n in names if n
               for m in re.finditer(r"(?<![A-Za-z])" + re.escape(n) + r"(?![A-Za-z])", message, re.I)]
        if pos:
            found.append((min(pos), p))
    return [p for _, p in sorted(found, key=lambda x: x[0])]


class GroupChat:
    def __init__(self, lib: Library, chat: ChatModel, personas: Sequence[Persona],
                 config: CompanionConfig | None = None, group: GroupConfig | None = None,
                 memory_chat: ChatModel | None = None) -> None:
        if len(personas) < 2:
            raise BadInput("a group chat needs at least two personas")
        if len({p.id for p in personas}) != len(personas):
            raise BadInput("a persona can join a group chat only once")
        self.lib = lib
        self.group = group or GroupConfig()
        self.members = [Companion(lib, chat, p, config, memory_chat=memory_chat) for p in personas]
        self._profiles: np.ndarray | None = None

    def relevance(self, user: str, message: str, now: float) -> list[tuple[Companion, float]]:
        """Members by relevance to the message, best first."""
        emb = self.lib.embedder
        if emb is None:
            return [(m, 0.0) for m in self.members]
        if self._profiles is None:
            self._profiles = emb.embed([f"{m.persona.name}: {m.persona.description} " + " ".join(
                m.persona.style + m.persona.may) for m in self.members], "passage")
        q = emb.embed([message], "query")[0]
        out = []
        for i, m in enumerate(self.members):
            score = float(self._profiles[i] @ q)
            recalled = m.memory(user).recall(message, now, k=1, query_vector=q)
            if recalled:
                v = m.memory(user).vectors([recalled[0].id]).get(recalled[0].id)
                if v is not None and v.shape == q.shape:
                    score += self.group.memory_weight * max(0.0, float(v @ q) - 0.8)
            out.append((m, score))
        return sorted(out, key=lambda x: -x[1])

    def speakers(self, user: str, message: str, now: float) -> list[Companion]:
        named = addressed(message, [m.persona for m in self.members])
        if named:
            return [m for p in named for m in self.members if m.persona.id == p.id][: self.group.max_speakers]
        ranked = self.relevance(user, message, now)
        top = ranked[0][1]
        return [m for m, s in ranked if s >= top - self.group.join_margin][: self.group.max_speakers]

    def respond(self, user: str, message: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """One round: the chosen personas reply in turn; each remembers the round in its own memory."""
        if not message.strip():
            raise BadInput("the message is empty")
        now = now or datetime.now(UTC).replace(tzinfo=None)
        chosen = self.speakers(user, message, now.replace(tzinfo=UTC).timestamp())
        out: list[dict[str, Any]] = []
        for m in chosen:
            said = "".join(f"\n({o['name']} just said: {o['reply']})" for o in out)
            r = m.respond(user, message + said if said else message, now)
            out.append({**r, "name": m.persona.name})
        return out

    def flush(self, user: str | None = None, now: datetime | None = None) -> None:
        for m in self.members:
            m.flush(user, now)
