"""Question answering evaluation: closed-book, single-shot RAG and the search agent, same LLM, one run.

HotpotQA: each question's paragraphs become notes, either all questions in one shared
store (harder, realistic) or one store per question. Generic format: a JSONL of
{"id", "q", "gold": [...]} over a corpus folder (or the evidence-backed rows of lingxi.evals.qaset,
filtered by split); correct when every gold fact occurs in the answer in one of its forms.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import statistics
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingxi.agent import AgentConfig, ground_quote
from lingxi.agent.loop import render, template
from lingxi.config import Settings
from lingxi.errors import BadInput, ModelOutputError
from lingxi.evals.qaset import load_questions
from lingxi.evals.retrieval import rgb_passages
from lingxi.index.store import note_of_chunk
from lingxi.library import AGENT_PER_NOTE, Library
from lingxi.llm.chat import ChatModel
from lingxi.llm.passages import passage_block
from lingxi.text import language_rule
from lingxi.types import Hit

RAG_K = 5
STORE_FROM = ("asked", "file")  # what the shared HotpotQA store is built from


def normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation) | set("，。！？、；：“”‘’（）《》【】"))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:
        return float(p == g)
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def strip_markers(text: str) -> str:
    return re.sub(r"\[\d+\]", "", text).strip()


def best_em_f1(pred: str, golds: list[str]) -> tuple[float, float]:
    p = strip_markers(pred)
    return max(float(normalize(p) == normalize(g)) for g in golds), max(f1(p, g) for g in golds)

ANSWER_SCHEMA: dict[str, Any] = {  # a direct answer: the closed-book and single-shot baselines
    "type": "object", "required": ["short_answer", "answer"],
    "properties": {"short_answer": {"type": "string"}, "answer": {"type": "string"}}}


@dataclass
class Tally:
    em: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    correct: list[float] = field(default_factory=list)
    support: list[float] = field(default_factory=list)
    cites_ok: int = 0
    cites: int = 0
    quoted: int = 0  # citations that carry a quote (the agent's; single-shot RAG cites whole passages)
    verbatim: int = 0  # of those, quotes found character for character in the passage they name
    searches: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    read_tokens: list[int] = field(default_factory=list)  # prompt tokens the model evaluated (not kept from before)
    refused: list[float] = field(default_factory=list)  # the agent said the notes do not answer
    refused_gold_read: list[float] = field(default_factory=list)  # ... while a passage it read held the gold answer
    after_read: list[float] = field(default_factory=list)  # seconds from the agent's last read to its answer
    first_text: list[float] = field(default_factory=list)  # … to the first text of its answer (streamed or whole)
    first_text_search: list[float] = field(default_factory=list)  # seconds from the last search to that text

    def mark(self) -> tuple[int, int, int, int, int]:
        return self.cites, self.cites_ok, len(self.support), self.quoted, self.verbatim

    def measured(self, mark: tuple[int, int, int, int, int]) -> dict[str, Any]:
        """What the last question cost and scored beyond its answer, for its trace record (``mark`` was taken
        before it ran): enough to rebuild the tally from the trace alone (``summarize``)."""
        cites, ok, support, quoted, verbatim = mark
        return {"latency_s": round(self.latency[-1], 3), "llm_calls": self.calls[-1],
                "prompt_tokens": self.prompt_tokens[-1], "read_tokens": self.read_tokens[-1],
                "searches": self.searches[-1],
                "cited": self.cites - cites, "cited_valid": self.cites_ok - ok,
                **({"quoted": self.quoted - quoted, "quoted_verbatim": self.verbatim - verbatim}
                   if self.quoted > quoted else {}),
                **({"support_recall": self.support[-1]} if len(self.support) > support else {}),
                **({"after_read_s": self.after_read[-1], "first_text_after_read_s": self.first_text[-1]}
                   if self.first_text and len(self.first_text) == len(self.latency) else {}),
                **({"first_text_after_search_s": self.first_text_search[-1]}
                   if self.first_text_search and len(self.first_text_search) == len(self.latency) else {})}

    def add(self, rec: dict[str, Any]) -> None:
        """One trace record back into the tally (the inverse of what the run logged)."""
        if "em" in rec:
            self.em.append(float(rec["em"]))
            self.f1.append(float(rec["f1"]))
        if "correct" in rec:
            self.correct.append(float(rec["correct"]))
        if "support_recall" in rec:
            self.support.append(float(rec["support_recall"]))
        if "latency_s" in rec:
            self.latency.append(float(rec["latency_s"]))
            self.calls.append(int(rec["llm_calls"]))
            self.prompt_tokens.append(int(rec["prompt_tokens"]))
            self.read_tokens.append(int(rec.get("read_tokens", rec["prompt_tokens"])))
            self.searches.append(int(rec["searches"]))
            self.cites += int(rec["cited"])
            self.cites_ok += int(rec["cited_valid"])
            self.quoted += int(rec.get("quoted", 0))
            self.verbatim += int(rec.get("quoted_verbatim", 0))
        if "first_text_after_read_s" in rec:
            self.after_read.append(float(rec["after_read_s"]))
            self.first_text.append(float(rec["first_text_after_read_s"]))
        if "first_text_after_search_s" in rec:
            self.first_text_search.append(float(rec["first_text_after_search_s"]))

    def metrics(self) -> dict[str, float]:
        def mean(xs: list[float] | list[int]) -> float:
            return round(statistics.fmean(xs), 4) if xs else 0.0

        out: dict[str, float] = {}
        if self.em:
            out |= {"em": mean(self.em), "f1": mean(self.f1)}
        if self.correct:
            out["accuracy"] = mean(self.correct)
        if self.support:
            out["support_recall"] = mean(self.support)
        out |= {
            "citation_validity": round(self.cites_ok / self.cites, 4) if self.cites else 0.0,
            "citations": self.cites,
            **({"citation_verbatim": round(self.verbatim / self.quoted, 4)} if self.quoted else {}),
            "searches": mean(self.searches),
            "llm_calls": mean(self.calls),
            "prompt_tokens": mean(self.prompt_tokens),
            "read_tokens": mean(self.read_tokens),
            "p50_ms": round(statistics.median(self.latency) * 1000, 0) if self.latency else 0.0,
        }
        if self.refused:
            out |= {"refusals": mean(self.refused), "refusals_gold_read": mean(self.refused_gold_read)}
        if self.after_read:
            out["answer_after_read_p50_ms"] = round(statistics.median(self.after_read) * 1000, 0)
        if self.first_text:
            out["first_text_after_read_p50_ms"] = round(statistics.median(self.first_text) * 1000, 0)
        if self.first_text_search:
            out["first_text_after_search_p50_ms"] = round(statistics.median(self.first_text_search) * 1000, 0)
        return out


def _json_answer(chat: ChatModel, prompt: str) -> tuple[str, str]:
    """(short answer, full answer) from one structured call, retried once; ("", "") if it never parses."""
    msgs = [{"role": "system", "content": template("system")}, {"role": "user", "content": prompt}]
    for _ in range(2):
        try:
            out = chat.complete_json(msgs, ANSWER_SCHEMA, max_tokens=200)
            return _unechoed(str(out["short_answer"]), prompt), str(out["answer"])
        except ModelOutputError:
            continue
    return "", ""


def _unechoed(short: str, prompt: str) -> str:
    """The short answer, or "" when the model copied the reply format's example text ("the answer in as few words
    as possible"); the answer text then stands for it. The 1.5B did so on 2 of 60 HotpotQA questions; wording the
    example as "..." instead made the baseline worse (it lost two questions it answered)."""
    form = next((line for line in prompt.splitlines() if line.startswith("Reply as JSON")), "")
    return "" if short.strip() and f'"{short.strip()}"' in form else short


def closed_book(chat: ChatModel, q: str) -> tuple[str, str]:
    return _json_answer(chat, render("closed_book", question=q, language_rule=language_rule(q)))


def single_rag(chat: ChatModel, lib: Library, q: str) -> tuple[str, str, list[Hit]]:
    """One search as the agent searches (``AGENT_PER_NOTE`` passages of one note at most, so a long note's second
    passage is not hidden from the baseline), its first ``RAG_K`` passages read in one call."""
    hits = lib.search(q, k=RAG_K, per_note=AGENT_PER_NOTE)
    passages = "\n\n".join(passage_block(i, h, 700) for i, h in enumerate(hits, 1))
    short, answer = _json_answer(chat, render("rag", question=q, passages=passages, language_rule=language_rule(q)))
    return short, answer, hits


def _run_question(
    system: str, chat: ChatModel, lib: Library, q: str, tally: Tally, config: AgentConfig,
    supports: Callable[[str, str], bool], relevant: Callable[[list[str]], float] | None,
    trace: dict[str, Any] | None = None, golds: list[str] | None = None,
) -> tuple[str, str]:
    """Runs one system on one question; returns (short answer, full answer). ``trace`` gets what it read.
    The baselines run on a context of their own (``chat.fork("baselines")``), so that what each system keeps in a
    local model's context from one question to the next is its own, as when it alone serves questions."""
    if system != "agent":
        chat = chat.fork("baselines")
    models = [chat] + ([p] if system == "agent" and (p := lib.planner(chat)) is not None and p is not chat else [])

    def used() -> tuple[int, int, int]:  # prompt tokens, calls, prompt tokens kept from before: every model's
        return (sum(m.prompt_tokens for m in models), sum(m.calls for m in models),
                sum(m.reused_tokens for m in models))

    tokens0, calls0, reused0 = used()
    t = time.perf_counter()
    if system == "closed-book":
        short, answer = closed_book(chat, q)
        tally.searches.append(0)
    elif system == "single-shot RAG":
        short, answer, hits = single_rag(chat, lib, q)
        tally.searches.append(1)
        if trace is not None:
            trace["passages"] = [h.chunk.id for h in hits]
        if relevant:
            tally.support.append(relevant([h.chunk.note_id for h in hits]))
        for n in {int(m) for m in re.findall(r"\[(\d+)\]", answer)}:
            tally.cites += 1
            if 1 <= n <= len(hits):
                h = hits[n - 1]
                # RAG cites whole passages: valid when the passage supports the answer.
                tally.cites_ok += int(supports(h.chunk.note_id, strip_markers(answer)))
    else:
        ans = lib.ask(q, chat, config)
        short, answer = ans.short, ans.answer
        if trace is not None:
            trace.update(citations=[c.to_dict() for c in ans.citations], steps=[s.to_dict() for s in ans.steps])
        tally.searches.append(int(ans.timings["searches"]))
        read = [note_of_chunk(c) for s in ans.steps if s.kind in ("read", "gather") for c in s.detail["chunk_ids"]]
        if relevant:
            tally.support.append(relevant(read))
        held = []
        for c in ans.citations:
            chunk = lib.store.get_chunks([c.chunk_id])
            verbatim = bool(chunk) and bool(c.quote) and c.quote in chunk[0].text
            tally.quoted += bool(c.quote)
            tally.verbatim += verbatim
            held.append(verbatim and supports(c.note_id, strip_markers(answer)))
        tally.cites += len(held)
        tally.cites_ok += sum(held)
        # a refusal is measured against what the agent read: was the gold answer in one of those passages?
        seen = list(dict.fromkeys(c for s in ans.steps if s.kind in ("read", "gather") for c in s.detail["chunk_ids"]))
        texts = normalize(" ".join(c.text for c in lib.store.get_chunks(seen))) if not ans.found else ""
        tally.refused.append(float(not ans.found))
        tally.refused_gold_read.append(float(not ans.found and any(normalize(g) and normalize(g) in texts
                                                                   for g in golds or [])))
        if "after_read_s" in ans.timings:
            tally.after_read.append(float(ans.timings["after_read_s"]))
        if "first_text_after_read_s" in ans.timings:
            tally.first_text.append(float(ans.timings["first_text_after_read_s"]))
        if "first_text_after_search_s" in ans.timings:
            tally.first_text_search.append(float(ans.timings["first_text_after_search_s"]))
        if trace is not None:
            trace.update(citations_held=held, refused=not ans.found, refused_gold_read=tally.refused_gold_read[-1])
    tally.latency.append(time.perf_counter() - t)
    if trace is not None:
        trace.update(seconds=round(tally.latency[-1], 3), llm_calls=used()[1] - calls0)
    tokens, calls, reused = used()
    tally.calls.append(calls - calls0)
    tally.prompt_tokens.append(tokens - tokens0)
    tally.read_tokens.append(tally.prompt_tokens[-1] - (reused - reused0))
    return short or strip_markers(answer), answer


