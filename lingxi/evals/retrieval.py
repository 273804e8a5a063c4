"""Retrieval evaluation: bm25, dense and hybrid from lingxi, plus the peer bm25s on the same tokens.

Datasets are pooled into one corpus (each passage a note) and ingested through the
normal Library path, so the numbers measure exactly what `lingxi search` does.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lingxi.config import FUSIONS, Settings
from lingxi.errors import BadInput
from lingxi.index.tokenize import tokenize
from lingxi.library import Library

_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class RetrievalSet:
    """Passages (each ingested as one note) and queries with their relevant ids.

    Without ``spans`` a query's relevant ids are passage ids and a hit counts by its note. With ``spans`` (span id →
    (passage id, start, end) in the passage's text) the passages are long documents, relevant ids are span ids, and
    a hit counts for every gold span its chunk overlaps: the measure of a chunk ranking inside long notes."""

    name: str
    passages: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: list[tuple[str, str, set[str]]]  # (qid, text, relevant passage or span ids)
    spans: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    # a folder of real files ingested as they are, and for each gold id the (file, verbatim quote) that locate it
    corpus: Path | None = None
    quotes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise BadInput(f"{path}: line {n}: not valid JSON ({e.msg})") from e
    return rows


def _slice(rows: list[Any], skip: int, limit: int | None) -> list[Any]:
    return rows[skip : None if limit is None else skip + limit]


def rgb_passages(group: list[Any]) -> list[str]:
    """An RGB row's ``positive`` or ``negative`` list as passages (an item that is a list is a group of passages)."""
    return [str(x) for p in group for x in (p if isinstance(p, list) else [p])]


def load_rgb(path: Path, limit: int | None = None, skip: int = 0) -> RetrievalSet:
    """RGB (`{"query", "positive": [...], "negative": [...]}` per line): all passages pooled; positives relevant."""
    ids: dict[str, str] = {}
    queries: list[tuple[str, str, set[str]]] = []
    for row in _slice(_read_jsonl(path), skip, limit):
        try:
            pos, neg, q = row["positive"], row["negative"], row["query"]
        except KeyError as e:
            raise BadInput(f"{path}: row {row.get('id')!r} lacks field {e}") from e
        for text in rgb_passages(pos) + rgb_passages(neg):
            ids.setdefault(text, f"p{len(ids)}")
        rel = {ids[t] for t in rgb_passages(pos)}
        if rel:
            queries.append((str(row.get("id", len(queries))), q, rel))
    return RetrievalSet(path.name, {pid: ("", t) for t, pid in ids.items()}, queries)


def load_hotpotqa(path: Path, limit: int | None = None, skip: int = 0) -> RetrievalSet:
    """HotpotQA with contexts (`question_text`, `contexts: [{title, paragraph_text, is_supporting}]`)."""
    ids: dict[tuple[str, str], str] = {}
    queries = []
    for row in _slice(_read_jsonl(path), skip, limit):
        rel = set()
        for c in row["contexts"]:
            key = (c["title"], c["paragraph_text"])
            pid = ids.setdefault(key, f"p{len(ids)}")
            if c.get("is_supporting"):
                rel.add(pid)
        queries.append((row["question_id"], row["question_text"], rel))
    return RetrievalSet(path.name, {pid: key for key, pid in ids.items()}, queries)


