"""LoCoMo evaluation: replay conversations into memory, then answer their questions.

Rows (same LLM, same questions, one run): full-context (as many of the latest turns as the context
allows), last-N turns, RAG over raw turns (BM25 + dense over the turns), and lingxi memory
(exchanges — each turn with the reply to it — plus LLM-extracted memories with resolved dates and
reflections, recalled by relevance + recency + importance). Metrics per category: token F1 (LoCoMo's metric; category 5, adversarial,
scores 1 when the answer says the fact is not mentioned), evidence recall@10 (share of the gold
evidence turns that the retrieved items trace back to), prompt tokens per answer, latency."""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from lingxi.companion.extract import Turn, extract, prompt, reflect
from lingxi.companion.memory import CONTEXT_MODES, MemoryStore, RecallWeights, context_blocks, exchanges
from lingxi.companion.timeexpr import annotate, fmt_day, parse_session_date
from lingxi.errors import BadInput, LingxiError
from lingxi.evals.agent import f1 as token_f1
from lingxi.evals.agent import normalize
from lingxi.llm.chat import ChatModel
from lingxi.llm.embedder import Embedder

Say = Callable[[str], None]
SYSTEM_KEYS = ("full-context", "last-n", "rag", "lingxi")  # --systems names of the four rows, in row order
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


@dataclass
class LTurn:
    ref: str
    speaker: str
    text: str
    when: datetime


@dataclass
class Conversation:
    id: str
    sessions: list[tuple[str, datetime, list[LTurn]]]
    qa: list[dict[str, Any]]

    @property
    def turns(self) -> list[LTurn]:
        return [t for _, _, ts in self.sessions for t in ts]


def load_locomo(path: Path) -> list[Conversation]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: not a LoCoMo JSON file ({e})") from e
    if not isinstance(data, list):
        raise BadInput(f"{path}: expected a list of conversations")
    out = []
    for ci, c in enumerate(data):
        try:
            conv = c["conversation"]
            sessions = []
            n = 1
            while f"session_{n}" in conv:
                when = parse_session_date(conv[f"session_{n}_date_time"])
                turns = []
                for t in conv[f"session_{n}"]:
                    text = t["text"]
                    if t.get("blip_caption"):
                        text += f" [shares {t['blip_caption']}]"
                    turns.append(LTurn(t["dia_id"], t["speaker"], text, when))
                sessions.append((f"session_{n}", when, turns))
                n += 1
            out.append(Conversation(str(c.get("sample_id", ci)), sessions, list(c["qa"])))
        except (KeyError, TypeError) as e:
            raise BadInput(f"{path}: conversation {ci} lacks {e}") from e
    return out


def first_sessions(conv: Conversation, n: int) -> Conversation:
    """The conversation up to its Nth session, with only the questions whose gold evidence turns all lie there (a
    question without evidence cannot be placed and is left out)."""
    kept = conv.sessions[:n]
    refs = {t.ref for _, _, ts in kept for t in ts}
    return Conversation(conv.id, kept, [q for q in conv.qa if q.get("evidence") and set(q["evidence"]) <= refs])


def answer_messages(context: str, question: str) -> list[dict[str, str]]:
    """The answer prompt as two messages, the instructions and context first and the question alone last: a local
    model keeps whole earlier messages in its context, so consecutive questions over the same context (the
    full-context and last-N rows, asked system by system) read the conversation once, not once per question."""
    head, ask = prompt("answer").rsplit("\n\n", 1)
    return [{"role": "user", "content": head.format(context=context)},
            {"role": "user", "content": ask.format(question=question)}]


def _answer(chat: ChatModel, context: str, question: str) -> tuple[str, int, float]:
    msgs = answer_messages(context, question)
    t0 = time.perf_counter()
    reply = chat.complete(msgs, max_tokens=32, temperature=0.0)
    return reply.strip().split("\n")[0], sum(chat.count_tokens(m["content"]) for m in msgs), \
        time.perf_counter() - t0


def _score(q: dict[str, Any], pred: str) -> float:
    if q["category"] == 5:
        low = pred.lower()
        return 1.0 if any(s in low for s in ("not mentioned", "no information", "not known", "unknown")) else 0.0
    return token_f1(pred, str(q["answer"]))


def contains(q: dict[str, Any], pred: str) -> float:
    """LLM-free exact/contains score: 1 when the normalised gold answer is inside the normalised prediction (or,
    for an adversarial question, when the prediction says it is not mentioned)."""
    if q["category"] == 5:
        return _score(q, pred)
    gold = normalize(str(q["answer"]))
    return 1.0 if gold and gold in normalize(pred) else 0.0


