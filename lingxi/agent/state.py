"""What one run of the agent knows: its configuration, the plan, what each search found and each read verified."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lingxi.agent.steps import SubQuestion
from lingxi.errors import BadInput
from lingxi.prompting import Prompts
from lingxi.text import language
from lingxi.types import Citation, Hit, Step

if TYPE_CHECKING:
    from lingxi.agent.loop import SearchAgent

PROMPTS = Prompts(Path(__file__).parent / "prompts", env="LINGXI_AGENT_PROMPTS")  # every step's prompt
REPAIRS = ("split_asks", "asked_parts", "echo_answer", "unstated_parts", "number_answer")
# Repairs that acted on a test split without changing an answer were deleted (echo_reread, unpooled_names, bridge at
# stop 38; echo_unverified at stop 42, whose check a read's verification now makes; split_parallel at stop 43):
# docs/history/agent-repairs-deleted.patch, agent-repair-echo-unverified.patch and agent-repair-split-parallel.patch
# bring them back for another ablation.
DEFAULT_REPAIRS = REPAIRS


def pick_repairs(spec: str | None) -> tuple[str, ...]:
    """Repairs from "default" (every repair; also when nothing is given), "all", "none", a comma-separated list, or
    "all,-number_answer" (all but those after a minus; a leading minus takes from all)."""
    if spec is None or not spec.strip():
        return DEFAULT_REPAIRS
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    out: list[str] = []
    for k in keys:
        name = k.lstrip("-")
        if name not in REPAIRS + ("all", "default", "none"):
            raise BadInput(f"repairs: {name!r} is not one of all, default, none, {', '.join(REPAIRS)}")
        if k.startswith("-"):
            out = [r for r in (out or list(REPAIRS)) if r != name]
        elif name == "all":
            out = list(REPAIRS)
        elif name == "default":
            out = list(DEFAULT_REPAIRS)
        elif name != "none":
            out.append(name)
    return tuple(r for r in REPAIRS if r in out)


def first(hits: list[Hit], n: int) -> list[Hit]:
    """The first ``n`` hits a search ranked, each with the passages shown beside it (``signals["beside"]``)."""
    ranked = {h.chunk.id for h in [h for h in hits if "beside" not in h.signals][:n]}
    return [h for h in hits if h.chunk.id in ranked or h.signals.get("beside") in ranked]


@dataclass(frozen=True)
class AgentConfig:
    max_subquestions: int = 3
    k: int = 6  # hits per search
    read_k: int = 4  # passages a sub-question's read shows the model
    answer_k: int = 5  # passages the answer step reads, pooled round-robin over every search (as many as RAG reads)
    passage_chars: int = 700
    max_llm_calls: int = 12
    max_seconds: float = 300.0
    retries: int = 1  # extra tries for a model reply that does not parse
    searches_per_subquestion: int = 2
    answer_rounds: int = 2  # when the passages do not answer: one more search, then answer again
    early_stop: bool = True  # every hop that ends the plan verified: the answer is theirs, no answer call
    # reading room: every passage a run reads stays in front of the model, added once, numbered once; each call is
    # the room plus its own ask, so a local model reads each passage once per run (LocalChatModel keeps whole earlier
    # messages in its context)
    # (on by default: on the test split it scored higher at fewer tokens, docs/BENCHMARKS.md "Agent: reading room")
    room: bool = field(default_factory=lambda: os.environ.get("LINGXI_AGENT_ROOM", "1") not in ("0", "", "off"))
    # a passage shorter than this (a chapter heading, a caption, a list line) says little alone: a read shows the
    # passages beside it in its note too, each its own passage (so a citation still names its own place); 0: off
    context_chars: int = field(default_factory=lambda: int(os.environ.get("LINGXI_AGENT_CONTEXT_CHARS", "40")))
    # the question searched once more as the model writes it in the other language, when the first search's hits
    # are in a language the question is not (notes in Chinese and English); on: on the realworld set's
    # cross-lingual questions it raised accuracy on dev and test (docs/BENCHMARKS.md, "Stop 39")
    translate: bool = field(default_factory=lambda: os.environ.get("LINGXI_AGENT_TRANSLATE", "1") not in ("0", "", "off"))
    room_reserve: int = 1024  # context tokens kept free of the room for the system message, the ask and the reply
    repairs: tuple[str, ...] = field(default_factory=lambda: pick_repairs(os.environ.get("LINGXI_AGENT_REPAIRS")))

    def __post_init__(self) -> None:
        bad = [r for r in self.repairs if r not in REPAIRS]
        if bad:
            raise BadInput(f"repairs: {bad[0]!r} is not one of {', '.join(REPAIRS)}")


@dataclass(frozen=True)
class Finding:
    """A sub-question's answer, verified in a passage (``quote`` is a verbatim sentence of its chunk)."""

    sq_id: int
    question: str
    answer: str
    hit: Hit
    quote: str


@dataclass
class Run:
    agent: SearchAgent
    question: str
    started: float = field(default_factory=time.perf_counter)
    sub_questions: list[SubQuestion] = field(default_factory=list)
    answers: dict[int, str] = field(default_factory=dict)  # verified answers by sub-question id
    findings: list[Finding] = field(default_factory=list)
    results: list[list[Hit]] = field(default_factory=list)  # every search's hits, in order
    queries: set[str] = field(default_factory=set)
    room: list[Hit] = field(default_factory=list)  # the reading room: passages in the order they were shelved
    room_batches: list[str] = field(default_factory=list)  # the room as the messages that show it
    room_tokens: int = 0
    steps: list[Step] = field(default_factory=list)
    llm_calls: int = 0
    llm_seconds: float = 0.0
    search_seconds: float = 0.0
    # the latest read of a hop: which, over what, its finding
    last_read: tuple[SubQuestion, list[Hit], Finding | None] | None = None
    # the answer as it stands
    text: str = ""
    short: str = ""
    citations: tuple[Citation, ...] = ()
    found: bool = False
    composed: bool = False  # from verified findings, without an answer call

    @property
    def lang(self) -> str:
        return language(self.question)

    @property
    def config(self) -> AgentConfig:
        return self.agent.config

    def ends(self) -> list[SubQuestion]:
        """The sub-questions no other rests on."""
        return [s for s in self.sub_questions if not any(s.id in o.depends_on for o in self.sub_questions)]

    def wanted(self) -> list[SubQuestion]:
        """The sub-questions whose answers the answer states: the user's own when it asked several, else the ends."""
        return [s for s in self.sub_questions if s.asked] or self.ends()

    def exhausted(self) -> bool:
        return (self.llm_calls >= self.config.max_llm_calls
                or time.perf_counter() - self.started >= self.config.max_seconds)
