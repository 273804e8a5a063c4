"""Interest exploration against the filter bubble.

A proposer reads a user's recent notes and proposes topics the user has NOT engaged with but
plausibly would. Topics come only from the corpus taxonomy (tags that several notes carry), so a
proposal can never point at a topic with no notes: the LLM's output is constrained by a JSON schema
whose ``topic`` field is an enum of those topics, and is checked again after parsing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lingxi.errors import BadInput, ModelOutputError
from lingxi.llm.chat import ChatModel
from lingxi.rec.features import Item, prompt


@dataclass(frozen=True)
class Proposal:
    topic: str
    reason: str


class Taxonomy:
    """topic → catalogue rows; a topic needs at least ``min_notes`` notes."""

    def __init__(self, items: Sequence[Item], min_notes: int = 2) -> None:
        rows: dict[str, list[int]] = defaultdict(list)
        for i, it in enumerate(items):
            for t in dict.fromkeys(it.tags):
                rows[t].append(i)
        self.rows = {t: r for t, r in sorted(rows.items()) if len(r) >= min_notes}
        self.of_item: list[tuple[str, ...]] = [tuple(t for t in dict.fromkeys(it.tags) if t in self.rows)
                                               for it in items]

    @property
    def topics(self) -> list[str]:
        return list(self.rows)

    def known(self, history: Sequence[int], min_share: float = 0.0, recent: int = 0) -> list[str]:
        """Topics in the history (most frequent first); with ``min_share``, only those that make up more than
        that share of the (``recent`` last) items' topics — a topic touched once in a long history is not an
        interest yet."""
        hist = list(history)[-recent:] if recent else history
        c = Counter(t for i in hist for t in self.of_item[i])
        total = sum(c.values()) or 1
        return [t for t, n in c.most_common() if n / total > min_share]


INTEREST_SHARE = 0.05
INTEREST_RECENT = 50
# Explore slots show a new interest through notes no more popular than this quantile of the popularity of the
# notes in the user's own history (a user who watches niche films is shown niche notes of the new topic, a
# mainstream user mainstream-ish ones; without a history, of all engaged notes).
EXPLORE_TAIL = 0.5
# ... taken in the order of co-engagement with the user's last few notes ("recent": what people who engaged with
# those notes also engaged with — the next step of the user's current session), each note's score divided by
# (1 + its popularity) ** EXPLORE_LIFT so a note that is engaged with everything does not win by being popular;
# or in the ranker's own order ("ranked": the notes the ranker scores highest for this user across all proposed
# topics), or by similarity to the user's main interest ("affinity"); ties by that similarity.
EXPLORE_ORDER = "recent"
EXPLORE_ORDERS = ("recent", "ranked", "affinity")
EXPLORE_LIFT = 0.6
RECENT_NOTES = 5  # how many of the last notes the "recent" order reads
# How many topics a proposer is asked for: more topics give the explore slots more candidates to choose from.
EXPLORE_TOPICS = 6
# "recent", 0.6 and 0.5 were chosen on MovieLens' validation item (docs/BENCHMARKS.md, stop 15): the smallest
# Recall@20 loss among the settings that raise coverage and novelty by ≥ 20% there.
# The LLM proposer sees co-engagement evidence for each available topic (LLMProposer.fit).
EXPLORE_EVIDENCE = True
EVIDENCE_SPARE = 2  # ... and chooses its n topics among the n + 2 with the most evidence
REASON_CHARS = 120  # the longest one-line reason a proposal may give
TITLE_CHARS = 60  # the longest note title a reason quotes
# Bumped when what a proposer returns changes (2: reasons made of facts), so that proposals cached per user are made
# again instead of showing the old kind until the user's next event.
PROPOSAL_FORMAT = 2


def interests_of(history: Sequence[int], taxonomy: Taxonomy) -> list[str]:
    """The user's current interests: topics above 5% of their last 50 notes' topics."""
    return taxonomy.known(history, INTEREST_SHARE, INTEREST_RECENT)


class Proposer:
    name = "proposer"

    def propose(self, history: Sequence[int], items: Sequence[Item], taxonomy: Taxonomy, n: int) -> list[Proposal]:
        raise NotImplementedError

    def fit(self, population: CoEngagementProposer) -> Proposer:
        """A proposer that weighs what the population engages with takes it here; the default needs nothing."""
        return self


class CoEngagementProposer(Proposer):
    """No LLM: topics that users sharing this user's topics engage with, that this user has not."""

    name = "co-engagement"

    def __init__(self, histories: Sequence[Sequence[int]], taxonomy: Taxonomy) -> None:
        self.pair: dict[str, Counter[str]] = defaultdict(Counter)
        for h in histories:
            ts = set(taxonomy.known(h))
            for a in ts:
                for b in ts:
                    if a != b:
                        self.pair[a][b] += 1

    def evidence(self, history: Sequence[int], taxonomy: Taxonomy) -> tuple[Counter[str], dict[str, str]]:
        """Each topic new to the user → how many users share it with one of the user's top 5 interests, and the
        interest that contributes it first."""
        known = interests_of(history, taxonomy)
        score: Counter[str] = Counter()
        why: dict[str, str] = {}
        for t in known[:5]:
            for u, c in self.pair[t].items():
                if u not in known:
                    score[u] += c
                    why.setdefault(u, t)
        return score, why

    def reason(self, topic: str, why: str | None, history: Sequence[int], items: Sequence[Item],
               taxonomy: Taxonomy) -> str:
        """A one-line reason made only of facts: how many users engage with both the user's interest ``why`` and
        ``topic``, and the user's latest note on ``why`` (without such an interest: how many notes the topic has)."""
        if why is None:
            return f"new to you: {len(taxonomy.rows.get(topic, [])):,} notes on {topic}"
        n = self.pair[why].get(topic, 0)
        who = f"1 person who engages with {why} also engages" if n == 1 else \
            f"{n:,} people who engage with {why} also engage"
        note = next((items[i].title for i in reversed(history) if why in taxonomy.of_item[i]), "")
        mine = f"you engaged with {why} (“{note[:TITLE_CHARS]}”); " if note else ""
        return f"{mine}{who} with {topic}"

    def propose(self, history: Sequence[int], items: Sequence[Item], taxonomy: Taxonomy, n: int) -> list[Proposal]:
        score, why = self.evidence(history, taxonomy)
        return [Proposal(t, self.reason(t, why[t], history, items, taxonomy)) for t, _ in score.most_common(n)]