def _turn_line(t: LTurn) -> str:
    return f"({fmt_day(t.when.date())}) {t.speaker}: {t.text}"


def _ts(d: datetime) -> float:
    return d.replace(tzinfo=UTC).timestamp()


# How observations are written; a cached replay with another scheme gets its observations rewritten (its
# LLM extraction, the expensive part, is kept).
OBSERVATIONS = "exchanges-v1"


def add_observations(conv: Conversation, store: MemoryStore, exchange: bool) -> None:
    """Every turn as an observation: for lingxi memory, exchanges (a turn with the reply to it); for the RAG
    baseline, each turn on its own."""
    for _, when, turns in conv.sessions:
        if exchange:
            store.add_many(exchanges([(t.ref, t.speaker, annotate(t.text, when)) for t in turns], _ts(when)))
        else:
            store.add_many([{"kind": "observation", "text": f"{t.speaker} said: {annotate(t.text, when)}",
                             "importance": 3, "ts": _ts(when), "turns": [t.ref]} for t in turns])


def replay(conv: Conversation, store: MemoryStore, chat: ChatModel, window: int, say: Say) -> dict[str, Any]:
    """LLM extraction per session window, then a reflection per session over what it extracted."""
    calls, seconds, failures = 0, 0.0, 0
    for name, when, turns in conv.sessions:
        store.add_turns(name, [(t.ref, t.speaker, t.text, _ts(when)) for t in turns])
        for i in range(0, len(turns), window):
            part = turns[i:i + window]
            t0 = time.perf_counter()
            try:
                items = extract(chat, [Turn(t.ref, t.speaker, t.text) for t in part], when, user=None)
            except LingxiError:
                failures += 1
                items = []
            calls += 1
            seconds += time.perf_counter() - t0
            if items:
                store.add_many([{**it, "ts": _ts(when)} for it in items])
        # reflection at the end of each session over its extracted memories
        fresh = [m for m in store.entries() if m.kind not in ("observation", "reflection") and m.ts == _ts(when)]
        if len(fresh) >= 4:
            t0 = time.perf_counter()
            try:
                ins = reflect(chat, " and ".join(dict.fromkeys(t.speaker for t in turns)), fresh[:20])
                store.add_many([{**i, "ts": _ts(when)} for i in ins])
            except LingxiError:
                failures += 1
            calls += 1
            seconds += time.perf_counter() - t0
        say(f"{conv.id} {name}: {store.count()} memories, {calls} LLM calls, {seconds:.0f}s")
    return {"llm_calls": calls, "extraction_s": round(seconds, 1), "sessions": len(conv.sessions),
            "failures": failures}


def replay_lock(path: Path, write: bool) -> IO[str]:
    """A lock on one conversation's cached replay, held while it is used: exclusive for a run that (re)builds it,
    shared for runs that only read it. A run that cannot have it stops with an error rather than delete a replay
    another process is writing or reading (a replay takes an hour on a laptop)."""
    f = path.open("a")
    try:
        lock_replay(f, write)
    except BadInput:
        f.close()
        raise
    return f


