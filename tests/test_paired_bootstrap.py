"""bench/paired_bootstrap.py: agent vs RAG from eval traces, pooled, and its TSV round trip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "paired_bootstrap.py"


def _run(*args: str) -> dict:
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_pools_traces_by_question_and_keeps_them_as_tsv(tmp_path):
    rows = [("q1", 1.0, 0.5), ("q2", 0.0, 1.0), ("q3", 1.0, 1.0)]  # (id, agent F1, RAG F1)
    trace = tmp_path / "t.jsonl"
    trace.write_text(json.dumps({"config": {}}) + "\n" + "".join(
        json.dumps({"id": q, "system": "single-shot RAG", "f1": b, "seconds": 10.0}) + "\n"
        + json.dumps({"id": q, "system": "agent", "f1": a, "seconds": 20.0}) + "\n" for q, a, b in rows))
    later = tmp_path / "later.jsonl"  # q3 run again later: the later file counts
    later.write_text(json.dumps({"id": "q3", "system": "agent", "f1": 0.0, "seconds": 30.0}) + "\n")
    tsv = tmp_path / "scores.tsv"
    got = _run(str(trace), str(later), "--tsv", str(tsv), "--samples", "200")
    assert got["questions"] == 3
    assert got["agent"] == round(1.0 / 3, 4) and got["rag"] == round(2.5 / 3, 4)
    assert got["ratio"] == round((1.0 / 3) / (2.5 / 3), 3)
    assert got["better"] == 1 and got["worse"] == 2
    assert got["time_ratio_median"] == 2.0
    lo, hi = got["interval_0.9"]
    assert 0 <= lo <= got["ratio"] <= hi
    # the TSV alone gives the same pooled means
    again = _run(str(tsv), "--samples", "200")
    assert (again["agent"], again["rag"], again["questions"]) == (got["agent"], got["rag"], 3)
