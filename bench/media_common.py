"""Shared by bench/ocr_bench.py and bench/asr_bench.py: error rates, child-process runs, retrieval recall."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def edit_distance(a: list[str] | str, b: list[str] | str) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def chars(text: str) -> str:
    """Characters compared for CER: NFKC (full-width punctuation = ASCII), no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def words(text: str) -> list[str]:
    """Words compared for WER: lower case, punctuation dropped."""
    return re.findall(r"[a-z0-9']+", unicodedata.normalize("NFKC", text).lower())


def han(text: str) -> str:
    """Chinese characters only (for CER on speech, where punctuation is not spoken)."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if "\u4e00" <= c <= "\u9fff" or c.isalnum())


def rate(pairs: list[tuple[Any, Any]]) -> float:
    """Micro-averaged error rate over (reference, hypothesis) sequences."""
    errors = sum(edit_distance(r, h) for r, h in pairs)
    total = sum(len(r) for r, _ in pairs)
    return errors / max(1, total)


def child(script: Path, args: list[str]) -> dict[str, Any]:
    """Run ``script --worker ...`` in its own process (so peak memory is its own) and read its JSON."""
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    import resource

    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def recall(texts: dict[str, str], queries: list[tuple[str, set[str]]], k: int, threads: int,
           phonetic: float | None = None) -> dict[str, float]:
    """Recall@k of each search mode: notes are the recognised texts (JSONL ids = item names). ``phonetic``: the
    weight of the phonetic (pinyin) list in hybrid search, with the texts indexed phonetically as recognised speech
    is (``LINGXI_PHONETIC_KINDS``); 0 turns it off; None leaves the texts as ordinary notes."""
    from lingxi import Library, Settings

    with tempfile.TemporaryDirectory() as home:
        src = Path(home) / "recognised.jsonl"
        with src.open("w") as f:
            for i, text in enumerate(texts.values()):
                if text.strip():
                    f.write(json.dumps({"id": f"item{i}", "title": "note", "text": text}, ensure_ascii=False) + "\n")
        ids = {f"item{i}": name for i, name in enumerate(texts)}
        extra: dict[str, object] = {}
        if phonetic is not None:
            extra = {"phonetic_weight": phonetic, "phonetic_kinds": ("jsonl",)}
        lib = Library(Settings.load(Path(home) / "h", threads=threads, **extra))
        [report] = lib.ingest([src])
        if report.status != "ingested":
            raise SystemExit(f"could not ingest recognised texts: {report.reason}")
        out = {}
        for mode in ("bm25", "dense", "hybrid"):
            found = 0
            for q, relevant in queries:
                hits = lib.search(q, k=k, mode=mode)
                found += any(ids.get(h.chunk.note_id) in relevant for h in hits)
            out[mode] = round(found / max(1, len(queries)), 4)
        lib.close()
    return out