def load_locomo(path: Path, limit: int | None = None, skip: int = 0) -> RetrievalSet:
    """LoCoMo conversations (a JSON list; ``skip``/``limit`` count conversations), each one long transcript: a
    header paragraph per session with its date, then one paragraph ``Speaker: text`` per turn. A question's gold
    spans are its evidence turns (``"D1:3"``); questions whose evidence names no turn are left out."""
    try:
        convs = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON ({e.msg})") from e
    if not isinstance(convs, list):
        raise BadInput(f"{path}: expected a JSON list of conversations")
    passages: dict[str, tuple[str, str]] = {}
    spans: dict[str, tuple[str, int, int]] = {}
    queries: list[tuple[str, str, set[str]]] = []
    for ci, conv in enumerate(_slice(convs, skip, limit), start=skip):
        try:
            sessions, qa = conv["conversation"], conv["qa"]
        except (KeyError, TypeError) as e:
            raise BadInput(f"{path}: conversation {ci} lacks field {e}") from e
        pid = str(conv.get("sample_id") or f"conv{ci}").replace(" ", "_")
        parts: list[str] = []
        pos = 0
        turn_span: dict[str, tuple[int, int]] = {}

        def add(text: str) -> tuple[int, int]:
            nonlocal pos
            if parts:
                pos += 2  # the blank line before this paragraph
            start = pos
            parts.append(text)
            pos += len(text)
            return start, pos

        n = 1
        while f"session_{n}" in sessions:
            add(f"Session {n} — {sessions.get(f'session_{n}_date_time', '')}".strip())
            for turn in sessions[f"session_{n}"]:
                text = " ".join(str(turn.get("text", "")).split())
                if text:
                    turn_span[str(turn.get("dia_id"))] = add(f"{turn.get('speaker', '')}: {text}")
            n += 1
        passages[pid] = (f"Conversation {ci}: {sessions.get('speaker_a', '')} and {sessions.get('speaker_b', '')}",
                         "\n\n".join(parts))
        for qi, item in enumerate(qa):
            rel = set()
            for ev in item.get("evidence") or []:
                for dia in str(ev).replace(";", " ").replace(",", " ").split():
                    if dia in turn_span:
                        sid = f"{pid}@{dia}"
                        spans[sid] = (pid, *turn_span[dia])
                        rel.add(sid)
            question = str(item.get("question", "")).strip()
            if rel and question:
                queries.append((f"{pid}-q{qi}", question, rel))
    return RetrievalSet(path.name, passages, queries, spans)


def load_long_hotpotqa(path: Path, limit: int | None = None, skip: int = 0, per_article: int = 5,
                       seed: int = 0) -> RetrievalSet:
    """HotpotQA paragraphs joined into long articles: the paragraphs of each ``per_article`` consecutive questions
    (gold and distractors), shuffled with a fixed seed, make one article, each paragraph ``title\ntext``. A
    question's gold spans are its supporting paragraphs."""
    import random

    rows = _slice(_read_jsonl(path), skip, limit)
    passages: dict[str, tuple[str, str]] = {}
    spans: dict[str, tuple[str, int, int]] = {}
    queries: list[tuple[str, str, set[str]]] = []
    for b in range(0, len(rows), per_article):
        block = rows[b : b + per_article]
        pid = f"article{skip + b}"
        paras: dict[tuple[str, str], None] = {}
        for row in block:
            for c in row["contexts"]:
                paras.setdefault((c["title"], " ".join(c["paragraph_text"].split())), None)
        order = list(paras)
        random.Random(seed + skip + b).shuffle(order)
        where: dict[tuple[str, str], tuple[int, int]] = {}
        pos, texts = 0, []
        for key in order:
            text = f"{key[0]}\n{key[1]}"
            where[key] = (pos, pos + len(text))
            texts.append(text)
            pos += len(text) + 2
        passages[pid] = (f"Article {skip + b}", "\n\n".join(texts))
        for row in block:
            rel = set()
            for c in row["contexts"]:
                if c.get("is_supporting"):
                    key = (c["title"], " ".join(c["paragraph_text"].split()))
                    sid = f"{pid}@{len(spans)}"
                    spans[sid] = (pid, *where[key])
                    rel.add(sid)
            if rel:
                queries.append((row["question_id"], row["question_text"], rel))
    return RetrievalSet(f"{path.name} (long articles of {per_article} questions)", passages, queries, spans)


_TIMING = re.compile(r"^\s*(\[[^\]]*-->[^\]]*\]\s*|\d+\s*$|\d{1,2}:\d{2}[:.,\d]*\s*-->.*$|WEBVTT.*$|NOTE\b.*$)")


def transcript_lines(path: Path) -> list[str]:
    """The spoken lines of a transcript or subtitle file (Whisper ``[a --> b] text``, SRT, VTT): cue numbers, time
    lines and headers dropped, bracketed times stripped."""
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _TIMING.match(line)
        text = (line[m.end():] if m and line.lstrip().startswith("[") else ("" if m else line)).strip()
        if text:
            out.append(text)
    return out


