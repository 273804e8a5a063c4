"""The agent's steps, one small dataclass each; a run is the list of them (the CLI prints them, the API streams them).

Each is a ``lingxi.types.Step`` whose ``kind`` and ``detail`` are filled from its typed fields, so code that reads
steps as plain records (evaluations, JSON output) keeps working."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lingxi.types import Step


@dataclass(frozen=True, kw_only=True)
class Typed(Step):
    kind: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("kind", "detail", "seconds", "error")}
        object.__setattr__(self, "kind", type(self).__name__.lower())
        object.__setattr__(self, "detail", {k: _plain(v) for k, v in own.items()})


def _plain(v: Any) -> Any:
    if isinstance(v, SubQuestion):
        return asdict(v)
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    return v


@dataclass(frozen=True)
class SubQuestion:
    id: int
    question: str
    depends_on: tuple[int, ...] = ()
    asked: bool = False  # the user's own question (its answer belongs in the answer)


@dataclass(frozen=True, kw_only=True)
class Plan(Typed):
    sub_questions: tuple[SubQuestion, ...]
    source: str = "model"  # or the repair that planned it


@dataclass(frozen=True, kw_only=True)
class Search(Typed):
    query: str
    hits: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Read(Typed):
    question: str
    answer: str = ""
    found: bool = False
    verified: bool = False
    chunk_ids: tuple[str, ...] = ()
    quote: str = ""
    sub_question: int = 0


@dataclass(frozen=True, kw_only=True)
class Gather(Typed):  # the passages the answer step reads
    passages: tuple[dict[str, Any], ...] = ()
    chunk_ids: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Draft(Typed):  # what the model wrote, and how many of its citations held
    answer: str = ""
    short_answer: str = ""
    found: bool = False
    cited: int = 0


@dataclass(frozen=True, kw_only=True)
class Fix(Typed):  # a named repair that changed the run, and how
    name: str
    reason: str
    change: str = ""


@dataclass(frozen=True, kw_only=True)
class Call(Typed):  # a model call whose reply did not parse (or was not made): recorded, retried within the budget
    step: str
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class Token(Typed):  # a piece of the answer step's text as the model writes it: streamed, not kept in the run's steps
    text: str


@dataclass(frozen=True, kw_only=True)
class Answer(Typed):
    answer: str
    short_answer: str = ""
    citations: int = 0
    found: bool = True