def lock_replay(f: IO[str], write: bool) -> None:
    import fcntl

    try:
        fcntl.flock(f, (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError as e:
        raise BadInput(f"{f.name}: another process is {'using' if write else 'building'} this replay; wait for it"
                       " to finish, or use another --home") from e


def evaluate(
    path: Path,
    chat: ChatModel,
    embedder: Embedder | None,
    home: Path,
    limit: int | None = None,
    conversations: int | None = None,
    window: int = 16,
    last_n: int = 20,
    k: int = 10,
    context_tokens: int = 0,
    weights: RecallWeights | None = None,
    say: Say | None = None,
    answers: bool = True,
    only: Sequence[str] | None = None,
    stride: int = 1,
    skip: int = 0,
    sessions: int | None = None,
    memory_context: str = "statements",
    memory_budget: int = 0,
) -> dict[str, Any]:
    import sqlite3

    say = say or (lambda s: None)
    if stride < 1:
        raise BadInput(f"stride must be at least 1, got {stride}")
    if skip < 0:
        raise BadInput(f"skip must be 0 or more conversations, got {skip}")
    if sessions is not None and sessions < 1:
        raise BadInput(f"sessions must be at least 1, got {sessions}")
    if memory_context not in CONTEXT_MODES:  # before an hour of replay, not after
        raise BadInput(f"memory context {memory_context!r} is not one of: {', '.join(CONTEXT_MODES)}")
    # skip, then take: e.g. skip 2 is LoCoMo's frozen test split (conversations 2-4)
    convs = load_locomo(path)[skip:][:conversations]
    if sessions is not None:
        convs = [first_sessions(c, sessions) for c in convs]
    # LoCoMo asks about any moment of months of conversation, so the evaluation ranks by relevance alone: over all
    # 999 questions of conversations 0-4, relevance only gave evidence recall@10 0.804, recency and importance at
    # 0.1 (decay 0.999/hour) 0.793, at 0.25 lower still (docs/BENCHMARKS.md). A companion's chat keeps
    # RecallWeights' own defaults, where what was said lately matters.
    w = weights or RecallWeights(relevance=1.0, recency=0.0, importance=0.0, decay_per_hour=0.999)
    if context_tokens <= 0:  # as much as the model's context allows, less room for the instructions and answer
        context_tokens = max(1000, int(getattr(chat, "context", 4096)) - 700)
    systems = ["full-context", f"last-{last_n} turns", "RAG over raw turns", "lingxi memory"]
    if only:
        unknown = set(only) - set(SYSTEM_KEYS)
        if unknown:
            raise BadInput(f"unknown system(s) {', '.join(sorted(unknown))}; choose from {', '.join(SYSTEM_KEYS)}")
        systems = [s for s, key in zip(systems, SYSTEM_KEYS) if key in only]
    per: dict[str, dict[int, list[float]]] = {s: defaultdict(list) for s in systems}
    cont: dict[str, dict[int, list[float]]] = {s: defaultdict(list) for s in systems}
    ev_recall: dict[str, list[float]] = {s: [] for s in systems}
    ev_cat: dict[str, dict[int, list[float]]] = {s: defaultdict(list) for s in systems}
    tokens: dict[str, list[int]] = {s: [] for s in systems}
    lat: dict[str, list[float]] = {s: [] for s in systems}
    costs = []
    home.mkdir(parents=True, exist_ok=True)
    for conv in convs:
        cut = f"-s{sessions}" if sessions is not None else ""  # a replay of the first sessions only is its own cache
        db = home / f"locomo-{conv.id}-{chat.name.replace('/', '_')}-w{window}{cut}.db"
        done = home / f"{db.name}.cost.json"
        fresh = not done.exists()
        lock = replay_lock(home / f"{db.name}.lock", write=fresh)
        if fresh:  # an interrupted replay is redone from scratch, never half-used
            for f in home.glob(db.name + "*"):
                if f.suffix != ".lock":
                    f.unlink()
        conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        mem = MemoryStore(conn, conv.id, "locomo", embedder.embed if embedder else None)
        raw = MemoryStore(conn, conv.id, "raw-turns", embedder.embed if embedder else None)
        if fresh:
            costs.append({**replay(conv, mem, chat, window, say), "observations": OBSERVATIONS})
            add_observations(conv, mem, exchange=True)
            add_observations(conv, raw, exchange=False)
            done.write_text(json.dumps(costs[-1]))
            lock_replay(lock, write=False)  # built: other runs may read it now
        else:
            costs.append(json.loads(done.read_text()))
            if costs[-1].get("observations") != OBSERVATIONS:
                say(f"{conv.id}: rewriting observations ({OBSERVATIONS}); extracted memories kept")
                lock_replay(lock, write=True)
                for store in (mem, raw):
                    store.remove([old.id for old in store.entries(kind="observation")])
                add_observations(conv, mem, exchange=True)
                add_observations(conv, raw, exchange=False)
                costs[-1]["observations"] = OBSERVATIONS
                done.write_text(json.dumps(costs[-1]))
                lock_replay(lock, write=False)
        now = _ts(conv.sessions[-1][1] + timedelta(days=1))
        turns = conv.turns
        full_lines: list[str] = []
        used = 0
        for t in reversed(turns):
            n = chat.count_tokens(_turn_line(t)) + 1
            if used + n > context_tokens:
                break
            full_lines.insert(0, _turn_line(t))
            used += n
        full_ctx = "\n".join(full_lines)
        last_ctx = "\n".join(_turn_line(t) for t in turns[-last_n:])
        qa = conv.qa[::stride][:limit]  # a stride spreads a sample over the whole conversation and its categories
        qvecs = embedder.embed([q["question"] for q in qa], "query") if embedder and qa else None
        # system-major order: consecutive prompts of one system share their first message (instructions and, for
        # the full-context and last-N rows, the whole conversation), which the local model keeps in its context
        for system in systems:
            for qi, q in enumerate(qa):
                gold = set(q.get("evidence") or [])
                refs: list[str] = []
                if system == "full-context":
                    ctx = full_ctx
                elif system.startswith("last-"):
                    ctx = last_ctx
                else:
                    store = raw if system.startswith("RAG") else mem
                    hits = store.recall(q["question"], now, k, w if store is mem else RecallWeights(1.0, 0.0, 0.0),
                                        query_vector=None if qvecs is None else qvecs[qi])
                    blocks = context_blocks(store, hits, "statements") if store is raw else \
                        context_blocks(store, hits, memory_context, budget=memory_budget, count=chat.count_tokens)
                    blocks.sort(key=lambda b: (b[0].ts, b[0].id))
                    ctx = "\n".join(f"({time.strftime('%d %B %Y', time.gmtime(m.ts))}) {text}" for m, text in blocks)
                    refs = [r for m, _ in blocks for r in store.trace(m)]  # what the answer reads
                if answers:
                    pred, ntok, secs = _answer(chat, ctx, q["question"])
                    per[system][q["category"]].append(_score(q, pred))
                    cont[system][q["category"]].append(contains(q, pred))
                    lat[system].append(secs)
                else:  # retrieval only: evidence recall and the prompt the answer would have cost
                    ntok = sum(chat.count_tokens(m["content"]) for m in answer_messages(ctx, q["question"]))
                tokens[system].append(ntok)
                if gold:
                    if system in ("RAG over raw turns", "lingxi memory"):
                        seen = set(refs)
                    else:
                        seen = {t.ref for t in turns[-last_n:]} if system.startswith("last-") else \
                            {t.ref for t in turns[len(turns) - len(full_lines):]}
                    ev_recall[system].append(len(gold & seen) / len(gold))
                    ev_cat[system][q["category"]].append(ev_recall[system][-1])
            if answers:
                say(f"{conv.id}: {system}: F1 {statistics.fmean(x for xs in per[system].values() for x in xs):.3f}")
        conn.close()
        lock.close()
    rows = []
    for s in systems:
        allf = [x for xs in per[s].values() for x in xs]
        m: dict[str, Any] = {"f1": round(statistics.fmean(allf), 4) if allf else None}
        allc = [x for xs in cont[s].values() for x in xs]
        m["contains"] = round(statistics.fmean(allc), 4) if allc else None
        for c, name in CATEGORIES.items():
            if per[s].get(c):
                m[f"f1_{name}"] = round(statistics.fmean(per[s][c]), 4)
                m[f"contains_{name}"] = round(statistics.fmean(cont[s][c]), 4)
        m["evidence_recall@10"] = round(statistics.fmean(ev_recall[s]), 4) if ev_recall[s] else None
        for c, name in CATEGORIES.items():
            if ev_cat[s].get(c):
                m[f"evidence_recall@10_{name}"] = round(statistics.fmean(ev_cat[s][c]), 4)
        m["prompt_tokens"] = round(statistics.fmean(tokens[s]), 1)
        m["p50_ms"] = round(statistics.median(lat[s]) * 1000, 1) if lat[s] else None
        rows.append({"system": s, "metrics": m})
    total_sessions = sum(c["sessions"] for c in costs) or 1
    return {"dataset": f"locomo:{path.name}", "rows": rows, "config": {
        "conversations": [c.id for c in convs], "questions": sum(len(c.qa[::stride][:limit]) for c in convs),
        "stride": stride, "skip_conversations": skip, "sessions": sessions,
        "llm": chat.name, "memory_context": memory_context,
        "memory_budget": memory_budget, "window": window, "k": k, "context_tokens": context_tokens, "last_n": last_n,
        "weights": {"relevance": w.relevance, "recency": w.recency, "importance": w.importance,
                    "decay_per_hour": w.decay_per_hour, "lexical": w.lexical},
        "extraction": {"llm_calls": sum(c["llm_calls"] for c in costs),
                       "seconds": round(sum(c["extraction_s"] for c in costs), 1),
                       "llm_calls_per_session": round(sum(c["llm_calls"] for c in costs) / total_sessions, 2),
                       "seconds_per_session": round(sum(c["extraction_s"] for c in costs) / total_sessions, 1),
                       "failures": sum(c.get("failures", 0) for c in costs)}}}