def load_asr(paths: list[Path], rate: float = 0.15, seed: int = 0, per_file: int = 30,
             words: int = 3) -> tuple[RetrievalSet, RetrievalSet, RetrievalSet]:
    """Known-item questions over Chinese transcripts, as (clean, noisy, noisy-affected) sets sharing the questions.
    Each file is one long passage (its spoken lines, one per line). A question is the ``words`` rarest content words
    (jieba, no stopwords, 2+ characters; rarest by how many lines of the file hold them) of a line sampled with
    ``seed`` — the few key words a user types — and its gold span is that line. The noisy set is the same text with
    ``rate`` of its words replaced by homophones (``lingxi.evals.homophones``); the questions stay correctly written.
    The affected set keeps the questions one of whose words the noise changed in the gold line."""
    import random

    from lingxi.evals.homophones import corrupt
    from lingxi.index.tokenize import jieba_module, stopwords

    stop = stopwords()
    clean: dict[str, tuple[str, str]] = {}
    noisy: dict[str, tuple[str, str]] = {}
    spans: dict[str, tuple[str, int, int]] = {}
    queries: list[tuple[str, str, set[str]]] = []
    affected: list[tuple[str, str, set[str]]] = []
    replaced = total = 0
    for fi, path in enumerate(paths):
        lines = transcript_lines(path)
        if not lines:
            raise BadInput(f"{path}: no spoken lines found")
        pid = f"t{fi}"
        body = "\n".join(lines)
        starts = []
        pos = 0
        for ln in lines:
            starts.append(pos)
            pos += len(ln) + 1
        bad, done, n = corrupt(body, rate, seed + fi)
        replaced, total = replaced + done, total + n
        clean[pid] = (path.stem, body)
        noisy[pid] = (path.stem, bad)
        content = [list(dict.fromkeys(w for w in jieba_module().cut(ln) if len(w) >= 2 and w not in stop
                                      and _CJK.search(w))) for ln in lines]
        df: dict[str, int] = {}
        for ws in content:
            for w in ws:
                df[w] = df.get(w, 0) + 1
        rng = random.Random(seed + 1000 + fi)
        cands = list(range(len(lines)))
        rng.shuffle(cands)
        taken = 0
        for li in cands:
            if taken >= per_file:
                break
            if len(content[li]) < words:
                continue
            key = sorted(content[li], key=lambda w: (df[w], content[li].index(w)))[:words]
            key.sort(key=content[li].index)
            sid = f"{pid}@{li}"
            a, b = starts[li], starts[li] + len(lines[li])
            spans[sid] = (pid, a, b)
            queries.append((sid, " ".join(key), {sid}))
            if any(w not in bad[a:b] for w in key):
                affected.append(queries[-1])
            taken += 1
    tag = f"{len(paths)} transcripts, {len(queries)} questions"
    share = f"{replaced}/{total} words ({replaced / max(total, 1):.1%}) replaced by homophones, seed {seed}"
    return (RetrievalSet(f"asr clean ({tag})", clean, queries, spans),
            RetrievalSet(f"asr noisy ({tag}; {share})", noisy, queries, spans),
            RetrievalSet(f"asr noisy, questions whose words the noise hit ({len(affected)} of {tag}; {share})",
                         noisy, affected, spans))


def load_questions(path: Path, corpus: Path, split: str | None = None,
                   kinds: tuple[str, ...] = ()) -> RetrievalSet:
    """Questions over a folder of real documents (``{"id", "q", "split", "kind", "evidence": [{"file", "quote"}],
    "alt_evidence": [...]}`` per line, bench/data/realworld_qa.jsonl's format): the folder is ingested through
    the normal parsers, and each evidence passage is found by its quote (an alternative evidence with the same index
    counts as the same passage). ``split``/``kinds`` keep only those rows."""
    if not corpus.is_dir():
        raise BadInput(f"{corpus}: not a folder")
    queries: list[tuple[str, str, set[str]]] = []
    quotes: dict[str, list[tuple[str, str]]] = {}
    for row in _read_jsonl(path):
        if (split and row.get("split") != split) or (kinds and row.get("kind") not in kinds):
            continue
        try:
            qid, q, evidence = str(row["id"]), str(row["q"]), row["evidence"]
        except KeyError as e:
            raise BadInput(f"{path}: row {row.get('id')!r} lacks field {e}") from e
        rel = set()
        for i, ev in enumerate(evidence):
            sid = f"{qid}@{i}"
            quotes[sid] = [(str(ev["file"]), str(ev["quote"]))]
            rel.add(sid)
        for i, ev in enumerate(row.get("alt_evidence") or []):
            sid = f"{qid}@{min(i, len(evidence) - 1)}"
            quotes.setdefault(sid, []).append((str(ev["file"]), str(ev["quote"])))
        queries.append((qid, q, rel))
    label = path.name + (f" {split}" if split else "") + (f" ({', '.join(kinds)})" if kinds else "")
    return RetrievalSet(label, {}, queries, corpus=corpus, quotes=quotes)