SYSTEMS = ("closed-book", "single-shot RAG", "agent")
SYSTEM_KEYS = {"closed-book": "closed-book", "rag": "single-shot RAG", "agent": "agent"}


def pick_systems(spec: str | None) -> tuple[str, ...]:
    """Rows to run from a comma-separated list of closed-book, rag, agent (None: all)."""
    if not spec:
        return SYSTEMS
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    bad = [k for k in keys if k not in SYSTEM_KEYS]
    if bad or not keys:
        raise BadInput(f"--systems takes a comma-separated list of {', '.join(SYSTEM_KEYS)}; got {spec!r}")
    return tuple(s for s in SYSTEMS if s in {SYSTEM_KEYS[k] for k in keys})


def load_multihop(path: Path) -> list[dict[str, Any]]:
    """HotpotQA-format rows from a JSONL file, or from MuSiQue's JSON list (id, question, answer, answer_aliases,
    paragraphs), converted to that format."""
    text = path.read_text(encoding="utf-8")
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
        return [r if "question_text" in r else {
            "question_id": r["id"], "question_text": r["question"],
            "answers_objects": [{"spans": [r["answer"], *r.get("answer_aliases", [])]}],
            "contexts": [{"title": p["title"], "paragraph_text": p["paragraph_text"],
                          "is_supporting": bool(p.get("is_supporting"))} for p in r["paragraphs"]]} for r in rows]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise BadInput(f"{path}: expected HotpotQA JSONL rows or a MuSiQue JSON list ({e!r})") from e


