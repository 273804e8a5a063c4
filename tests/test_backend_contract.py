"""One contract, every retrieval backend: the embedded SQLite/HNSW index and Milvus (Lite in CI).

Same inputs must give the same ids for exact-match queries, filters, deletes and re-ingest."""

from __future__ import annotations

import pytest

from lingxi import Library, Settings

ROWS = [
    '{"id":"c1","title":"大熊猫","text":"大熊猫上午最活跃，十点以后大多在睡觉。","tags":["成都","熊猫"],"author":"阿梨","created_at":"2025-03-18"}',
    '{"id":"c2","title":"知识蒸馏","text":"知识蒸馏让小模型模仿大模型的输出分布。","tags":["AI"],"author":"周言","created_at":"2025-02-10"}',
    '{"id":"c3","title":"Sourdough","text":"Feed the sourdough starter with rye flour once a day.","tags":["baking"],"created_at":"2024-11-02"}',
    '{"id":"c4","title":"Git","text":"git revert makes a new commit that undoes an old one.","tags":["dev"],"author":"sam","created_at":"2025-06-01"}',
    '{"id":"c5","title":"Espresso","text":"Grind finer when the espresso shot runs fast and tastes sour.","tags":["coffee"],"created_at":"2025-01-15"}',
]


@pytest.fixture(scope="class", params=["embedded", "milvus"])
def backend_lib(request, tmp_path_factory):
    if request.param == "milvus":
        pytest.importorskip("pymilvus", reason="pymilvus not installed: pip install 'lingxi[milvus]'")
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    lib = Library(Settings.load(home, threads=1, backend=request.param))
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "rows.jsonl").write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    (corpus / "extra.jsonl").write_text('{"id":"x1","text":"大熊猫下午吃竹子。","tags":["熊猫"]}\n', encoding="utf-8")
    assert [r.status for r in lib.ingest([corpus])] == ["ingested", "ingested"]
    lib.corpus = corpus
    yield lib
    lib.close()


def ids(hits):
    return [h.chunk.note_id for h in hits]