class LLMProposer(Proposer):
    """The LLM reads the user's recent notes and picks new topics from the taxonomy, with a reason each."""

    name = "llm"

    def __init__(self, chat: ChatModel, recent: int = 12, max_topics_in_prompt: int = 60,
                 evidence: bool = EXPLORE_EVIDENCE) -> None:
        self.chat = chat
        self.recent = recent
        self.max_topics = max_topics_in_prompt
        self.use_evidence = evidence
        self.co: CoEngagementProposer | None = None

    def fit(self, population: CoEngagementProposer) -> Proposer:
        """With ``evidence``, the prompt lists each available topic with how many users who share the user's
        interests also engage with it (the population's co-engagement), most first: the LLM reasons over the
        history with that evidence beside it instead of guessing from topic names."""
        if self.use_evidence:
            self.co = population
            self.name = "llm+evidence"
        return self

    def propose(self, history: Sequence[int], items: Sequence[Item], taxonomy: Taxonomy, n: int) -> list[Proposal]:
        known = interests_of(history, taxonomy)
        available = [t for t in taxonomy.topics if t not in known]
        if not available:
            return []
        if len(available) > self.max_topics:  # keep the prompt bounded: the biggest topics
            available = sorted(available, key=lambda t: -len(taxonomy.rows[t]))[: self.max_topics]
        recent = list(history)[-self.recent:][::-1]
        lines = "\n".join(f"- {items[i].title}" + (f" ({', '.join(items[i].tags)})" if items[i].tags else "")
                          for i in recent)
        if self.co is not None:
            return self._propose_with_evidence(self.co, history, items, taxonomy, n, known, available, lines)
        text = prompt("explore").format(n=n, history=lines or "-", known=", ".join(known) or "-",
                                        available=", ".join(available))
        schema = {
            "type": "object",
            "properties": {"topics": {"type": "array", "maxItems": n, "items": {
                "type": "object",
                # a bounded reason: a small model can otherwise repeat itself until max_tokens cuts the JSON off
                "properties": {"topic": {"type": "string", "enum": available},
                               "reason": {"type": "string", "maxLength": REASON_CHARS}},
                "required": ["topic", "reason"]}}},
            "required": ["topics"],
        }
        reply = self.chat.complete_json([{"role": "user", "content": text}], schema, max_tokens=60 * n + 40)
        picks = [(str(p.get("topic", "")), str(p.get("reason", ""))) for p in reply.get("topics", [])
                 if isinstance(p, dict)]
        return _checked(picks, taxonomy, known, available, n, lambda t, r: " ".join(r.split())[:REASON_CHARS])

    def _propose_with_evidence(self, co: CoEngagementProposer, history: Sequence[int], items: Sequence[Item],
                               taxonomy: Taxonomy, n: int, known: list[str], available: list[str],
                               lines: str) -> list[Proposal]:
        """The model chooses n among the n + EVIDENCE_SPARE topics with the most evidence (stable sort: ties keep
        the taxonomy's order), best first, reading the history beside the evidence. It writes no reason: each
        reason is made of facts (``CoEngagementProposer.reason``) — the small models' own reasons were formulaic
        and often false ("the user has engaged with baking" for a topic new to them), and writing them was
        three quarters of the call's time."""
        score, why = co.evidence(history, taxonomy)
        available = sorted(available, key=lambda t: -score.get(t, 0))[: n + EVIDENCE_SPARE]
        text = prompt("explore_evidence").format(
            n=min(n, len(available)), history=lines or "-", known=", ".join(known) or "-",
            available="\n".join(f"- {t}: {score.get(t, 0)}" for t in available))
        # all n topics are asked for: a small model otherwise often names one, and every explore slot then shows
        # that one topic's notes
        schema = {"type": "object", "properties": {"topics": {
            "type": "array", "items": {"type": "string", "enum": available},
            "minItems": min(n, len(available)), "maxItems": n}}, "required": ["topics"]}
        reply = self.chat.complete_json([{"role": "user", "content": text}], schema, max_tokens=12 * n + 30)
        picks = [(str(t), "") for t in reply.get("topics", [])]
        return _checked(picks, taxonomy, known, available, n,
                        lambda t, _: co.reason(t, why.get(t), history, items, taxonomy))


