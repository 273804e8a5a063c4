"""Tokenizer, fusion and hybrid search on small hand-made corpora with exact expected ids."""

from __future__ import annotations

import pytest

from lingxi.errors import BadInput
from lingxi.index.filters import Filters
from lingxi.index.tokenize import tokenize
from lingxi.search.fusion import convex, rrf
from lingxi.search.hybrid import FusionWeights, highlight

from conftest import DEMO


def test_tokenize_chinese_search_mode_stopwords_and_stemming():
    assert tokenize("知识蒸馏技术") == ["知识", "蒸馏", "技术"]
    assert tokenize("Running runners RUN") == ["run", "runner", "run"]
    assert tokenize("的了吗？！") == []


def test_rrf_exact():
    fused = rrf({"a": ["x", "y", "z"], "b": ["y", "w"]}, {"a": 1.0, "b": 1.0}, k=60)
    assert [cid for cid, _ in fused] == ["y", "x", "w", "z"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    weighted = rrf({"a": ["x", "y"], "b": ["y", "x"]}, {"a": 2.0, "b": 1.0}, k=60)
    assert weighted[0][0] == "x"


def test_convex_fusion_exact():
    # lexical scores 10, 4, 1 normalise to 1, 1/3, 0; dense 0.9, 0.5 to 1, 0
    fused = convex({"lexical": [("x", 10.0), ("y", 4.0), ("z", 1.0)], "dense": [("y", 0.9), ("w", 0.5)]},
                   {"lexical": 1.0, "dense": 3.0})
    assert [cid for cid, _ in fused] == ["y", "x", "w", "z"]
    assert fused[0][1] == pytest.approx(0.25 * (1 / 3) + 0.75 * 1.0)
    assert fused[1][1] == pytest.approx(0.25) and fused[2][1] == fused[3][1] == 0.0  # ties broken by id
    # a list whose scores are all equal counts fully for each of its ids; an empty list is ignored
    assert convex({"lexical": [("a", 2.0), ("b", 2.0)], "dense": []}, {}) == [("a", 1.0), ("b", 1.0)]
    with pytest.raises(BadInput, match="fusion 'max'"):
        FusionWeights(method="max")


def test_fusion_setting_is_checked(tmp_path, monkeypatch):
    from lingxi import Settings

    monkeypatch.setenv("LINGXI_FUSION", "convex")
    assert Settings.load(tmp_path).fusion == "convex"
    monkeypatch.setenv("LINGXI_FUSION", "sum")
    with pytest.raises(BadInput, match="LINGXI_FUSION"):
        Settings.load(tmp_path)


class _Plane:
    """A hand-made backend over unit vectors in 2-D, no lexical matches."""

    def __init__(self, vecs):
        import numpy as np

        self.vecs = {cid: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for cid, v in vecs.items()}
        self.dense_queries = []

    def lexical_ids(self, tokens, k, filters):
        return []

    def dense_ids(self, vector, k, filters):
        self.dense_queries.append(vector)
        scored = sorted(((cid, float(v @ vector)) for cid, v in self.vecs.items()), key=lambda x: (-x[1], x[0]))
        return scored[:k]

    def vectors_of(self, chunk_ids):
        return {c: self.vecs[c] for c in chunk_ids if c in self.vecs}


def test_feedback_moves_the_query_towards_its_top_hits():
    import numpy as np

    from lingxi.search.hybrid import Searcher

    # the query points at 0°; a (10°) and b (20°) are its top hits; d (-45°) and c (60°) come next: d is nearer
    # the query (cos 0.707 vs 0.5), but q + 3·mean(a, b) points at about 11°, so the moved query ranks c above d.
    deg = {"a": 10, "b": 20, "c": 60, "d": -45}
    backend = _Plane({cid: [np.cos(np.radians(x)), np.sin(np.radians(x))] for cid, x in deg.items()})
    searcher = Searcher(backend, lambda ids: [], lambda q: np.array([1.0, 0.0], dtype=np.float32),
                        FusionWeights(feedback=1.0, feedback_docs=2, feedback_beta=3.0))
    dense = backend.dense_ids(np.array([1.0, 0.0], dtype=np.float32), 10, Filters())
    assert [c for c, _ in dense] == ["a", "b", "d", "c"]
    moved = searcher._feedback(np.array([1.0, 0.0], dtype=np.float32), dense, 10, Filters())
    assert [c for c, _ in moved] == ["a", "b", "c", "d"]
    expect = np.array([1.0, 0.0]) + 3 * (backend.vecs["a"] + backend.vecs["b"]) / 2
    assert np.allclose(backend.dense_queries[-1], expect / np.linalg.norm(expect), atol=1e-6)
    # no stored vectors for the top hits: no feedback list (and no crash)
    assert searcher._feedback(np.array([1.0, 0.0], dtype=np.float32), [("zz", 1.0)], 10, Filters()) == []


def test_feedback_passages_come_from_distinct_notes():
    import numpy as np

    from lingxi.index.store import chunk_id, note_of_chunk
    from lingxi.search.hybrid import Searcher

    assert note_of_chunk(chunk_id("doc:7", 3)) == "doc:7"  # a JSONL id may hold ':' itself
    # note a's two chunks are the query's top hits; the feedback uses a's best and b's, not a's second
    deg = {"a:0": 5, "a:1": 6, "b:0": -30, "c:0": 80}
    backend = _Plane({cid: [np.cos(np.radians(x)), np.sin(np.radians(x))] for cid, x in deg.items()})
    searcher = Searcher(backend, lambda ids: [], None, FusionWeights(feedback_docs=2, feedback_beta=1.0))
    q = np.array([1.0, 0.0], dtype=np.float32)
    searcher._feedback(q, backend.dense_ids(q, 10, Filters()), 10, Filters())
    expect = q + (backend.vecs["a:0"] + backend.vecs["b:0"]) / 2
    assert np.allclose(backend.dense_queries[-1], expect / np.linalg.norm(expect), atol=1e-6)


def test_feedback_setting_is_checked(tmp_path, monkeypatch):
    from lingxi import Settings

    monkeypatch.setenv("LINGXI_FEEDBACK", "0")
    assert Settings.load(tmp_path).feedback_weight == 0.0
    for bad in ("-1", "lots"):
        monkeypatch.setenv("LINGXI_FEEDBACK", bad)
        with pytest.raises(BadInput, match="LINGXI_FEEDBACK"):
            Settings.load(tmp_path)


def test_highlight_marks_terms():
    assert highlight("熊猫上午最活跃", ["熊猫", "活跃"]) == "【熊猫】上午最【活跃】"


@pytest.fixture
def four(lib, tmp_path):
    rows = [
        '{"id":"d1","title":"熊猫","text":"大熊猫上午最活跃，十点以后大多在睡觉。","tags":["成都"],"author":"阿梨","created_at":"2025-03-18"}',
        '{"id":"d2","title":"蒸馏","text":"知识蒸馏让小模型模仿大模型的输出。","tags":["AI"],"author":"周言","created_at":"2025-02-10"}',
        '{"id":"d3","title":"Sourdough","text":"Feed the sourdough starter with rye flour once a day.","tags":["baking"],"created_at":"2024-11-02"}',
        '{"id":"d4","title":"Git","text":"git revert makes a new commit that undoes an old one.","tags":["dev"],"created_at":"2025-06-01"}',
    ]
    f = tmp_path / "four.jsonl"
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert lib.ingest([f])[0].status == "ingested"
    return lib


@pytest.mark.parametrize(
    ("query", "mode", "top"),
    [
        ("熊猫什么时候活跃", "bm25", "d1"),
        ("蒸馏 小模型", "bm25", "d2"),
        ("feeding a starter", "bm25", "d3"),
        ("undo a commit", "bm25", "d4"),
        ("panda active in the morning", "dense", "d1"),
        ("how to make a small model imitate a big one", "dense", "d2"),
        ("熊猫什么时候活跃", "hybrid", "d1"),
        ("revert git commit", "hybrid", "d4"),
    ],
)
def test_top_hit(four, query, mode, top):
    hits = four.search(query, k=4, mode=mode)
    assert hits[0].chunk.note_id == top


def test_filters(four):
    ids = lambda hits: sorted(h.chunk.note_id for h in hits)
    assert ids(four.search("模型 熊猫 git sourdough", k=10, filters=["tag=AI"])) == ["d2"]
    assert ids(four.search("模型 熊猫 git sourdough", k=10, filters=["author=阿梨", "author=周言"])) == ["d1", "d2"]
    assert ids(four.search("模型 熊猫 git sourdough", k=10, filters=["after=2025-03-01"])) == ["d1", "d4"]
    assert ids(four.search("模型 熊猫 git sourdough", k=10, filters=["before=2024-12"])) == ["d3"]
    assert ids(four.search("anything", k=10, mode="dense", filters=["kind=srt"])) == []
    with pytest.raises(BadInput, match="unknown filter field 'color'; valid fields: kind, tag, author, after, before"):
        Filters.parse(["color=red"])
    with pytest.raises(BadInput, match="expected a date"):
        Filters.parse(["after=yesterday"])


def test_bad_queries(four):
    with pytest.raises(BadInput, match="query is empty"):
        four.search("   ")
    with pytest.raises(BadInput, match="query is 10000 characters; the limit is 4000"):
        four.search("熊" * 10000)
    assert four.search("？！。，…") == []
    with pytest.raises(BadInput, match="search mode 'fuzzy' is not one of: hybrid, bm25, dense"):
        four.search("熊猫", mode="fuzzy")


def test_reingest_and_remove_update_indexes(four, tmp_path):
    f = tmp_path / "four.jsonl"
    f.write_text('{"id":"d9","text":"大熊猫下午也会吃竹子。"}\n', encoding="utf-8")
    four.ingest([f])
    assert [h.chunk.note_id for h in four.search("熊猫", mode="bm25")] == ["d9"]
    assert [h.chunk.note_id for h in four.search("熊猫", mode="dense")] == ["d9"]
    four.remove([f])
    assert four.search("熊猫", mode="bm25") == [] and four.search("熊猫", mode="dense") == []
    assert four.stats()["vectors"] == 0


def test_unchanged_chunks_not_reembedded(lib, tmp_path):
    calls = []
    emb = lib.embedder
    real = emb.embed_batch

    def counting(texts, role):
        calls.append(len(texts))
        return real(texts, role)

    emb.embed_batch = counting
    f = tmp_path / "a.md"
    f.write_text("# T\n\nfirst paragraph about pandas.\n\n" + "x " * 300 + "\n\nlast paragraph.", encoding="utf-8")
    lib.ingest([f])
    first = sum(calls)
    f.write_text("# T\n\nfirst paragraph about pandas.\n\n" + "x " * 300 + "\n\nlast paragraph changed.", encoding="utf-8")
    calls.clear()
    lib.ingest([f])
    assert first == 3 and sum(calls) == 1  # only the changed chunk was embedded
    lib.rebuild_index()
    assert sum(calls) == 1  # rebuild takes every vector from the cache


def test_demo_search_timestamp_locator(lib):
    lib.ingest([DEMO])
    hits = lib.search("熊猫什么时候最活跃", k=3)
    assert hits[0].chunk.locator.label() == "00:18:05–00:27:31"
    hits = lib.search("DeepSeek 蒸馏", k=5, filters=["kind=transcript"])
    assert [h.kind for h in hits] == ["transcript"]


def test_dense_index_sees_writes_from_another_connection(four, tmp_path):
    from lingxi import Library, Settings

    assert [h.chunk.note_id for h in four.search("bamboo afternoon pandas", k=1, mode="dense")] != ["late"]
    other = Library(Settings.load(four.settings.home, threads=1))  # e.g. a `lingxi ingest` in another process
    f = tmp_path / "late.jsonl"
    f.write_text('{"id":"late","text":"Pandas eat bamboo all afternoon."}\n', encoding="utf-8")
    assert other.ingest([f])[0].status == "ingested"
    other.close()
    assert [h.chunk.note_id for h in four.search("bamboo afternoon pandas", k=1, mode="dense")] == ["late"]


def test_bm25_query_terms_pruned_to_a_posting_budget(tmp_path):
    """The most common query terms are left out of the FTS5 query while the query's postings exceed the budget;
    the rarest term always stays; budget 0 or an index below ``prune_from`` keeps every term; the cached document
    frequencies follow the index's size."""
    import sqlite3

    from lingxi.index.embedded import EmbeddedIndex, fts_row_count

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE chunks (id TEXT PRIMARY KEY)")
    EmbeddedIndex.ensure_schema(conn)
    docs = ["common rare"] + ["common middle"] * 4 + ["common"] * 5  # df: common 10, middle 4, rare 1
    for i, text in enumerate(docs, 1):
        conn.execute("INSERT INTO chunks(rowid, id) VALUES (?, ?)", (i, f"c{i}"))
        conn.execute("INSERT INTO chunk_fts(rowid, tokens) VALUES (?, ?)", (i, text))
    conn.commit()  # FTS5 writes its totals record at commit
    assert fts_row_count(conn) == 10 == conn.execute("SELECT count(*) FROM chunk_fts").fetchone()[0]
    q = ["common", "middle", "rare", "absent"]
    terms = lambda budget, prune_from=0: EmbeddedIndex(tmp_path, 4, budget=budget, prune_from=prune_from) \
        .query_terms(conn, q)
    assert terms(0.0) == q  # off
    assert terms(2.0) == q  # 15 postings ≤ 2·10
    assert terms(1.0) == ["middle", "rare", "absent"]  # 15 > 10: drop "common" → 5 ≤ 10
    assert terms(0.3) == ["rare", "absent"]  # 5 > 3: drop "middle" too
    assert terms(0.01) == ["absent"]  # the rarest (df 0) always stays
    assert terms(0.3, prune_from=11) == q  # below prune_from nothing is dropped
    idx = EmbeddedIndex(tmp_path, 4, budget=0.3, prune_from=0)
    assert idx.query_terms(conn, ["rare", "fresh"]) == ["rare", "fresh"]
    for i in range(11, 14):  # "fresh" becomes common: the cached df of 0 must not survive the size change
        conn.execute("INSERT INTO chunks(rowid, id) VALUES (?, ?)", (i, f"c{i}"))
        conn.execute("INSERT INTO chunk_fts(rowid, tokens) VALUES (?, ?)", (i, "fresh"))
    conn.commit()
    assert idx.query_terms(conn, ["rare", "fresh"]) == ["rare"]
    # the BM25 query runs on the pruned terms: only the chunk with "rare" matches once "common" is dropped
    full = EmbeddedIndex(tmp_path, 4).lexical(conn, ["common", "rare"], 50, Filters())
    pruned = EmbeddedIndex(tmp_path, 4, budget=0.5, prune_from=0).lexical(conn, ["common", "rare"], 50, Filters())
    assert len(full) == 10 and full[0][0] == "c1" and [cid for cid, _ in pruned] == ["c1"]


def test_bm25_budget_setting_is_checked(tmp_path, monkeypatch):
    from lingxi import Settings

    monkeypatch.setenv("LINGXI_BM25_BUDGET", "0")
    assert Settings.load(tmp_path).bm25_budget == 0.0
    monkeypatch.setenv("LINGXI_BM25_BUDGET", "-1")
    with pytest.raises(BadInput, match="LINGXI_BM25_BUDGET"):
        Settings.load(tmp_path)
