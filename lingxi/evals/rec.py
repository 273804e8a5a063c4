"""Recommendation evaluation: popularity, ItemCF, three note encoders and the final blend, warm and cold.

Protocol (all rows in one run, same split):
- a seeded 20% of items are *cold*: removed from every training event;
- warm: per user, events on warm items ordered by time; the last is the test item, the one before
  is the validation item (used only to pick the blend weights), the rest train;
- cold: for users with cold-item events, rank the cold items only (what a "fresh notes" slot
  does) from the user's warm history; targets are the user's cold items;
- the encoder is trained on co-engagement pairs mined from the training events only.
Recall@K and NDCG@K are averaged over users."""

from __future__ import annotations

import csv
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]

from lingxi.errors import BadInput, ModelOutputError
from lingxi.llm.cache import CachedChatModel
from lingxi.rec.encoder import TrainConfig, train
from lingxi.rec.events import Event, read_events
from lingxi.rec.explore import (
    EXPLORE_ORDER,
    EXPLORE_TAIL,
    EXPLORE_TOPICS,
    RECENT_NOTES,
    CoEngagementProposer,
    Proposer,
    Taxonomy,
    fill,
)
from lingxi.rec.features import Item
from lingxi.rec.pairs import mine_pairs
from lingxi.rec.recommend import ItemCF, RecConfig, Recommender, intra_list_diversity, novelty

Say = Callable[[str], None]


@dataclass
class RecData:
    name: str
    items: list[Item]
    events: list[Event]


def load_movielens(folder: Path) -> RecData:
    """The RecBole-style ml-100k files (``ml-100k.item``, ``ml-100k.inter``): item text = title, year, genres.
    A rating of 4–5 is a ``like``, lower ratings a ``view``."""
    item_f, inter_f = folder / "ml-100k.item", folder / "ml-100k.inter"
    for f in (item_f, inter_f):
        if not f.exists():
            raise BadInput(f"{f}: no such file (expected the ml-100k.item/.inter files)")
    items = []
    with item_f.open(encoding="utf-8", errors="replace") as fi:
        rows = csv.reader(fi, delimiter="\t")
        next(rows)
        for r in rows:
            if len(r) >= 4:
                title = f"{r[1]} ({r[2]})" if r[2] else r[1]
                items.append(Item(r[0], title, "", tuple(r[3].split())))
    events = []
    with inter_f.open(encoding="utf-8") as fe:
        rows = csv.reader(fe, delimiter="\t")
        next(rows)
        for r in rows:
            events.append(Event(r[0], r[1], "like" if float(r[2]) >= 4 else "view", float(r[3])))
    return RecData("movielens-100k", items, events)


def load_jsonl(notes: Path, events: Path) -> RecData:
    """Generic format: notes JSONL ``{"id", "title", "text"?, "tags"?: [...]}``; events CSV/JSONL as
    `lingxi events import` reads them (user, note, action, timestamp)."""
    items = []
    for n, line in enumerate(notes.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            items.append(Item(str(o["id"]), str(o.get("title", "")), str(o.get("text", "")),
                              tuple(str(t) for t in o.get("tags", []))))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise BadInput(f"{notes}: line {n}: not a note object with an id ({e})") from e
    good, bad, _ = read_events(events.read_bytes(), str(events))
    if bad:
        raise BadInput(f"{events}: {len(bad)} bad rows, first at line {bad[0][0]}: {bad[0][1]}")
    return RecData(notes.stem, items, [e for _, e in good])


def _metrics(ranked: Sequence[int], targets: set[int], k: int) -> tuple[float, float]:
    top = list(ranked)[:k]
    hits = [i for i, r in enumerate(top) if r in targets]
    recall = len(hits) / len(targets)
    dcg = sum(1 / math.log2(i + 2) for i in hits)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(targets), k)))
    return recall, dcg / idcg