def _checked(picks: list[tuple[str, str]], taxonomy: Taxonomy, known: list[str], available: list[str], n: int,
             reason: Callable[[str, str], str]) -> list[Proposal]:
    """The model's (topic, reason) picks that name an offered topic, first mention each, at most n; a reply naming
    only topics outside them is not trusted (``ModelOutputError``)."""
    out: list[Proposal] = []
    for t, r in picks:
        if t not in taxonomy.rows or t in known or t not in available:  # off-schema: dropped, never trusted
            continue
        if t not in {q.topic for q in out}:
            out.append(Proposal(t, reason(t, r)))
    if not out and picks:
        raise ModelOutputError("the LLM proposed only topics outside the taxonomy")
    return out[:n]


def fill(
    ranked: list[int],
    proposals: list[Proposal],
    taxonomy: Taxonomy,
    k: int,
    share: float,
    seen: set[int],
    affinity: np.ndarray | None = None,
    popularity: np.ndarray | None = None,
    tail: float | None = EXPLORE_TAIL,
    order: str = EXPLORE_ORDER,
    history: Sequence[int] | None = None,
    recent: np.ndarray | None = None,
) -> list[tuple[int, str | None]]:
    """Merge exploitation and exploration: ``round(k * share)`` slots go to proposed topics' notes.

    Candidates are the proposed topics' unseen notes; with ``popularity`` and ``tail`` only those at or below that
    quantile of the popularity of the ``history`` notes (of all engaged notes without one) — a new interest shown
    through less-seen notes; a topic with no such note falls back to all of its notes. They are taken across topics
    by ``recent`` (a co-engagement score with the user's last notes, ``Recommender.recent_cf``) over
    (1 + popularity) ** EXPLORE_LIFT (``order="recent"``), in the ranker's order (``"ranked"``: the notes it
    scores highest for this user first) or by ``affinity`` (similarity to the user, ``"affinity"``), ties by
    ``affinity``, at most half the slots from one topic while other topics have candidates. Explore items are
    interleaved at the tail of every block of 1/share items. Returns [(row, reason or None)]."""
    if order not in EXPLORE_ORDERS:
        raise BadInput(f"explore order must be one of {', '.join(EXPLORE_ORDERS)}, got {order!r}")
    n_explore = int(round(k * share)) if proposals else 0
    taken = set(seen)
    pos = {r: i for i, r in enumerate(ranked)}
    limit = None
    if popularity is not None and tail is not None:
        basis = popularity[list(history)] if history else popularity[popularity > 0]
        limit = float(np.quantile(basis, tail)) if len(basis) else None

    def aff(r: int) -> float:
        return -(float(affinity[r]) if affinity is not None else 0.0)

    cands: list[tuple[tuple[float, ...], int, int]] = []  # (sort key, proposal index, row)
    for j, p in enumerate(proposals):
        rows = [r for r in taxonomy.rows.get(p.topic, []) if r not in taken]
        if limit is not None and popularity is not None:
            rows = [r for r in rows if popularity[r] <= limit] or rows
        for r in rows:
            if order == "affinity":
                key: tuple[float, ...] = (aff(r),)
            elif order == "recent":
                lift = (1.0 + float(popularity[r])) ** EXPLORE_LIFT if popularity is not None else 1.0
                key = (-(float(recent[r]) if recent is not None else 0.0) / lift, aff(r))
            else:
                key = (pos.get(r, len(pos)), aff(r))
            cands.append((key, j, r))
    cands.sort()
    cap = max(1, -(-n_explore // 2))
    picks: list[tuple[int, str]] = []
    per: dict[int, int] = {}
    for capped in (True, False):  # the cap holds while other topics have candidates
        for _, j, r in cands:
            if len(picks) >= n_explore:
                break
            if r in taken or (capped and per.get(j, 0) >= cap):
                continue
            taken.add(r)
            per[j] = per.get(j, 0) + 1
            picks.append((r, f"explore {proposals[j].topic}: {proposals[j].reason}"))
    exploit = [r for r in ranked if r not in taken][: k - len(picks)]
    out: list[tuple[int, str | None]] = []
    step = max(1, round(1 / share)) if picks else k + 1
    ei = 0
    for r in exploit:
        out.append((r, None))
        if len(out) % step == step - 1 and ei < len(picks):
            out.append(picks[ei])
            ei += 1
    out.extend(picks[ei:])
    return out[:k]