def eval_hotpotqa(path: Path, chat: ChatModel, settings: Settings, limit: int | None, setting: str,
                  config: AgentConfig, say: Callable[[str], None],
                  log: Callable[[dict[str, Any]], None] | None = None, systems: tuple[str, ...] = SYSTEMS,
                  skip: int = 0, store_from: str = "asked") -> dict[str, Any]:
    """Closed-book, single-shot RAG and the agent on HotpotQA-format rows (after the first ``skip``, at most
    ``limit``); ``log`` gets one record per system and question as it finishes (answer, gold, what it read, the
    agent's steps, its scores and costs: ``summarize`` rebuilds the table from them).
    The shared store holds the paragraphs of the questions asked (``store_from="asked"``) or of every question in
    the file (``"file"``: more distractors, what the published figures used)."""
    if store_from not in STORE_FROM:
        raise BadInput(f"--store must be one of {', '.join(STORE_FROM)}, got {store_from!r}")
    rows = []
    everything = load_multihop(path)
    if skip < 0:
        raise BadInput(f"--skip must be 0 or more, got {skip}")
    data = everything[skip:][:limit]
    if not data:
        raise BadInput(f"{path}: no questions" + (f" after the first {skip}" if skip else ""))
    tallies = {s: Tally() for s in systems}
    with tempfile.TemporaryDirectory(prefix="lingxi-hotpot-") as tmp:
        shared: Library | None = None
        para_text: dict[str, str] = {}
        note_of: dict[tuple[str, str], str] = {}

        def build(items: list[dict[str, Any]], home: Path) -> Library:
            home.mkdir(parents=True, exist_ok=True)
            lib = Library(Settings.load(home, settings.threads, embedder=settings.embedder))
            corpus = home / "corpus.jsonl"
            with corpus.open("w", encoding="utf-8") as out:
                for row in items:
                    for c in row["contexts"]:
                        key = (c["title"], c["paragraph_text"])
                        if key in note_of and shared is None and setting == "shared":
                            continue
                        nid = note_of.setdefault(key, f"h{len(note_of)}")
                        para_text[nid] = c["paragraph_text"]
                        out.write(json.dumps({"id": nid, "title": c["title"], "text": c["paragraph_text"]},
                                             ensure_ascii=False) + "\n")
            [rep] = lib.ingest([corpus])
            if rep.status == "failed":
                raise BadInput(rep.reason)
            return lib

        if setting == "shared":
            pool = everything if store_from == "file" else data
            paragraphs = len({(c["title"], c["paragraph_text"]) for row in pool for c in row["contexts"]})
            if store_from == "file":
                say(f"building one shared store from all {len(everything)} questions in {path.name} ({paragraphs}"
                    f" paragraphs), {len(data)} of them asked")
                name = f"{path.stem}-shared-{len(everything)}"
            else:
                say(f"building one shared store from the {len(data)} questions asked (questions {skip + 1}–"
                    f"{skip + len(data)}: {paragraphs} paragraphs); --store file builds it from all"
                    f" {len(everything)} questions in {path.name}")
                name = f"{path.stem}-shared-q{skip + 1}-{skip + len(data)}"
            # kept under the home, so later runs over the same questions do not embed the paragraphs again
            shared = build(pool, settings.home / "eval-stores" / name)
        started = time.perf_counter()
        for i, row in enumerate(data, 1):
            golds = [s for a in row["answers_objects"] for s in a.get("spans", []) if s] or [""]
            lib = shared or build([row], Path(tmp) / f"q{i}")
            sup = {note_of[(c["title"], c["paragraph_text"])] for c in row["contexts"] if c.get("is_supporting")}

            def supports(nid: str, answer: str, sup: set[str] = sup, golds: list[str] = golds) -> bool:
                text = normalize(para_text.get(nid, ""))
                return nid in sup or any(normalize(g) and normalize(g) in text for g in golds)

            def relevant(read: list[str], sup: set[str] = sup) -> float:
                return len(sup & set(read)) / len(sup) if sup else 0.0

            for system in systems:
                rec: dict[str, Any] = {"id": row.get("question_id", i), "question": row["question_text"],
                                       "system": system, "gold": golds, "supporting": sorted(sup)}
                mark = tallies[system].mark()
                short, answer = _run_question(system, chat, lib, row["question_text"], tallies[system], config,
                                              supports, relevant, rec, golds)
                em, f1_score = best_em_f1(short, golds)
                tallies[system].em.append(em)
                tallies[system].f1.append(f1_score)
                if log:
                    log({**rec, "short_answer": short, "answer": answer, "em": em, "f1": f1_score,
                         **tallies[system].measured(mark)})
                say(f"[{i}/{len(data)}] {system}: f1 {f1_score:.2f} in {tallies[system].latency[-1]:.1f} s")
            say(done_line(i, len(data), tallies, started, "mean f1", lambda t: t.f1))
            if shared is None:
                lib.close()
        if shared is not None:
            shared.close()
    rows = result_rows(tallies, Tally.metrics)
    return {"dataset": f"{path.name} ({setting} store)", "rows": rows,
            "config": {"questions": len(data), "skipped": skip, "llm": chat.name, "rag_k": RAG_K, "setting": setting,
                       **({"store_from": store_from} if setting == "shared" else {}),
                       "agent": {"max_llm_calls": config.max_llm_calls, "k": config.k, "read_k": config.read_k,
                                 "early_stop": config.early_stop, "repairs": list(config.repairs),
                                 "room": config.room, "planner": settings.planner_model or "fork"}}}


