"""LLM reranker behind the Reranker seam: P(yes) that a passage answers the query, from the local model's logits."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Protocol

from lingxi.types import Hit

PROMPT = (
    "Judge whether the passage helps answer the query. Reply with yes or no.\n\n"
    "Query: {query}\n\nPassage ({title}):\n{text}\n\nDoes the passage help answer the query?"
)


class LogprobModel(Protocol):
    def next_token_logprobs(self, messages: list[dict[str, str]], candidates: list[str]) -> dict[str, float]: ...


class LLMReranker:
    """Reorders the top ``depth`` hits by P(yes) ∝ exp(logp('yes')) / (exp(logp('yes')) + exp(logp('no')))."""

    def __init__(self, model: LogprobModel, depth: int = 10, passage_chars: int = 500) -> None:
        self.model = model
        self.depth = depth
        self.passage_chars = passage_chars

    def score(self, query: str, hit: Hit) -> float:
        msg = PROMPT.format(query=query, title=hit.title, text=hit.chunk.text[: self.passage_chars])
        lp = self.model.next_token_logprobs([{"role": "user", "content": msg}], ["yes", "no", "Yes", "No"])
        yes = math.exp(lp["yes"]) + math.exp(lp["Yes"])
        no = math.exp(lp["no"]) + math.exp(lp["No"])
        return yes / (yes + no) if yes + no > 0 else 0.0

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        head, tail = hits[: self.depth], hits[self.depth :]
        scored = [(self.score(query, h), i, h) for i, h in enumerate(head)]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [replace(h, signals={**h.signals, "rerank": round(s, 4)}) for s, _, h in scored] + tail
