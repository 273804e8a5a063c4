"""Chunk-level fusion, then grouping by note for display only: exact ids, exact counts of what was grouped."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lingxi.errors import BadInput
from lingxi.search.fusion import (
    FUSION_FUNCTIONS,
    adaptive,
    capped_temperatures,
    seed_agreement,
    separation,
    softmax,
    softmax_capped,
    softmax_seeded,
)
from lingxi.search.hybrid import FusionWeights, Searcher
from lingxi.search.results import select
from lingxi.types import Chunk, Hit, Locator


def _hit(cid: str) -> Hit:
    note, _, ord_ = cid.rpartition(":")
    chunk = Chunk(text=f"text of {cid}", locator=Locator(), meta={}, ord=int(ord_), id=cid, note_id=note)
    return Hit(chunk=chunk, title=f"title {note}", source=f"{note}.md", kind="markdown", score=0.0)


def _resolve(ids: list[str]) -> list[Hit]:
    return [_hit(c) for c in ids]


class _Lists:
    """A backend answering fixed lexical and dense lists (scores given), no vectors for feedback."""

    def __init__(self, lexical: list[tuple[str, float]], dense: list[tuple[str, float]]) -> None:
        self.lexical, self.dense = lexical, dense

    def lexical_ids(self, tokens, k, filters):
        return self.lexical[:k]

    def dense_ids(self, vector, k, filters):
        return self.dense[:k]

    def vectors_of(self, chunk_ids):
        return {}


def test_select_groups_by_note_and_counts_what_it_folded():
    order = ["a:3", "a:0", "b:1", "a:7", "c:0", "b:0", "a:1", "d:0"]
    score = {c: 1.0 - i / 10 for i, c in enumerate(order)}
    res = select(order, score, _resolve, k=3, per_note=1, window=2)
    assert [h.chunk.id for h in res.hits] == ["a:3", "b:1", "c:0"]
    # a:0 and a:7 ranked above c:0, the last passage shown, and were folded under note a; b:0 came after it
    assert res.grouped_by_note == {"a": 2} and res.grouped == 2
    assert [(g.note_id, [h.chunk.id for h in g.hits], g.grouped) for g in res.groups] == \
        [("a", ["a:3"], 2), ("b", ["b:1"], 0), ("c", ["c:0"], 0)]
    assert res.summary() == ("3 passages from 3 notes; 2 more passages of these notes grouped under them"
                             " (at most 1 per note; --per-note to show more)")
    # two per note: the note keeps its two best passages by fused score, and shows once
    res2 = select(order, score, _resolve, k=4, per_note=2, window=3)
    assert [h.chunk.id for h in res2.hits] == ["a:3", "a:0", "b:1", "c:0"]
    assert [(g.note_id, [h.chunk.id for h in g.hits]) for g in res2.groups] == \
        [("a", ["a:3", "a:0"]), ("b", ["b:1"]), ("c", ["c:0"])]
    assert res2.grouped_by_note == {"a": 1}
    # no limit: the plain chunk ranking
    assert [h.chunk.id for h in select(order, score, _resolve, 5, 0, 4).hits] == order[:5]


def test_fewer_hits_than_k_says_why():
    order = ["a:0", "a:1", "a:2", "b:0"]
    res = select(order, dict.fromkeys(order, 1.0), _resolve, k=10, per_note=1, window=20)
    assert [h.chunk.id for h in res.hits] == ["a:0", "b:0"] and res.grouped == 2
    assert res.summary().endswith("fewer than k=10: the other matching passages belong to the notes shown")
    only = select(["a:0"], {"a:0": 1.0}, _resolve, k=10, per_note=1, window=20)
    assert only.summary() == "1 passage from 1 note; fewer than k=10: nothing else matched"
    d = res.to_dict()
    assert d["grouping"] == {"k": 10, "per_note": 1, "passages_shown": 2, "notes_shown": 2, "passages_grouped": 2,
                             "candidates": 4, "summary": res.summary()}
    assert d["notes"][0] == {"note_id": "a", "title": "title a", "source": "a.md", "kind": "markdown", "score": 1.0,
                             "chunk_ids": ["a:0"], "grouped": 2}


class _TwinLists(_Lists):
    """Like _Lists, and every dense search (the feedback one too) answers the same dense list."""

    def vectors_of(self, chunk_ids):
        return {c: np.array([1.0, 0.0], dtype=np.float32) for c in chunk_ids}


def _searcher(lexical, dense, method, feedback=0.0):
    return Searcher(_TwinLists(lexical, dense), _resolve, lambda q: np.array([1.0, 0.0], dtype=np.float32),
                    FusionWeights(method=method, feedback=feedback))


# One long note a: BM25's clear first passage a:5 is last in the dense list; the dense list prefers a:9, which BM25
# does not find at all.
LEXICAL = [("a:5", 12.0), ("b:0", 4.0), ("a:2", 3.5), ("c:0", 3.0)]
DENSE = [("a:9", 0.83), ("c:0", 0.82), ("b:0", 0.81), ("a:2", 0.80), ("a:5", 0.70)]


@pytest.mark.parametrize(("method", "feedback", "shown", "grouped"), [
    # RRF: b:0 1/62+1/63 > a:5 1/61+1/65 > c:0 1/64+1/62 > a:2 > a:9 1/61
    ("rrf", 0.0, ["b:0", "a:5", "c:0"], {}),
    # the feedback list repeats the dense one: c:0 1/64+2/62 > b:0 1/62+2/63 > a:5 1/61+2/65 > a:2 > a:9 2/61
    ("rrf", 1.0, ["c:0", "b:0", "a:5"], {}),
    ("adaptive", 0.0, ["a:5", "b:0", "c:0"], {"a": 1}),
    ("adaptive", 1.0, ["b:0", "a:5", "c:0"], {}),
])
def test_the_fused_score_not_the_dense_list_picks_a_notes_passage(method, feedback, shown, grouped):
    res = _searcher(LEXICAL, DENSE, method, feedback).results("q", k=3, per_note=1)
    assert [h.chunk.id for h in res.hits] == shown
    assert res.grouped_by_note == grouped


def test_convex_with_feedback_let_the_dense_list_pick():
    # The old default: min-max scaling gives the dense list's last passage the score of one it never returned, and
    # the feedback list (a second dense vote) outvotes BM25 two to one, so note a showed the dense list's a:9.
    res = _searcher(LEXICAL, DENSE, "convex", 1.0).results("q", k=3, per_note=1)
    assert [h.chunk.id for h in res.hits] == ["a:9", "c:0", "b:0"]


def test_adaptive_convex_keeps_bm25s_first_passage():
    # adaptive-convex: BM25's list separates its first passage (z 1.72) far more than the dense lists do (0.82),
    # so BM25 weighs about twice each dense list and a:5 (0.513) beats a:9 (0.487)
    s = _searcher(LEXICAL, DENSE, "adaptive-convex", 1.0)
    assert s.search("q", k=1, per_note=1)[0].chunk.id == "a:5"


def test_softmax_reads_each_list_as_a_probability():
    from lingxi.search.fusion import TEMPERATURES

    assert FusionWeights().method == "softmax-seeded"  # plain softmax is opt-in: LINGXI_FUSION=softmax
    assert TEMPERATURES == {"lexical": 6.0, "phonetic": 6.0, "dense": 0.025, "feedback": 0.025}
    # Without the feedback twin: BM25 gives a:5 1 / Z of its vote, Z over as many candidates as the dense list holds
    # (five: the one BM25 did not return counts at score 0); a:5 is 0.13 below the dense list's first (5 temperatures),
    # so the dense list gives it little.
    lex_p = 1 / (1 + math.exp(-8 / 6) + math.exp(-8.5 / 6) + math.exp(-9 / 6) + math.exp(-12 / 6))
    dense_z = sum(math.exp((s - 0.83) / 0.025) for _, s in DENSE)
    res = _searcher(LEXICAL, DENSE, "softmax").results("q", k=3, per_note=1)
    assert [h.chunk.id for h in res.hits] == ["a:5", "c:0", "b:0"] and res.grouped_by_note == {"a": 1}
    assert res.hits[0].score == pytest.approx((lex_p + math.exp(-0.13 / 0.025) / dense_z) / 2, abs=1e-6)
    # The dense list counted twice (feedback repeating it exactly) outvotes BM25 here: a:9 leads the dense list by
    # 0.4 of a temperature over c:0, and BM25 does not find it at all.
    assert _searcher(LEXICAL, DENSE, "softmax", 1.0).search("q", k=1)[0].chunk.id == "a:9"


def test_softmax_a_lexical_list_with_one_weak_match_is_not_sure_of_it():
    # BM25 (or the phonetic index) matched one passage weakly; the dense list holds five. Normalised over its own one
    # candidate, x would get BM25's whole vote; counted over five, with the four unmatched at score 0, it gets little.
    dense = [("y", 0.80), ("x", 0.70), ("z", 0.69), ("w", 0.68), ("v", 0.67)]
    got = dict(softmax({"lexical": [("x", 1.0)], "dense": dense}, {}))
    dense_z = sum(math.exp((s - 0.80) / 0.025) for _, s in dense)
    assert got["x"] == pytest.approx((1 / (1 + 4 * math.exp(-1 / 6)) + math.exp(-4) / dense_z) / 2)
    assert max(got, key=got.__getitem__) == "y"


def test_search_returns_the_shown_hits_in_fused_order():
    lexical = [("a:5", 12.0), ("b:0", 4.0)]
    dense = [("b:0", 0.9), ("a:5", 0.5)]
    s = _searcher(lexical, dense, "rrf")
    assert [h.chunk.id for h in s.search("q", k=2)] == ["a:5", "b:0"]  # a tie in RRF, broken by id
    with pytest.raises(BadInput, match="per_note must be 0"):
        s.results("q", per_note=-1)


def test_adaptive_weights_the_list_whose_top_stands_out():
    assert separation([5.0, 5.0, 5.0, 5.0, 5.0]) == 0.0
    assert separation([1.0, 2.0]) == 0.0  # too short to judge
    assert separation([10.0, 9.0, 8.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx((10 - 4) / 15.25 ** 0.5)
    # lexical: one passage stands far out; dense: a flat list that prefers y. Plain RRF ties x and y (each is one
    # list's first and the other's second); adaptive fusion sides with the list that separates its top.
    lexical = [("x", 30.0), ("y", 2.0), ("z", 1.9), ("w", 1.8), ("v", 1.7)]
    dense = [("y", 0.80), ("x", 0.799), ("z", 0.798), ("w", 0.797), ("v", 0.796)]
    rr = FUSION_FUNCTIONS["rrf"]({"lexical": lexical, "dense": dense}, {}, 60)
    assert rr[0][1] == rr[1][1]
    assert [c for c, _ in adaptive({"lexical": lexical, "dense": dense}, {}, 60)][:2] == ["x", "y"]
    # and the other way round when the dense list is the one that separates
    dense2 = [("y", 0.95), ("x", 0.40), ("z", 0.39), ("w", 0.38), ("v", 0.37)]
    lexical2 = [("x", 2.0), ("y", 1.99), ("z", 1.98), ("w", 1.97), ("v", 1.96)]
    assert [c for c, _ in adaptive({"lexical": lexical2, "dense": dense2}, {}, 60)][:2] == ["y", "x"]


def test_softmax_sides_with_the_list_that_is_sure():
    # lexical sure of x (28 points = 4.7 temperatures); dense cannot tell y from x (0.001 = 0.04 temperatures)
    lexical = [("x", 30.0), ("y", 2.0), ("z", 1.9)]
    dense = [("y", 0.800), ("x", 0.799), ("z", 0.798)]
    assert [c for c, _ in softmax({"lexical": lexical, "dense": dense}, {})] == ["x", "y", "z"]
    # the other way round: a flat BM25 list, a dense list sure of y
    lexical2 = [("x", 2.0), ("y", 1.99), ("z", 1.98)]
    dense2 = [("y", 0.95), ("x", 0.80), ("z", 0.79)]
    assert [c for c, _ in softmax({"lexical": lexical2, "dense": dense2}, {})] == ["y", "x", "z"]
    # exact: temperatures and weights given; an empty list is ignored
    got = softmax({"lexical": [("a", 2.0), ("b", 0.0)], "dense": [("b", 0.5)], "feedback": []},
                  {"lexical": 3.0, "dense": 1.0}, {"lexical": 1.0, "dense": 0.1})
    pa = 1 / (1 + math.exp(-2))
    assert got == [("a", pytest.approx(0.75 * pa)), ("b", pytest.approx(0.75 * (1 - pa) + 0.25))]


def test_softmax_seeded_weighs_the_feedback_list_by_where_its_seeds_stand():
    # Passages, one a note: the feedback seeds (first chunk of each of the first three notes) are dense ranks 1, 2, 3,
    # so the feedback list keeps its whole vote and the fusion is softmax's.
    from lingxi.search.fusion import FEEDBACK_SEEDS

    assert FEEDBACK_SEEDS == FusionWeights().feedback_docs == 3
    pooled = [("a:0", 0.85), ("b:0", 0.84), ("c:0", 0.83), ("d:0", 0.80)]
    assert seed_agreement(pooled) == 1.0
    assert seed_agreement([("a:0", 0.9), ("a:1", 0.8)]) == 1.0  # one note: its first chunk is the dense first
    assert seed_agreement([]) == 0.0
    lists = {"lexical": [("b:0", 5.0), ("a:0", 4.0)], "dense": pooled, "feedback": [("c:0", 0.9), ("a:0", 0.88)]}
    assert softmax_seeded(lists, {}) == softmax(lists, {})
    # A long note fills the dense top: the seeds are ranks 1, 5 and 6, weight ((1 + 2 + 3) / (1 + 5 + 6))² = 1/4.
    dense = [("a:1", 0.85), ("a:2", 0.84), ("a:3", 0.83), ("a:4", 0.82), ("b:0", 0.80), ("c:0", 0.79)]
    assert seed_agreement(dense) == pytest.approx(0.25)
    # The feedback query, moved half-way towards b:0 and c:0, drifted to them; BM25 and the dense list agree on a:1
    # and a:2. Plain softmax lets the drifted list's sure first, b:0, win; the seeded one keeps a:1 and a:2 first.
    feedback = [("b:0", 0.95), ("c:0", 0.90), ("a:1", 0.86), ("a:2", 0.85), ("a:3", 0.84), ("a:4", 0.83)]
    lists = {"lexical": [("a:2", 9.0), ("a:1", 8.0), ("b:0", 3.0)], "dense": dense, "feedback": feedback}
    assert [c for c, _ in softmax(lists, {})][:3] == ["b:0", "a:1", "a:2"]
    assert [c for c, _ in FUSION_FUNCTIONS["softmax-seeded"](lists, {}, 60)][:3] == ["a:1", "a:2", "b:0"]
    # exact: the same as softmax with the feedback weight set to its configured weight times the agreement
    assert softmax_seeded(lists, {"feedback": 2.0}) == softmax(lists, {"feedback": 0.5})


def test_capped_temperatures_read_a_low_scoring_bm25_list_relative_to_its_top():
    from lingxi.search.fusion import TEMPERATURES, TOP_SHARE

    assert TOP_SHARE == 0.4
    # BM25 top 3.0 above its floor 0: T = 0.4 * 3.0 = 1.2 instead of 6; the phonetic list (top 10.0) gets 4.0;
    # the dense lists keep theirs.
    lists = {"lexical": [("x", 3.0), ("y", 2.0)], "phonetic": [("x", 10.0)], "dense": [("y", 0.8)],
             "feedback": [("y", 0.9)]}
    assert capped_temperatures(lists) == {"lexical": pytest.approx(1.2), "phonetic": pytest.approx(4.0),
                                          "dense": 0.025, "feedback": 0.025}
    # a list whose top stands 15 points or more above its floor keeps T = 6: never raised
    assert capped_temperatures({"lexical": [("x", 30.0), ("y", 2.0)]}) == TEMPERATURES
    assert capped_temperatures({"lexical": [("x", 15.0)]})["lexical"] == pytest.approx(6.0)
    # nothing to measure a top from: an empty list, or one whose best is at the floor
    assert capped_temperatures({"lexical": [], "phonetic": [("x", 0.0)]}) == TEMPERATURES
    # given temperatures and share
    got = capped_temperatures({"lexical": [("x", 2.0)]}, {"lexical": 1.5, "dense": 0.1}, share=0.5)
    assert got == {"lexical": 1.0, "dense": 0.1}
    assert TEMPERATURES == {"lexical": 6.0, "phonetic": 6.0, "dense": 0.025, "feedback": 0.025}  # not changed


def test_softmax_capped_keeps_a_low_scoring_bm25_order_that_softmax_reads_as_flat():
    # Three common words: BM25 puts x first by a third of its top score, but the whole list spans 2 points, a third of
    # T = 6, so softmax reads it as nearly flat and the dense list's mild preference for y (0.4 temperatures) wins.
    # Read at T = 0.4 * 3 = 1.2, BM25's x keeps the first place.
    lexical = [("x", 3.0), ("y", 2.0), ("z", 1.0)]
    dense = [("y", 0.80), ("x", 0.79), ("z", 0.70)]
    lists = {"lexical": lexical, "dense": dense}
    assert [c for c, _ in softmax_seeded(lists, {})] == ["y", "x", "z"]
    assert [c for c, _ in FUSION_FUNCTIONS["softmax-capped"](lists, {}, 60)] == ["x", "y", "z"]
    lz = 1 + math.exp(-1 / 1.2) + math.exp(-2 / 1.2)
    dz = 1 + math.exp(-0.4) + math.exp(-4)
    got = dict(softmax_capped(lists, {}))
    assert got["x"] == pytest.approx((1 / lz + math.exp(-0.4) / dz) / 2)
    assert got["y"] == pytest.approx((math.exp(-1 / 1.2) / lz + 1 / dz) / 2)
    # exact: softmax-seeded (feedback weight by seed agreement) at the capped temperatures
    fb = {**lists, "feedback": [("z", 0.95), ("y", 0.9)]}
    assert softmax_capped(fb, {"feedback": 2.0}) == softmax_seeded(fb, {"feedback": 2.0}, capped_temperatures(fb))
    # a question whose BM25 top stands 15 points or more up is fused exactly as softmax-seeded fuses it
    long_q = {"lexical": [("x", 31.0), ("y", 30.0), ("z", 12.0)], "dense": dense}
    assert softmax_capped(long_q, {}) == softmax_seeded(long_q, {})


def test_every_configured_fusion_has_a_function():
    from lingxi.config import FUSIONS

    assert set(FUSIONS) == set(FUSION_FUNCTIONS)
    with pytest.raises(BadInput, match="fusion 'max' is not one of: rrf, convex, adaptive"):
        FusionWeights(method="max")


def test_cli_search_says_what_was_grouped(tmp_path, capsys):
    from lingxi.cli.main import main

    body = "\n\n".join(f"Section {i}. " + ("pandas sleep after ten in the morning. " if i in (2, 5, 8) else
                                           f"filler words about topic number {i} and nothing else. ") * 8
                       for i in range(10))
    (tmp_path / "long.jsonl").write_text(json.dumps({"id": "long", "title": "Long", "text": body}) + "\n"
                                         + json.dumps({"id": "short", "text": "pandas eat bamboo"}) + "\n")
    home = str(tmp_path / "home")
    assert main(["--home", home, "ingest", str(tmp_path / "long.jsonl")]) == 0
    capsys.readouterr()
    assert main(["--home", home, "search", "pandas sleep morning", "--mode", "bm25", "--k", "10"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == (
        "2 passages from 2 notes; 2 more passages of these notes grouped under them (at most 1 per note;"
        " --per-note to show more); fewer than k=10: the other matching passages belong to the notes shown")
    assert main(["--home", home, "search", "pandas sleep morning", "--mode", "bm25", "--per-note", "0",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["grouping"]["passages_grouped"] == 0 and got["grouping"]["notes_shown"] == 2
    assert sorted(h["chunk_id"] for h in got["hits"][:3]) == ["long:2", "long:5", "long:8"]