def eval_questions(qpath: Path, corpus: Path, chat: ChatModel, settings: Settings, limit: int | None,
                   config: AgentConfig, say: Callable[[str], None],
                   log: Callable[[dict[str, Any]], None] | None = None, systems: tuple[str, ...] = SYSTEMS,
                   skip: int = 0, split: str | None = None) -> dict[str, Any]:
    rows_in = [(q.id, q.q, [list(f) for f in q.facts]) for q in load_questions(qpath, split)]
    if skip < 0:
        raise BadInput(f"--skip must be 0 or more, got {skip}")
    rows_in = rows_in[skip:][:limit]
    if not rows_in:
        raise BadInput(f"{qpath}: no questions" + (f" after the first {skip}" if skip else ""))
    tallies = {s: Tally() for s in systems}
    # the corpus is kept as a store of its own under the eval's home, so a later run (another split, a repair
    # switched off) reads it again instead of embedding it again; ingest replaces files that changed
    kept = settings.home / "eval-corpus" / hashlib.sha1(str(corpus.resolve()).encode()).hexdigest()[:12]
    with contextlib.closing(Library(Settings.load(kept, settings.threads, embedder=settings.embedder))) as lib:
        say(f"ingesting {corpus} (kept in {kept})")
        bad = [r for r in lib.ingest([corpus]) if r.status == "failed"]
        if bad:
            raise BadInput(f"corpus: {bad[0].reason}")
        started = time.perf_counter()
        for i, (qid, q, golds) in enumerate(rows_in, 1):
            ask_facts(lib, chat, config, systems, tallies, str(qid), q, golds, None, log, say, f"[{i}/{len(rows_in)}]")
            say(done_line(i, len(rows_in), tallies, started))
    return {"dataset": f"{qpath.name} over {corpus}", "rows": result_rows(tallies, Tally.metrics),
            "config": {"questions": len(rows_in), "skipped": skip, "split": split, "llm": chat.name, "rag_k": RAG_K}}


