"""Fusion of ranked lists into one chunk ranking: each method a small pure function over ``{list name: [(id, score)]}``.

The fused score decides everything downstream (which passage a note shows, the order of the notes), so fusion
works on chunks, never on notes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from lingxi.index.store import note_of_chunk

Scored = dict[str, list[tuple[str, float]]]
Fused = list[tuple[str, float]]


def rrf(ranked: dict[str, list[str]], weights: dict[str, float], k: int = 60) -> Fused:
    """Reciprocal-rank fusion: score(id) = Σ_m w_m / (k + rank_m(id)), ranks from 1. Ties broken by id."""
    scores: dict[str, float] = {}
    for name, ids in ranked.items():
        w = weights.get(name, 1.0)
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def convex(scored: Scored, weights: dict[str, float]) -> Fused:
    """Convex combination of scores: score(id) = Σ_m w_m · (s_m(id) − min_m) / (max_m − min_m) / Σ_m w_m, each list
    normalised to [0, 1] over its own candidates; an id a list did not return gets 0 from it. Unlike RRF it keeps
    how far apart the scores are, so a strong retriever's confident top hit is not levelled with the weaker one's
    (Bruch et al., 2023, "An Analysis of Fusion Functions for Hybrid Retrieval"). Ties broken by id."""
    total = sum(weights.get(name, 1.0) for name, lst in scored.items() if lst) or 1.0
    scores: dict[str, float] = {}
    for name, lst in scored.items():
        if not lst:
            continue
        w = weights.get(name, 1.0) / total
        lo, hi = min(s for _, s in lst), max(s for _, s in lst)
        span = hi - lo
        for cid, s in lst:
            scores[cid] = scores.get(cid, 0.0) + w * ((s - lo) / span if span > 0 else 1.0)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def separation(scores: list[float], head: int = 1) -> float:
    """How clearly a list's top stands out from the rest of it: (mean of the top ``head`` scores − mean of all) /
    standard deviation of all. Dimensionless, so a BM25 list and a cosine list can be compared; a flat list (many
    candidates scored alike, the retriever cannot tell them apart) gives about 0."""
    if len(scores) <= max(head, 2):
        return 0.0
    sd = statistics.pstdev(scores)
    if sd <= 0:
        return 0.0
    return max(0.0, (statistics.fmean(scores[:head]) - statistics.fmean(scores)) / sd)


def separation_weights(scored: Scored, weights: dict[str, float]) -> dict[str, float]:
    """Each list's configured weight times its ``separation`` relative to the mean over the lists; lists without
    scores to judge keep their configured weight."""
    seps = {name: separation([s for _, s in lst]) for name, lst in scored.items() if lst}
    mean_sep = statistics.fmean(seps.values()) if seps else 0.0
    w: dict[str, float] = {}
    for name in scored:
        base = weights.get(name, 1.0)
        w[name] = base * (seps[name] / mean_sep) if name in seps and mean_sep > 0 else base
    return w


def adaptive(scored: Scored, weights: dict[str, float], k: int = 60) -> Fused:
    """RRF whose list weights are set per query by ``separation_weights``: how far each list's top hit stands out
    from its own candidates. A query whose terms every candidate shares leaves BM25 flat, and it then counts little;
    a query whose rare term picks out one passage makes BM25 count more than a dense list that finds many passages
    about equally close."""
    return rrf({name: [cid for cid, _ in lst] for name, lst in scored.items()}, separation_weights(scored, weights), k)


def adaptive_convex(scored: Scored, weights: dict[str, float], k: int = 60) -> Fused:
    """``convex`` with the per-query list weights of ``separation_weights``."""
    return convex(scored, separation_weights(scored, weights))


# How many score points make a list e (2.718) times surer of one passage than of another: BM25 scores (the lexical
# and phonetic lists) are sums of log-odds-like term weights; the dense lists are cosines of the bundled e5, trained
# with a softmax temperature of 0.01. Chosen on the dev splits of all five retrieval sets together
# (docs/BENCHMARKS.md, "Softmax fusion").
TEMPERATURES = {"lexical": 6.0, "phonetic": 6.0, "dense": 0.025, "feedback": 0.025}


# The score of a candidate a list did not return, where the retriever defines one: BM25 gives a passage sharing no
# query term 0. The dense lists have no such floor (every passage has a cosine; they return ``depth`` of them).
FLOORS = {"lexical": 0.0, "phonetic": 0.0}


def softmax(scored: Scored, weights: dict[str, float], temperatures: dict[str, float] | None = None) -> Fused:
    """Each list turned into a probability over its candidates, p_m(id) = exp(s_m(id) / T_m) / Z_m, and the
    probabilities summed with the list weights (normalised to sum 1). A list that is sure of one passage gives it
    most of its vote; a list whose top scores are close (it cannot tell them apart) spreads its vote over them, so
    the other list decides; how far apart the scores are counts in the retriever's own units, not relative to the
    list's range as in min-max scaling. Z_m sums over as many candidates as the longest list holds: a lexical list
    that matched only a few passages counts the rest at its ``FLOORS`` score, so one weak match is not a sure one.
    ``temperatures`` per list name (default ``TEMPERATURES``; a list not named there uses the lexical one). Ties
    broken by id."""
    temps = TEMPERATURES if temperatures is None else temperatures
    total = sum(weights.get(name, 1.0) for name, lst in scored.items() if lst) or 1.0
    depth = max((len(lst) for lst in scored.values()), default=0)
    scores: dict[str, float] = {}
    for name, lst in scored.items():
        if not lst:
            continue
        t = temps.get(name, temps.get("lexical", 1.0))
        top = max(s for _, s in lst)
        ex = [(cid, math.exp((s - top) / t)) for cid, s in lst]  # shifted by the top score: no overflow
        z = sum(e for _, e in ex)
        if name in FLOORS:
            z += (depth - len(lst)) * math.exp((FLOORS[name] - top) / t)
        w = weights.get(name, 1.0) / total / z
        for cid, e in ex:
            scores[cid] = scores.get(cid, 0.0) + w * e
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


# How many dense hits, one per note, the feedback query is moved towards (``lingxi.search.hybrid.FusionWeights.feedback_docs``).
FEEDBACK_SEEDS = 3


def seed_agreement(dense: list[tuple[str, float]], seeds: int = FEEDBACK_SEEDS) -> float:
    """How far up the dense list the feedback query's seeds stand: the first chunk of each of the first ``seeds``
    notes in dense order (the passages ``lingxi.search.hybrid.Searcher._feedback`` moves the query towards), as (1 + 2 + … + n) /
    (the sum of their dense ranks), squared. 1 where the seeds are the dense list's own top n hits (passages, one a
    note); small where a long note fills the top of the list and the other seeds come from far below it — a
    feedback query moved half-way towards passages the dense retriever itself ranked low drifts off the question.
    0 for an empty list."""
    notes: set[str] = set()
    ranks: list[int] = []
    for r, (cid, _) in enumerate(dense, start=1):
        note = note_of_chunk(cid)
        if note not in notes:
            notes.add(note)
            ranks.append(r)
            if len(ranks) == seeds:
                break
    if not ranks:
        return 0.0
    return (len(ranks) * (len(ranks) + 1) / 2 / sum(ranks)) ** 2


def softmax_seeded(scored: Scored, weights: dict[str, float], temperatures: dict[str, float] | None = None) -> Fused:
    """``softmax`` with the feedback list's weight scaled per query by ``seed_agreement`` of the dense list: the
    feedback list keeps its full vote where its seeds are the dense list's top hits and loses it where they are
    not. The other lists keep their configured weights."""
    w = dict(weights)
    if scored.get("feedback") and scored.get("dense"):
        w["feedback"] = weights.get("feedback", 1.0) * seed_agreement(scored["dense"])
    return softmax(scored, w, temperatures)


# The most a list with a score floor (BM25: the lexical and phonetic lists) is unsure of its own scale: its temperature
# is at most this share of its top score above the floor. Chosen on the dev splits of all seven retrieval sets
# together (issue 27, third round): the middle of 0.35-0.45, where every non-ASR dev set moves by at most 0.2 nDCG
# points from softmax-seeded and the ASR rows gain.
TOP_SHARE = 0.4


def capped_temperatures(scored: Scored, temperatures: dict[str, float] | None = None,
                        share: float = TOP_SHARE) -> dict[str, float]:
    """``temperatures`` (default ``TEMPERATURES``) with each floored list's temperature lowered, for this query, to
    ``share`` of how far its top score stands above its floor where that is less. A BM25 score is a sum over the
    query's terms, so its scale follows the query: a question of many terms puts its best passage 20–40 points up,
    three common words put theirs 3 points up. At a fixed T = 6 such a list reads as flat, every candidate about
    equally likely, and its ordering is lost to whichever other list is less flat; relative to its own top it
    keeps its say. A list's temperature is never raised, and the dense lists (cosines, with no floor to measure a
    top from) keep theirs."""
    temps = dict(TEMPERATURES if temperatures is None else temperatures)
    for name, floor in FLOORS.items():
        lst = scored.get(name)
        if not lst:
            continue
        span = max(s for _, s in lst) - floor
        if span > 0:
            temps[name] = min(temps.get(name, temps.get("lexical", 1.0)), share * span)
    return temps


def softmax_capped(scored: Scored, weights: dict[str, float]) -> Fused:
    """``softmax_seeded`` at the temperatures of ``capped_temperatures``: a BM25 list whose top scores little above
    its floor is read relative to that top instead of as flat."""
    return softmax_seeded(scored, weights, capped_temperatures(scored))


FusionFn = Callable[[Scored, dict[str, float], int], Fused]
FUSION_FUNCTIONS: dict[str, FusionFn] = {
    "rrf": lambda scored, w, k: rrf({name: [cid for cid, _ in lst] for name, lst in scored.items()}, w, k),
    "convex": lambda scored, w, k: convex(scored, w),
    "adaptive": adaptive,
    "adaptive-convex": adaptive_convex,
    "softmax": lambda scored, w, k: softmax(scored, w),
    "softmax-seeded": lambda scored, w, k: softmax_seeded(scored, w),
    "softmax-capped": lambda scored, w, k: softmax_capped(scored, w),
}