@dataclass
class Split:
    n_items: int
    n_users: int
    cold: np.ndarray  # item rows
    train: dict[int, list[int]]  # user → item rows, oldest first (warm items only)
    val: dict[int, int]
    test: dict[int, int]
    cold_targets: dict[int, set[int]]
    train_events: list[Event]


def split(data: RecData, cold_share: float, seed: int) -> tuple[Split, dict[str, int]]:
    row_of = {it.id: i for i, it in enumerate(data.items)}
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(len(data.items), size=int(len(data.items) * cold_share), replace=False))
    cold_set = set(cold.tolist())
    by_user: dict[str, list[tuple[float, int, Event]]] = defaultdict(list)
    for e in data.events:
        if e.note in row_of:
            by_user[e.user].append((e.ts, row_of[e.note], e))
    users = sorted(by_user)
    uid = {u: i for i, u in enumerate(users)}
    tr: dict[int, list[int]] = {}
    val: dict[int, int] = {}
    test: dict[int, int] = {}
    cold_t: dict[int, set[int]] = {}
    train_events = []
    for u in users:
        seq = sorted(by_user[u], key=lambda x: (x[0], x[1]))
        warm = [x for x in seq if x[1] not in cold_set]
        warm_rows = list(dict.fromkeys(x[1] for x in warm))
        if len(warm_rows) < 3:
            continue
        i = uid[u]
        tr[i], val[i], test[i] = warm_rows[:-2], warm_rows[-2], warm_rows[-1]
        keep = set(tr[i])
        train_events += [x[2] for x in warm if x[1] in keep]
        c = {x[1] for x in seq if x[1] in cold_set}
        if c:
            cold_t[i] = c
    return Split(len(data.items), len(users), cold, tr, val, test, cold_t, train_events), row_of


def _cf_pop(histories: dict[int, list[int]], n_items: int) -> tuple[ItemCF, np.ndarray]:
    rows, cols = [], []
    for u, h in histories.items():
        rows += [u] * len(h)
        cols += h
    n_users = max(histories) + 1 if histories else 1
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    pop = np.asarray(m.sum(axis=0)).ravel()
    return ItemCF(m), pop