def ask_facts(lib: Library, chat: ChatModel, config: AgentConfig, systems: tuple[str, ...],
              tallies: dict[str, Tally], qid: str, q: str, golds: list[list[str]], relevant_notes: set[str] | None,
              log: Callable[[dict[str, Any]], None] | None, say: Callable[[str], None], at: str) -> None:
    """Each system on one question scored by its facts: correct when every fact is said, in any of its forms; a
    citation is valid when its note says one of them (``relevant_notes``: the gold passages, for support recall)."""
    def supports(nid: str, answer: str) -> bool:
        body = lib.get_note(nid).body.lower()
        return any(form.lower() in body for forms in golds for form in forms)

    def relevant(read: list[str]) -> float:
        return len(relevant_notes & set(read)) / len(relevant_notes) if relevant_notes else 0.0

    for system in systems:
        rec: dict[str, Any] = {"id": qid, "question": q, "system": system, "gold": golds}
        mark = tallies[system].mark()
        short, answer = _run_question(system, chat, lib, q, tallies[system], config, supports,
                                      relevant if relevant_notes else None, rec, [f for forms in golds for f in forms])
        said = f"{short} {answer}".lower()
        tallies[system].correct.append(float(all(any(f.lower() in said for f in forms) for forms in golds)))
        if log:
            log({**rec, "short_answer": short, "answer": answer, "correct": tallies[system].correct[-1],
                 **tallies[system].measured(mark)})
        say(f"{at} {system}: {'correct' if tallies[system].correct[-1] else 'wrong'} in"
            f" {tallies[system].latency[-1]:.1f} s")