class TestBackendContract:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [("sourdough starter rye", "c3"), ("git revert commit", "c4"), ("知识蒸馏", "c2"), ("espresso grind", "c5")],
    )
    @pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
    def test_exact_match_top1(self, backend_lib, mode, query, expected):
        assert ids(backend_lib.search(query, k=3, mode=mode))[0] == expected

    @pytest.mark.parametrize(
        ("query", "expected"),
        [("sourdough starter rye", "c3"), ("git revert commit", "c4"), ("知识蒸馏", "c2"), ("espresso grind", "c5")],
    )
    def test_convex_fusion_top1_and_filters(self, backend_lib, query, expected):
        from dataclasses import replace

        from lingxi.index.filters import Filters

        searcher = backend_lib.searcher()
        searcher.weights = replace(searcher.weights, method="convex")
        assert ids(searcher.search(query, k=3, mode="hybrid"))[0] == expected
        assert sorted(ids(searcher.search("熊猫 蒸馏 git", k=10, mode="hybrid", filters=Filters.parse(["tag=熊猫"])))) \
            == ["c1", "x1"]

    def test_vectors_of_returns_the_stored_chunk_vectors(self, backend_lib):
        import numpy as np

        [hit] = backend_lib.search("知识蒸馏", k=1, mode="dense")
        backend = backend_lib.searcher().backend
        got = backend.vectors_of([hit.chunk.id, "no-such-chunk"])
        assert list(got) == [hit.chunk.id]
        v = got[hit.chunk.id]
        assert v.shape == (backend_lib.embedder.dim,) and abs(float(np.linalg.norm(v)) - 1) < 1e-3
        # the stored vector is the one dense search scored: its cosine with the query is the hit's score
        q = backend_lib.embedder.embed_query("知识蒸馏")
        assert float(v @ q) == pytest.approx(hit.signals["cosine"], abs=2e-3)
        assert backend.vectors_of([]) == {}

    def test_hybrid_hits_carry_the_feedback_rank(self, backend_lib):
        hits = backend_lib.search("知识蒸馏", k=3, mode="hybrid")
        assert hits[0].chunk.note_id == "c2" and hits[0].signals["feedback_rank"] == 1

    def test_bm25_returns_only_matching_notes(self, backend_lib):
        assert sorted(ids(backend_lib.search("熊猫", k=10, mode="bm25"))) == ["c1", "x1"]

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            (["tag=熊猫"], ["c1", "x1"]),
            (["tag=AI", "tag=dev"], ["c2", "c4"]),
            (["author=阿梨"], ["c1"]),
            (["kind=jsonl", "after=2025-03-01"], ["c1", "c4"]),
            (["before=2025-01"], ["c3", "c5"]),
            (["kind=srt"], []),
        ],
    )
    @pytest.mark.parametrize("mode", ["dense", "hybrid"])
    def test_filters(self, backend_lib, mode, filters, expected):
        assert sorted(ids(backend_lib.search("熊猫 蒸馏 git sourdough espresso", k=10, mode=mode, filters=filters))) == expected

    def test_reingest_replaces_then_delete_removes(self, backend_lib):
        extra = backend_lib.corpus / "extra.jsonl"
        extra.write_text('{"id":"x2","text":"Pandas also eat bamboo in the afternoon.","tags":["熊猫"]}\n', encoding="utf-8")
        [r] = backend_lib.ingest([extra])
        assert r.status == "ingested"
        assert sorted(ids(backend_lib.search("熊猫", k=10, mode="bm25"))) == ["c1"]
        assert ids(backend_lib.search("pandas bamboo afternoon", k=1, mode="dense")) == ["x2"]
        backend_lib.remove([extra])
        for mode in ("bm25", "dense", "hybrid"):
            assert "x2" not in ids(backend_lib.search("pandas bamboo afternoon", k=10, mode=mode))
        assert sorted(ids(backend_lib.search("x", k=10, mode="dense", filters=["tag=熊猫"]))) == ["c1"]

    def test_rebuild_keeps_results(self, backend_lib):
        before = ids(backend_lib.search("git revert commit", k=3, mode="hybrid"))
        backend_lib.rebuild_index()
        assert ids(backend_lib.search("git revert commit", k=3, mode="hybrid")) == before

    @pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
    def test_a_viewer_sees_public_notes_and_only_their_own_private_ones(self, backend_lib, mode):
        from lingxi.index.filters import Filters

        mine = backend_lib.ingest_upload(b"# Giraffe plan\n\nThe purple giraffe plan's password is amber seven.\n",
                                         "giraffe.md", "alice")
        theirs = backend_lib.ingest_upload(b"# Giraffe diary\n\nBob saw a purple giraffe eating amber leaves.\n",
                                           "diary.md", "bob")
        public = backend_lib.ingest_upload(b"# Giraffe facts\n\nGiraffes sleep standing; a purple tongue eats leaves.\n",
                                           "facts.md", "bob", visibility="public")
        assert [r.status for r in (mine, theirs, public)] == ["ingested"] * 3
        a, b, p = (backend_lib.store.note_ids_for_file(f"upload:{who}/{n}")[0]
                   for who, n in (("alice", "giraffe.md"), ("bob", "diary.md"), ("bob", "facts.md")))
        try:
            q = "purple giraffe amber"
            assert {a, b, p} <= set(ids(backend_lib.search(q, k=10, mode=mode)))  # the operator sees everything
            assert set(ids(backend_lib.search(q, k=10, mode=mode, filters=Filters(viewer="alice")))) & {a, b, p} == {a, p}
            assert set(ids(backend_lib.search(q, k=10, mode=mode, filters=Filters(viewer="bob")))) & {a, b, p} == {b, p}
            assert set(ids(backend_lib.search(q, k=10, mode=mode, filters=Filters(viewer="carol")))) & {a, b, p} == {p}
        finally:
            for nid in (a, b, p):
                backend_lib.delete_note(nid)
        assert not {a, b, p} & set(ids(backend_lib.search("purple giraffe amber", k=10, mode=mode)))