def evaluate(
    data: RecData,
    features: dict[str, np.ndarray],
    k: int = 20,
    cold_share: float = 0.2,
    seed: int = 0,
    train_config: TrainConfig | None = None,
    explore_share: float = 0.2,
    proposer: Proposer | Sequence[Proposer] | None = None,
    explore_users: int = 0,
    explore_tails: Sequence[float] = (EXPLORE_TAIL,),
    explore_order: str = EXPLORE_ORDER,
    say: Say | None = None,
    progress: Callable[[str], Callable[[int, int], None]] | None = None,
) -> dict[str, Any]:
    """``features``: name → item feature matrix (rows = data.items); 'zero-shot' is required, 'llm' optional.
    ``progress(stage)`` gives a (done, total) callback per stage (e.g. ``progress_printer``)."""
    say = say or (lambda s: None)

    def stage(name: str) -> Callable[[int, int], None]:
        return progress(name) if progress else (lambda done, total: None)
    sp, row_of = split(data, cold_share, seed)
    if not sp.test:
        raise BadInput(f"{data.name}: no user has 3 or more engaged items; nothing to evaluate")
    say(f"{len(sp.test)} users, {sp.n_items} items ({len(sp.cold)} cold), {len(sp.train_events)} training events")
    # --- encoders --------------------------------------------------------------------------------
    zs = features["zero-shot"]
    blocks = [zs] + ([features["llm"]] if "llm" in features else [])
    x = np.hstack(blocks).astype(np.float32)
    pairs = mine_pairs(sp.train_events)
    pair_rows = [(row_of[a], row_of[b], w) for (a, b), w in pairs.items()]
    t0 = time.perf_counter()
    steps = stage("  train (steps)")
    enc, stats = train(x, pair_rows, base_dim=zs.shape[1], config=train_config,
                       progress=lambda s, n, loss: steps(s, n))
    say(f"encoder trained: loss {stats['first_loss']:.3f} → {stats['final_loss']:.3f} in {time.perf_counter() - t0:.0f} s")
    train_s = time.perf_counter() - t0
    vectors = {"zero-shot encoder": zs}
    if "llm" in features:
        vectors["LLM compression encoder"] = features["llm"]
    vectors["trained encoder"] = enc.encode(x)
    # --- warm ------------------------------------------------------------------------------------
    cf_val, pop_val = _cf_pop(sp.train, sp.n_items)
    full_hist = {u: h + [sp.val[u]] for u, h in sp.train.items()}
    cf_test, pop_test = _cf_pop(full_hist, sp.n_items)
    cold_set = set(sp.cold.tolist())
    exclude = cold_set  # cold items are not part of the warm ranking

    def run(rec: Recommender, hist: dict[int, list[int]], target: dict[int, int], name: str) -> dict[str, float]:
        r, n = [], []
        shown = stage(f"  {name} (users)")
        for j, (u, h) in enumerate(hist.items(), 1):
            ranked = [i for i, _, _ in rec.recommend(h, k, exclude=exclude)]
            a, b = _metrics(ranked, {target[u]}, k)
            r.append(a)
            n.append(b)
            shown(j, len(hist))
        return {f"recall@{k}": round(statistics.fmean(r), 4), f"ndcg@{k}": round(statistics.fmean(n), 4)}

    rows: list[dict[str, Any]] = []

    def add(system: str, warm: dict[str, float], cold: dict[str, float] | None) -> None:
        m: dict[str, Any] = dict(warm)
        m[f"cold_recall@{k}"] = None if cold is None else cold[f"recall@{k}"]
        m[f"cold_ndcg@{k}"] = None if cold is None else cold[f"ndcg@{k}"]
        rows.append({"system": system, "metrics": m})
        say(f"{system}: {m}")

    def cold_run(vec: np.ndarray) -> dict[str, float]:
        rec = Recommender(vec, pop_test, None, RecConfig(cf_weight=0, pop_weight=0))
        r, n = [], []
        for u, targets in sp.cold_targets.items():
            if u not in full_hist:
                continue
            ranked = [i for i, _ in rec.dense(full_hist[u], k, allowed=sp.cold)]
            a, b = _metrics(ranked, targets, k)
            r.append(a)
            n.append(b)
        return {f"recall@{k}": round(statistics.fmean(r), 4), f"ndcg@{k}": round(statistics.fmean(n), 4)}

    add("popularity", run(Recommender(None, pop_test, None, RecConfig(dense_weight=0, cf_weight=0, pop_weight=1)),
                          full_hist, sp.test, "popularity"), None)
    add("ItemCF", run(Recommender(None, pop_test, cf_test, RecConfig(dense_weight=0, cf_weight=1, pop_weight=0)),
                      full_hist, sp.test, "ItemCF"), None)
    for name, vec in vectors.items():
        add(name, run(Recommender(vec, pop_test, None, RecConfig(cf_weight=0, pop_weight=0)), full_hist, sp.test,
                      name), cold_run(vec))
    # blend: weights picked on the validation item, then applied to the test item
    trained = vectors["trained encoder"]
    grid = [(d, c, p) for d in (0.5, 1.0, 2.0) for c in (0.5, 1.0, 2.0) for p in (0.0, 0.2, 0.5)]
    best = _pick_weights(Recommender(trained, pop_val, cf_val), sp.train, sp.val, grid, k, exclude,
                         stage("  blend weights (users)"))
    blend_cfg = RecConfig(dense_weight=best[0], cf_weight=best[1], pop_weight=best[2])
    blend = Recommender(trained, pop_test, cf_test, blend_cfg)
    add("final blend", run(blend, full_hist, sp.test, "final blend"), cold_run(trained))
    # --- exploration -----------------------------------------------------------------------------
    taxonomy = Taxonomy(data.items)
    explore_rows = []
    # (proposer, users, label, histories, held-out item, ranker, popularity): the test item for every proposer;
    # for the co-engagement proposer also the validation item (histories without it, the ranker refit on them),
    # a second held-out reading of the same settings
    co = CoEngagementProposer(list(full_hist.values()), taxonomy)
    co_val = CoEngagementProposer(list(sp.train.values()), taxonomy)
    blend_val = Recommender(trained, pop_val, cf_val, blend_cfg)
    runs: list[tuple[Proposer, list[int], str, dict[int, list[int]], dict[int, int], Recommender, np.ndarray]] = [
        (co, sorted(full_hist), "", full_hist, sp.test, blend, pop_test),
        (co_val, sorted(sp.train), ", validation item", sp.train, sp.val, blend_val, pop_val)]
    proposers = [proposer] if isinstance(proposer, Proposer) else list(proposer or [])
    sample = sorted(full_hist)[:: max(1, len(full_hist) // max(explore_users, 1))][:explore_users]
    if proposers and len(sample) < len(full_hist):
        # the co-engagement proposer on the same users too: on a sample, the LLM's cost is read against it pairwise
        runs.append((co, sample, "", full_hist, sp.test, blend, pop_test))
    for extra in proposers:  # the same users for every extra proposer, so their rows compare pairwise
        runs.append((extra.fit(co), sample, "", full_hist, sp.test, blend, pop_test))
    for prop, users, label, hists, target, ranker, pop in runs:
        base_rec: list[float] = []
        for share, tail in [(0.0, None)] + [(explore_share, t) for t in explore_tails]:
            lists, rec_, nov, ild = [], [], [], []
            fallbacks = 0
            shown = stage(f"  explore={share} ({prop.name}{label}) (users)")
            t1 = time.perf_counter()
            chat = getattr(prop, "chat", None)
            cached = chat if isinstance(chat, CachedChatModel) else None
            hits0, model_s0 = (cached.hits, cached.model_seconds) if cached else (0, 0.0)
            for j, u in enumerate(users):
                h = hists[u]
                ranked = [i for i, _, _ in ranker.recommend(h, k + 200, exclude=exclude)]
                if share > 0:
                    try:
                        props = prop.propose(h, data.items, taxonomy, EXPLORE_TOPICS)
                    except ModelOutputError:
                        # as the service does: a reply that breaks the schema is not trusted; co-engagement
                        # topics stand in, and the row counts how often
                        props = co.propose(h, data.items, taxonomy, EXPLORE_TOPICS)
                        fallbacks += 1
                    ints = ranker.user_interests(h)
                    aff = trained @ ints[0][0] if ints else None
                    last = ranker.recent_cf(h, RECENT_NOTES) if explore_order == "recent" else None
                    final = [r for r, _ in fill(ranked, props, taxonomy, k, share, set(h) | exclude, aff,
                                                popularity=pop, tail=tail, order=explore_order, history=h,
                                                recent=last)]
                else:
                    final = ranked[:k]
                lists.append(final)
                rec_.append(_metrics(final, {target[u]}, k)[0])
                nov.append(novelty(final, pop, len(hists)))
                ild.append(intra_list_diversity(final, zs))
                shown(j + 1, len(users))
            name = f"blend explore={share}" + (f" tail={tail}" if share > 0 else "")
            explore_rows.append({"system": f"{name} ({prop.name}, {len(users)} users{label})", "metrics": {
                f"recall@{k}": round(statistics.fmean(rec_), 4),
                "coverage": round(len({i for lst in lists for i in lst}) / (sp.n_items - len(sp.cold)), 4),
                "novelty": round(statistics.fmean(nov), 4),
                "ild": round(statistics.fmean(ild), 4),
                "s_per_user": round((time.perf_counter() - t1) / len(users), 4),
                **({"proposer_fallbacks": fallbacks} if prop in proposers else {}),
                # with a reply cache the wall time above is not the model's: its generation time is, cached or not
                **({"llm_s_per_user": round((cached.model_seconds - model_s0) / len(users), 4),
                    "llm_cached_replies": cached.hits - hits0} if cached and share > 0 else {}),
                **(recall_change(base_rec, rec_) if share > 0 else {}),
            }})
            if share == 0:
                base_rec = rec_
            say(f"{explore_rows[-1]}")
    return {
        "dataset": data.name,
        "rows": rows + explore_rows,
        "config": {"k": k, "cold_share": cold_share, "seed": seed, "users": len(sp.test), "items": sp.n_items,
                   "cold_items": len(sp.cold), "cold_users": len(sp.cold_targets),
                   "features": sorted(features), "feature_dims": {n: int(f.shape[1]) for n, f in features.items()},
                   "train": {**stats, "wall_s": round(train_s, 2)},
                   "artifact_bytes": int(enc.weights.nbytes),
                   "blend_weights": {"dense": best[0], "cf": best[1], "pop": best[2]},
                   "explore_share": explore_share, "explore_tails": list(explore_tails),
                   "explore_order": explore_order},
    }


def _pick_weights(rec: Recommender, hist: dict[int, list[int]], target: dict[int, int],
                  grid: Sequence[tuple[float, float, float]], k: int, exclude: set[int],
                  shown: Callable[[int, int], None]) -> tuple[float, float, float]:
    """The (dense, cf, pop) weights of ``grid`` with the best mean NDCG@k on ``target``: each user's candidates
    are retrieved once and fused with every weighting (the fusion is cheap, retrieval is not)."""
    totals = dict.fromkeys(grid, 0.0)
    for j, (u, h) in enumerate(hist.items(), 1):
        cands = rec.candidates(h, exclude, signals=("dense", "cf", "pop"))
        for w in grid:
            cfg = RecConfig(dense_weight=w[0], cf_weight=w[1], pop_weight=w[2])
            totals[w] += _metrics([i for i, _, _ in rec.fuse(cands, h, k, exclude, cfg)], {target[u]}, k)[1]
        shown(j, len(hist))
    # the mean rounded as the rows report it: of weightings equal to 4 decimals, the grid's first
    return max(grid, key=lambda w: round(totals[w] / max(len(hist), 1), 4))


def recall_change(base: Sequence[float], new: Sequence[float], resamples: int = 2000,
                  seed: int = 0) -> dict[str, Any]:
    """Relative Recall change of ``new`` over ``base`` (the same users, paired) with a 95% bootstrap interval:
    on one held-out item per user a few hits move the figure by points, so the interval says what it can tell."""
    b, n = np.asarray(base, dtype=np.float64), np.asarray(new, dtype=np.float64)
    if len(b) != len(n) or not len(b) or b.sum() == 0:
        return {}
    idx = np.random.default_rng(seed).integers(0, len(b), size=(resamples, len(b)))
    bs, ns = b[idx].sum(axis=1), n[idx].sum(axis=1)
    ratio = ns[bs > 0] / bs[bs > 0] - 1.0
    lo, hi = np.quantile(ratio, [0.025, 0.975])
    return {"recall_change": round(float(n.sum() / b.sum() - 1.0), 4),
            "recall_change_ci95": [round(float(lo), 4), round(float(hi), 4)]}


def progress_printer(prefix: str, every: float = 2.0) -> Callable[[int, int], None]:
    """A stderr progress line for one stage: done/total, rate and ETA, at most every ``every`` seconds."""
    started = time.perf_counter()
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - last[0] < every:
            return
        last[0] = now
        spent = now - started
        tail = f" in {_duration(spent)}" if done >= total else \
            (f", ETA {_duration(spent / done * (total - done))}" if done else "")
        print(f"\r{prefix} {done}/{total}{tail}  ", end="" if done < total else "\n", file=sys.stderr, flush=True)
    return show


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
