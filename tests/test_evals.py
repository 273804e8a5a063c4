"""Evaluation plumbing: metric functions exact on hand-made cases, and the `eval retrieval` JSON contract."""

from __future__ import annotations

import json

import pytest

from lingxi.cli.main import main
from lingxi.evals.agent import best_em_f1, f1, normalize
from lingxi.evals.retrieval import load_rgb, ndcg


def test_f1_em_normalisation():
    assert normalize("The Chief of Protocol.") == "chief of protocol"
    assert f1("Chief of Protocol", "chief of protocol") == 1.0
    assert f1("the chief", "chief of protocol") == pytest.approx(2 * (1 * 1 / 3) / (1 + 1 / 3))
    assert best_em_f1("Chief of Protocol [1]", ["Chief of Protocol", "x"]) == (1.0, 1.0)


def test_ndcg():
    assert ndcg(["a", "b"], {"a"}, 10) == 1.0
    assert ndcg(["b", "a"], {"a"}, 10) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert ndcg(["x"], {"a"}, 10) == 0.0


def test_eval_retrieval_json_contract(tmp_path, capsys):
    rows = [
        {"id": 0, "query": "熊猫什么时候最活跃", "answer": ["上午"], "positive": ["大熊猫上午最活跃，十点以后大多在睡觉。"],
         "negative": ["成都的火锅以麻辣著称。", "功夫茶的第一泡用来醒茶。"]},
        {"id": 1, "query": "第一泡茶要喝吗", "answer": ["不喝"], "positive": ["功夫茶的第一泡用来醒茶。"],
         "negative": ["大熊猫上午最活跃，十点以后大多在睡觉。"]},
    ]
    f = tmp_path / "rgb.json"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    data = load_rgb(f)
    assert len(data.passages) == 3 and [sorted(r) for _, _, r in data.queries] == [["p0"], ["p2"]]
    code = main(["--home", str(tmp_path / "h"), "eval", "retrieval", "--rgb", str(f), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)  # exactly one JSON object on stdout
    # hybrid under every fusion, the configured one first, each with and without pseudo-relevance feedback
    # (same store, same run)
    assert [r["system"] for r in result["rows"]] == [
        "lingxi-bm25", "lingxi-dense", "lingxi-hybrid-softmax-seeded", "lingxi-hybrid-softmax-seeded-nofeedback",
        "lingxi-hybrid-rrf", "lingxi-hybrid-rrf-nofeedback", "lingxi-hybrid-convex", "lingxi-hybrid-convex-nofeedback",
        "lingxi-hybrid-adaptive", "lingxi-hybrid-adaptive-nofeedback", "lingxi-hybrid-adaptive-convex",
        "lingxi-hybrid-adaptive-convex-nofeedback", "lingxi-hybrid-softmax", "lingxi-hybrid-softmax-nofeedback",
        "lingxi-hybrid-softmax-capped", "lingxi-hybrid-softmax-capped-nofeedback", "bm25s (same jieba tokens)"]
    assert result["config"]["fusion"]["method"] == "softmax-seeded" and result["config"]["fusion"]["feedback"] == 1.0
    assert result["rows"][0]["metrics"]["ndcg@10"] == 1.0
    assert set(result["rows"][2]["metrics"]) == {"ndcg@10", "recall@5", "recall@10", "recall@50", "mrr", "p50_ms"}


def test_long_document_sets_score_chunks_by_the_gold_spans_they_overlap(tmp_path, capsys):
    from lingxi.evals.retrieval import load_locomo

    turns = [{"speaker": "Ann", "dia_id": f"D1:{i}", "text": f"filler talk number {i} about the weather. " * 6}
             for i in range(1, 13)]
    turns[6]["text"] = "I adopted a grey kitten called Pepper from the shelter last week. " * 3
    conv = {"sample_id": "c0", "conversation": {"speaker_a": "Ann", "speaker_b": "Bo", "session_1_date_time": "May 1",
                                                "session_1": turns},
            "qa": [{"question": "What is the name of Ann's kitten?", "evidence": ["D1:7"]},
                   {"question": "unmapped", "evidence": ["D9:1"]}]}
    f = tmp_path / "locomo.json"
    f.write_text(json.dumps([conv]), encoding="utf-8")
    data = load_locomo(f)
    [(qid, q, rel)] = data.queries  # the question whose evidence names no turn is left out
    assert (qid, rel) == ("c0-q0", {"c0@D1:7"})
    pid, a, b = data.spans["c0@D1:7"]
    assert data.passages[pid][1][a:b].startswith("Ann: I adopted a grey kitten")
    code = main(["--home", str(tmp_path / "h"), "eval", "retrieval", "--locomo", str(f), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["config"]["per_note"] == 0 and result["config"]["gold_spans"] == 1
    bm25 = result["rows"][0]
    assert bm25["system"] == "lingxi-bm25" and bm25["metrics"]["recall@5"] == 1.0 and bm25["metrics"]["mrr"] == 1.0
    assert "bm25s (same jieba tokens)" not in [r["system"] for r in result["rows"]]


def test_eval_agent_needs_a_dataset(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "eval", "agent"]) == 1
    assert "give --hotpotqa FILE" in capsys.readouterr().err