def load_rgb_questions(path: Path) -> list[dict[str, Any]]:
    """RGB rows (``{"id", "query", "answer", "positive", "negative"}`` per line; an answer item that is a list gives
    one fact's forms, and a positive that is a list is a group of passages), checked."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q, answer, pos, neg = str(row["query"]), row["answer"], row["positive"], row["negative"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise BadInput(f"{path}: line {n} is not an RGB row with query, answer, positive, negative ({e!r})") from e
        facts = [[str(f) for f in (a if isinstance(a, list) else [a]) if str(f).strip()] for a in answer]
        flat = rgb_passages(pos) + rgb_passages(neg)
        if not q.strip() or not facts or not all(facts) or not flat:
            raise BadInput(f"{path}: line {n} has an empty query, answer or passage list")
        positives = set(rgb_passages(pos))
        rows.append({"id": str(row.get("id", n)), "q": q, "facts": facts,
                     "passages": list(dict.fromkeys(flat)), "positive": positives})
    return rows


def eval_rgb(path: Path, chat: ChatModel, settings: Settings, limit: int | None, config: AgentConfig,
             say: Callable[[str], None], log: Callable[[dict[str, Any]], None] | None = None,
             systems: tuple[str, ...] = SYSTEMS, skip: int = 0) -> dict[str, Any]:
    """RGB questions (e.g. ``zh_int.json``: one question, several facts), each over a store of its own passages
    (positive and negative, every passage a note); scored like ``--questions``: correct when every fact is said."""
    if skip < 0:
        raise BadInput(f"--skip must be 0 or more, got {skip}")
    data = load_rgb_questions(path)[skip:][:limit]
    if not data:
        raise BadInput(f"{path}: no questions" + (f" after the first {skip}" if skip else ""))
    tallies = {s: Tally() for s in systems}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lingxi-rgb-") as tmp:
        for i, row in enumerate(data, 1):
            home = Path(tmp) / f"q{i}"
            home.mkdir()
            corpus = home / "passages.jsonl"
            ids = {text: f"r{j}" for j, text in enumerate(row["passages"])}
            corpus.write_text("".join(json.dumps({"id": nid, "title": text[:24], "text": text}, ensure_ascii=False)
                                      + "\n" for text, nid in ids.items()), encoding="utf-8")
            with contextlib.closing(Library(Settings.load(home, settings.threads, embedder=settings.embedder))) as lib:
                [rep] = lib.ingest([corpus])
                if rep.status == "failed":
                    raise BadInput(rep.reason)
                ask_facts(lib, chat, config, systems, tallies, row["id"], row["q"], row["facts"],
                          {ids[t] for t in row["positive"]}, log, say, f"[{i}/{len(data)}]")
            say(done_line(i, len(data), tallies, started))
    return {"dataset": f"{path.name} (per-question store)", "rows": result_rows(tallies, Tally.metrics),
            "config": {"questions": len(data), "skipped": skip, "llm": chat.name, "rag_k": RAG_K,
                       "agent": {"repairs": list(config.repairs), "early_stop": config.early_stop}}}


def result_rows(tallies: dict[str, Tally], metrics: Callable[[Tally], dict[str, float]]) -> list[dict[str, Any]]:
    """One row per system; beside single-shot RAG, each other system's wall time as a multiple of RAG's on the same
    questions (median of the per-question ratios: both ran each question in turn, so the machine's load hits both)."""
    rag = tallies.get("single-shot RAG")
    rows = []
    for s, t in tallies.items():
        m = metrics(t)
        if rag is not None and t is not rag and t.latency and len(t.latency) == len(rag.latency):
            m["time_vs_rag_p50"] = round(statistics.median(a / b for a, b in zip(t.latency, rag.latency) if b > 0), 2)
        rows.append({"system": s, "metrics": m})
    return rows


def _recorded(t: Tally) -> dict[str, float]:
    """A tally's metrics, less the costs an older trace did not record (they would read as zeros)."""
    m = t.metrics() if (t.em or t.correct) else {}
    return m if t.latency else {k: v for k, v in m.items() if k in ("em", "f1", "accuracy", "support_recall")}


def done_line(i: int, total: int, tallies: dict[str, Tally], started: float, label: str = "acc",
              scores: Callable[[Tally], list[float]] = lambda t: t.correct) -> str:
    """The progress line after question ``i``: each system's running mean score, and the time left."""
    means = ", ".join(f"{s}: {label} {statistics.fmean(scores(t)):.3f}" for s, t in tallies.items())
    return f"[{i}/{total}] done; {means}{eta(started, i, total)}"


def eta(started: float, done: int, total: int) -> str:
    """'; ETA 3 min' from the mean time of the ``done`` questions so far ('' when finished)."""
    if done >= total or done == 0:
        return ""
    left = (time.perf_counter() - started) / done * (total - done)
    return f"; ETA {left:.0f} s" if left < 90 else f"; ETA {left / 60:.0f} min"


def summarize(path: Path) -> list[dict[str, Any]]:
    """The result tables of the runs recorded in a trace file (``lingxi eval agent --trace``), also of a run that
    was interrupted: each record was written when its question finished. A run starts with a header record
    (``{"run": ..., "dataset", "systems", "config"}``) and ends with ``{"finished": true}``, both written by the
    caller; ``config.answered`` counts the questions that finished, ``config.finished`` says whether the run did."""
    if not path.exists():
        raise BadInput(f"{path}: no such trace file")
    runs: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    for j, (n, line) in enumerate(lines):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if j == len(lines) - 1:  # the last line of a run killed mid-write may be cut short
                break
            raise BadInput(f"{path}: line {n} is not JSON (is this a `lingxi eval agent --trace` file?)") from None
        if not isinstance(rec, dict):
            raise BadInput(f"{path}: line {n} is not a trace record")
        if "run" in rec:
            current = {"dataset": rec.get("dataset", path.name), "config": dict(rec.get("config", {})),
                       "tallies": {s: Tally() for s in rec.get("systems", [])}, "ids": set()}
            runs.append(current)
        elif "finished" in rec and current is not None:
            current["config"]["finished"] = True
        elif "system" in rec:
            if current is None:  # a trace written before runs had a header
                current = {"dataset": path.name, "config": {}, "tallies": {}, "ids": set()}
                runs.append(current)
            current["tallies"].setdefault(rec["system"], Tally()).add(rec)
            current["ids"].add(json.dumps(rec.get("id"), ensure_ascii=False))
        else:
            raise BadInput(f"{path}: line {n} is neither a run header nor a question record")
    if not runs:
        raise BadInput(f"{path}: no records (the run stopped before its first question finished)")
    out = []
    for r in runs:
        config = r["config"]
        config["answered"] = len(r["ids"])
        config.setdefault("finished", False)
        rows = result_rows(r["tallies"], _recorded)
        out.append({"dataset": r["dataset"], "rows": rows, "config": config})
    return out


__all__ = ["eval_hotpotqa", "eval_questions", "f1", "ground_quote", "normalize", "summarize"]