def _squashed(text: str) -> tuple[str, list[int]]:
    """``text`` without whitespace, and for each kept character its offset in ``text``."""
    keep = [(i, ch) for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(ch for _, ch in keep), [i for i, _ in keep]


def _quote_covers(lib: Library, data: RetrievalSet) -> tuple[dict[str, frozenset[str]], list[str]]:
    """chunk id → the gold ids whose quote its characters overlap; and the quotes found in no note."""
    assert data.corpus is not None
    root = data.corpus.resolve()
    notes_of: dict[str, list[str]] = {}
    for r in lib.conn.execute("SELECT id, file_path FROM notes"):
        notes_of.setdefault(str(Path(r[1]).resolve().relative_to(root)) if Path(r[1]).resolve().is_relative_to(root)
                            else r[1], []).append(r[0])
    out: dict[str, set[str]] = {}
    missing = []
    for sid, locs in data.quotes.items():
        found = False
        for file, quote in locs:
            q, _ = _squashed(quote)
            for nid in notes_of.get(file, []):
                note = lib.store.get_note(nid)
                flat, where = _squashed(note.body)
                at = flat.find(q)
                if at < 0 or not q:
                    continue
                a, b = where[at], where[at + len(q) - 1] + 1
                for c in note.chunks:
                    cs, ce = c.locator.char_start, c.locator.char_end
                    inside = (cs is not None and ce is not None and a < ce and cs < b) or \
                        (cs is None and q in _squashed(c.text)[0])
                    if inside:
                        out.setdefault(c.id, set()).add(sid)
                        found = True
        if not found:
            missing.append(sid)
    return {cid: frozenset(v) for cid, v in out.items()}, missing


def ndcg(ranked: list[str], rel: set[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in rel)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / ideal if ideal else 0.0


def ndcg_covered(ranked: list[frozenset[str]], rel: set[str], k: int) -> float:
    """nDCG@k where a ranked item covers a set of relevant ids and gains 1 for covering any not yet covered."""
    seen: set[str] = set()
    dcg = 0.0
    for i, ids in enumerate(ranked[:k]):
        new = (ids & rel) - seen
        if new:
            dcg += 1 / math.log2(i + 2)
            seen |= new
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / ideal if ideal else 0.0


def _recall(ranked: list[frozenset[str]], rel: set[str], k: int) -> float:
    covered: set[str] = set()
    for ids in ranked[:k]:
        covered |= ids
    return len(covered & rel) / len(rel)


def _rr(ranked: list[frozenset[str]], rel: set[str]) -> float:
    return next((1 / (i + 1) for i, d in enumerate(ranked) if d & rel), 0.0)


Run = tuple[list[frozenset[str]], set[str]]


def score_run(runs: list[Run], latencies: list[float]) -> dict[str, float]:
    """Metrics over (ranked items, relevant ids) pairs; each item is the set of relevant-id candidates it covers (a
    passage covers its own id; a chunk of a long document covers the gold spans it overlaps)."""

    def mean(f: Callable[[list[frozenset[str]], set[str]], float]) -> float:
        return round(statistics.fmean(f(r, rel) for r, rel in runs), 4) if runs else 0.0

    return {
        "ndcg@10": mean(lambda r, rel: ndcg_covered(r, rel, 10)),
        "recall@5": mean(lambda r, rel: _recall(r, rel, 5)),
        "recall@10": mean(lambda r, rel: _recall(r, rel, 10)),
        "recall@50": mean(lambda r, rel: _recall(r, rel, 50)),
        "mrr": mean(_rr),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else 0.0,
    }


@dataclass(frozen=True)
class System:
    """One row of the evaluation: a search mode, and for hybrid its fusion, feedback weight and per-note limit."""

    mode: str
    fusion: str = ""
    feedback: float = 0.0
    per_note: int = 1
    phonetic: float | None = None
    lexical: float | None = None

    def name(self) -> str:
        if self.mode != "hybrid":
            return f"lingxi-{self.mode}" + ("" if self.phonetic is None else f"-phonetic{self.phonetic:g}")
        out = f"lingxi-hybrid-{self.fusion}" + ("" if self.feedback > 0 else "-nofeedback")
        if self.phonetic is not None:
            out += f"-phonetic{self.phonetic:g}"
        if self.lexical is not None:
            out += f"-lexical{self.lexical:g}"
        return out


def phonetic_systems(s: Settings, per_note: int) -> list[System]:
    """bm25, dense, and the configured hybrid without and with the phonetic list (weight 1)."""
    return [System("bm25", per_note=per_note), System("dense", per_note=per_note),
            System("hybrid", s.fusion, s.feedback_weight, per_note, phonetic=0.0),
            System("hybrid", s.fusion, s.feedback_weight, per_note, phonetic=1.0)]


def default_systems(s: Settings, per_note: int) -> list[System]:
    """bm25 and dense, then hybrid under every fusion with and without pseudo-relevance feedback, the configured
    fusion and feedback first."""
    fb = s.feedback_weight or 1.0
    out = [System("bm25", per_note=per_note), System("dense", per_note=per_note)]
    fusions = [s.fusion] + [f for f in FUSIONS if f != s.fusion]
    feedbacks = [s.feedback_weight] + [x for x in (fb, 0.0) if x != s.feedback_weight]
    out += [System("hybrid", f, x, per_note) for f in fusions for x in feedbacks]
    return out


class _QueryVectors:
    """The query embedder with a memory, so every row of one evaluation embeds each question once."""

    def __init__(self, embed: Callable[[str], Any]) -> None:
        self.embed = embed
        self.memo: dict[str, Any] = {}

    def __call__(self, q: str) -> Any:
        if q not in self.memo:
            self.memo[q] = self.embed(q)
        return self.memo[q]


def evaluate(data: RetrievalSet, settings: Settings | None = None, progress: Callable[[str], None] | None = None,
             with_bm25s: bool = True, store: Path | None = None, systems: list[System] | None = None,
             per_note: int | None = None) -> dict[str, Any]:
    """``store``: a folder that keeps the evaluation's store, so a rerun (other fusion weights, say) neither
    re-parses nor re-embeds the corpus. Without it the store lives in a temporary folder. ``per_note``: the
    per-note limit of every row (default: 1 for passage sets, 0 — a plain chunk ranking — for long documents)."""
    say = progress or (lambda s: None)
    long_docs = bool(data.spans) or data.corpus is not None
    pn = per_note if per_note is not None else (0 if long_docs else 1)
    with tempfile.TemporaryDirectory(prefix="lingxi-eval-") as tmp:
        home = store or Path(tmp) / "home"
        home.mkdir(parents=True, exist_ok=True)
        base = settings or Settings.load(home)
        s = Settings(**{**base.__dict__, "home": home.resolve()})
        lib = Library(s)
        lib.embed_progress = lambda d, n: say(f"embedded {d}/{n}") if d == n or d % 500 < 16 else None
        t0 = time.perf_counter()
        missing: list[str] = []
        if data.corpus is not None:
            say(f"ingesting {data.corpus} into {home} (embedding takes a while on CPU; reruns reuse it)")
            failed = [f"{r.path}: {r.reason}" for r in lib.ingest([data.corpus]) if r.status == "failed"]
            if failed:
                say("not ingested: " + "; ".join(failed))
            covers, missing = _quote_covers(lib, data)
        else:
            corpus = home / "corpus.jsonl"
            with corpus.open("w", encoding="utf-8") as f:
                for pid, (title, text) in data.passages.items():
                    f.write(json.dumps({"id": pid, "title": title or text[:30], "text": text}, ensure_ascii=False)
                            + "\n")
            say(f"ingesting {len(data.passages)} passages into {home} (embedding takes a while on CPU; reruns reuse"
                " it)")
            [rep] = lib.ingest([corpus])
            if rep.status not in ("ingested", "unchanged"):
                raise BadInput(f"corpus failed to ingest: {rep.reason}")
            covers = _chunk_covers(lib, data) if long_docs else {}
        build_s = time.perf_counter() - t0
        rows = []
        qvec: _QueryVectors | None = None
        for system in systems or default_systems(s, pn):
            say(f"querying {system.name()}")
            searcher = lib.searcher()
            if searcher.embed_query is not None:
                qvec = qvec or _QueryVectors(searcher.embed_query)
                searcher.embed_query = qvec
            searcher.weights = replace(searcher.weights, method=system.fusion or searcher.weights.method,
                                       feedback=system.feedback)
            if system.phonetic is not None:
                searcher.weights = replace(searcher.weights, phonetic=system.phonetic)
            if system.lexical is not None:
                searcher.weights = replace(searcher.weights, lexical=system.lexical)
            runs: list[Run] = []
            lat: list[float] = []
            for _, q, rel in data.queries:
                if qvec is not None:
                    qvec(q[:4000])  # embedded before the clock starts: rows compare search, not the embedder
                t = time.perf_counter()
                hits = searcher.search(q[:4000], k=50, mode=system.mode, per_note=system.per_note)
                lat.append(time.perf_counter() - t)
                ranked = [covers.get(h.chunk.id, frozenset()) if long_docs else frozenset([h.chunk.note_id])
                          for h in hits]
                runs.append((ranked, rel))
            rows.append({"system": system.name(), "metrics": score_run(runs, lat)})
        lib.close()
    if with_bm25s and not long_docs:
        rows.append({"system": "bm25s (same jieba tokens)", "metrics": _bm25s_row(data)})
    return {
        "dataset": data.name,
        "rows": rows,
        "config": {"passages": len(data.passages), "queries": len(data.queries), "embedder": s.embedder,
                   "gold_spans": len(data.spans) or len(data.quotes), "per_note": pn,
                   "quotes_not_found": missing,
                   "fusion": {"method": s.fusion, "lexical": s.lexical_weight, "dense": s.dense_weight, "k": 60,
                              "feedback": s.feedback_weight},
                   "ingest_seconds": round(build_s, 1)},
    }


def _chunk_covers(lib: Library, data: RetrievalSet) -> dict[str, frozenset[str]]:
    """chunk id → the gold spans its characters overlap."""
    by_note: dict[str, list[tuple[str, int, int]]] = {}
    for sid, (pid, a, b) in data.spans.items():
        by_note.setdefault(pid, []).append((sid, a, b))
    out: dict[str, frozenset[str]] = {}
    for pid, sps in by_note.items():
        for c in lib.store.get_note(pid).chunks:
            cs, ce = c.locator.char_start, c.locator.char_end
            if cs is None or ce is None:
                continue
            hit = frozenset(sid for sid, a, b in sps if a < ce and cs < b)
            if hit:
                out[c.id] = hit
    return out


def _bm25s_row(data: RetrievalSet) -> dict[str, float]:
    import bm25s

    pids = list(data.passages)
    from lingxi.index.embedded import index_text
    from lingxi.types import Note

    docs = []
    for pid in pids:
        title, text = data.passages[pid]
        note = Note(id=pid, title=title or text[:30], kind="jsonl", source="", body=text, chunks=())
        docs.append(tokenize(index_text(note, text)) or ["-"])
    retriever = bm25s.BM25()
    retriever.index(docs, show_progress=False)
    runs, lat = [], []
    for _, q, rel in data.queries:
        t = time.perf_counter()
        toks = tokenize(q) or ["-"]
        res, _ = retriever.retrieve([toks], k=min(50, len(pids)), show_progress=False)
        lat.append(time.perf_counter() - t)
        runs.append(([frozenset([pids[i]]) for i in res[0]], rel))
    return score_run(runs, lat)
