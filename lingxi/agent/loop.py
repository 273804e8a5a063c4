"""The agent loop: one readable generator of steps (plan, search, read, decide, answer).

Errors caused by the model (unparseable or off-schema replies) are stored on the step
and retried within the budget; errors in our own code are raised."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from lingxi.agent.grounding import about, ground_quote
from lingxi.agent.prompts import is_chinese, language_rule, render, template
from lingxi.agent.safety import MARKER, neutralize
from lingxi.errors import BadInput, ModelOutputError
from lingxi.llm.chat import ChatModel, Message
from lingxi.types import Answer, Citation, Hit, Step

SearchFn = Callable[[str, int], list[Hit]]

NO_EVIDENCE = {
    "zh": "笔记里没有找到能回答这个问题的内容。",
    "en": "I could not find anything in the notes that answers this question.",
}
FAILED = {
    "zh": "抱歉，这次没能整理出答案：模型的回复无法解析。",
    "en": "Sorry, I could not put an answer together: the model's replies could not be parsed.",
}


@dataclass(frozen=True)
class AgentConfig:
    max_subquestions: int = 3
    k: int = 6  # hits per search
    read_k: int = 4  # passages the model reads per search
    passage_chars: int = 700
    max_llm_calls: int = 12
    max_seconds: float = 300.0
    retries: int = 1  # extra tries for a structured step whose reply does not parse
    searches_per_subquestion: int = 2


def plan_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "sub_questions": {
                "type": "array",
                "minItems": 1,
                "maxItems": n,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "question": {"type": "string"},
                        "depends_on": {"type": "array", "items": {"type": "integer"}},
                    },
                    "required": ["id", "question", "depends_on"],
                },
            }
        },
        "required": ["sub_questions"],
    }


EXTRACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "found": {"type": "boolean"},
        "answer": {"type": "string"},
        "evidence": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {"passage": {"type": "integer"}, "quote": {"type": "string"}},
                "required": ["passage", "quote"],
            },
        },
        "next_query": {"type": "string"},
    },
    "required": ["found", "answer", "evidence", "next_query"],
}
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"short_answer": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["short_answer", "answer"],
}
QUERY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}

_MARKER = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")


def passage_block(i: int, hit: Hit, limit: int) -> str:
    """A passage as data: the note's own text can neither close the tag nor pose as another passage."""
    text, _ = neutralize(hit.chunk.text[:limit])
    text = re.sub(r"</?\s*passage", "‹passage", text, flags=re.I)
    where = hit.chunk.locator.label()
    return f'<passage id="{i}" title="{_attr(hit.title)}" where="{where}">\n{text}\n</passage>'


def _attr(s: str) -> str:
    return s.replace('"', "'").replace("<", "‹").replace(">", "›")[:120]


@dataclass
class Evidence:
    n: int
    hit: Hit
    quote: str


@dataclass
class _Run:
    question: str
    started: float
    llm_calls: int = 0
    llm_seconds: float = 0.0
    search_seconds: float = 0.0
    searches: int = 0
    evidence: list[Evidence] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)


class SearchAgent:
    def __init__(self, chat: ChatModel, search: SearchFn, config: AgentConfig | None = None) -> None:
        self.chat = chat
        self.search = search
        self.config = config or AgentConfig()

    # --- public ----------------------------------------------------------
    def ask(self, question: str, on_step: Callable[[Step], None] | None = None) -> Answer:
        gen = self.run(question)
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if on_step:
                on_step(step)

    def run(self, question: str) -> Generator[Step, None, Answer]:
        if not isinstance(question, str) or not question.strip():
            raise BadInput("question is empty")
        if len(question) > 2000:
            raise BadInput(f"question is {len(question)} characters; the limit is 2000")
        run = _Run(question=question.strip(), started=time.perf_counter())
        steps: list[Step] = []

        def emit(step: Step) -> Step:
            steps.append(step)
            return step

        lang = "zh" if is_chinese(question) else "en"
        # 1. plan
        plan, plan_steps = self._structured(run, "plan", render("plan", question=run.question,
                                            max_subq=self.config.max_subquestions), plan_schema(self.config.max_subquestions))
        for s in plan_steps:
            yield emit(s)
        subqs = self._subquestions(plan, run.question)
        yield emit(Step("plan", {"sub_questions": subqs}))
        # 2. search → read → decide, per sub-question in dependency order
        answers: dict[int, str] = {}
        for sq in subqs:
            if self._exhausted(run):
                yield emit(Step("budget", {"reason": "step or time budget exhausted", "skipped": sq["question"]}))
                break
            query = self._resolve_refs(sq, answers)
            if query is None:
                rewritten, rs = self._structured(run, "rewrite", render("rewrite", query=sq["question"], known=self._known(
                    answers, subqs)), QUERY_SCHEMA)
                for s in rs:
                    yield emit(s)
                query = (rewritten or {}).get("query") or sq["question"]
            seen: set[str] = set()
            found = False
            for _ in range(self.config.searches_per_subquestion):
                if self._exhausted(run):
                    break
                t = time.perf_counter()
                hits = [h for h in self.search(query, self.config.k) if h.chunk.id not in seen][: self.config.read_k]
                run.search_seconds += time.perf_counter() - t
                run.searches += 1
                seen.update(h.chunk.id for h in hits)
                yield emit(Step("search", {"query": query, "hits": [
                    {"title": h.title, "locator": h.chunk.locator.label(), "chunk_id": h.chunk.id} for h in hits]},
                    time.perf_counter() - t))
                if not hits:
                    break
                passages = "\n\n".join(passage_block(i, h, self.config.passage_chars) for i, h in enumerate(hits, 1))
                got, es = self._structured(run, "read", render("extract", question=query, passages=passages), EXTRACT_SCHEMA)
                for s in es:
                    yield emit(s)
                if got is None:
                    continue
                kept = self._ground(run, got, hits)
                yield emit(Step("read", {"question": query, "found": bool(got["found"]), "answer": got["answer"],
                                         "evidence": [{"n": e.n, "chunk_id": e.hit.chunk.id, "quote": e.quote} for e in kept]}))
                if got["found"] and kept and got["answer"].strip():
                    answers[int(sq["id"])] = got["answer"].strip()
                    run.findings.append((sq["question"], got["answer"].strip() + " " + "".join(f"[{e.n}]" for e in kept)))
                    found = True
                    break
                nxt = str(got.get("next_query") or "").strip()
                reason = "no passage answers it" if not got["found"] else "its quotes could not be verified"
                if not nxt or nxt == query:
                    # No new query from the model: widen a rewritten query with the sub-question, else repeat it
                    # (the next search skips passages already read).
                    nxt = f"{query} {sq['question']}" if query != sq["question"] else query
                yield emit(Step("decide", {"reason": reason, "next_query": nxt}))
                query = nxt
            if not found:
                run.findings.append((sq["question"], "not found in the notes"))
        # 3. answer
        if not run.evidence:
            text = NO_EVIDENCE[lang]
            yield emit(Step("answer", {"answer": text, "citations": 0}))
            return self._answer(run, text, (), steps, found=False)
        ev_text = "\n".join(f"[{e.n}] ({e.hit.title}, {e.hit.chunk.locator.label()}) {e.quote}" for e in run.evidence)
        findings = "\n".join(f"- {q}: {a}" for q, a in run.findings)
        final, fs = self._structured(run, "answer", render(
            "answer", question=run.question, findings=findings, evidence=ev_text,
            evidence_ids=", ".join(f"[{e.n}]" for e in run.evidence), language_rule=language_rule(run.question),
        ), ANSWER_SCHEMA, force=True)
        for s in fs:
            yield emit(s)
        if final is None:
            text = FAILED[lang]
            yield emit(Step("answer", {"answer": text, "citations": 0}))
            return self._answer(run, text, (), steps, found=False)
        text, citations = self._cite(run, final["answer"])
        short = str(final.get("short_answer", "")).strip() or _MARKER.sub("", text).strip()
        yield emit(Step("answer", {"answer": text, "short_answer": short, "citations": len(citations)}))
        return self._answer(run, text, citations, steps, short=short)

    # --- helpers ---------------------------------------------------------
    def _structured(self, run: _Run, kind: str, prompt: str, schema: dict[str, Any],
                    force: bool = False) -> tuple[dict[str, Any] | None, list[Step]]:
        """One structured LLM step with retries; model errors become steps, never exceptions."""
        steps = []
        messages: list[Message] = [{"role": "system", "content": template("system")}, {"role": "user", "content": prompt}]
        for attempt in range(1 + self.config.retries):
            if self._exhausted(run) and not (force and attempt == 0):
                steps.append(Step(kind, {"attempt": attempt + 1}, error="budget exhausted before the model call"))
                return None, steps
            t = time.perf_counter()
            run.llm_calls += 1
            try:
                value = self.chat.complete_json(messages, schema, max_tokens=400)
            except ModelOutputError as e:
                dt = time.perf_counter() - t
                run.llm_seconds += dt
                steps.append(Step(kind, {"attempt": attempt + 1}, dt, error=str(e)))
                continue
            run.llm_seconds += time.perf_counter() - t
            return value, steps
        return None, steps

    def _exhausted(self, run: _Run) -> bool:
        return (run.llm_calls >= self.config.max_llm_calls
                or time.perf_counter() - run.started >= self.config.max_seconds)

    def _subquestions(self, plan: dict[str, Any] | None, question: str) -> list[dict[str, Any]]:
        raw = (plan or {}).get("sub_questions") or []
        out: list[dict[str, Any]] = []
        for i, sq in enumerate(raw[: self.config.max_subquestions], 1):
            q = str(sq.get("question", "")).strip()
            if not q:
                continue
            deps = [int(d) for d in sq.get("depends_on", []) if isinstance(d, int) and 0 < d < i]
            out.append({"id": i, "question": q, "depends_on": deps})
        if len(out) == 1:
            # One search: the question itself, so nothing the planner dropped or reworded is lost.
            out[0]["question"] = question
        return out or [{"id": 1, "question": question, "depends_on": []}]

    @staticmethod
    def _resolve_refs(sq: dict[str, Any], answers: dict[int, str]) -> str | None:
        q = sq["question"]
        if not sq["depends_on"]:
            return str(q)
        for d in sq["depends_on"]:
            if d in answers:
                q = q.replace(f"#{d}", answers[d])
        if re.search(r"#\d", q):
            return q.replace("#", "") if not any(d in answers for d in sq["depends_on"]) else None
        if q == sq["question"] and any(d in answers for d in sq["depends_on"]):
            return None  # depends on an answer but has no placeholder: let the model rewrite it
        return str(q)

    @staticmethod
    def _known(answers: dict[int, str], subqs: list[dict[str, Any]]) -> str:
        return "\n".join(f"#{s['id']} ({s['question']}): {answers[s['id']]}" for s in subqs if s["id"] in answers) or "(none)"

    def _ground(self, run: _Run, got: dict[str, Any], hits: list[Hit]) -> list[Evidence]:
        """Verified evidence for a read: each quote grounded verbatim in a passage the model was shown.

        Small models often misnumber passages, so a quote that does not ground in the passage it names is tried
        against the other shown passages. A grounded quote must also be about the claim: the claim's text has to
        overlap the quoted sentence or its chunk, so a verbatim but unrelated sentence cannot back an answer."""
        claim = str(got.get("answer", "")).strip()
        kept = []
        for ev in got.get("evidence", []):
            i = ev.get("passage")
            named = [hits[i - 1]] if isinstance(i, int) and 1 <= i <= len(hits) else []
            found: tuple[Hit, str] | None = None
            for hit in named + [h for h in hits if h not in named]:
                # The claim may stand in for a paraphrased quote only in the passage the model named.
                shown, _ = neutralize(hit.chunk.text)
                quote = ground_quote(str(ev.get("quote", "")), shown, hint=claim if hit in named else "")
                if quote is not None and MARKER not in quote and quote in hit.chunk.text and about(claim, quote, shown):
                    found = (hit, quote)
                    break
            if found is None:
                continue
            hit, quote = found
            existing = next((e for e in run.evidence if e.hit.chunk.id == hit.chunk.id and e.quote == quote), None)
            if existing is None:
                existing = Evidence(len(run.evidence) + 1, hit, quote)
                run.evidence.append(existing)
            if existing not in kept:
                kept.append(existing)
        return kept

    def _cite(self, run: _Run, text: str) -> tuple[str, tuple[Citation, ...]]:
        """Keep markers that name verified evidence, renumber them 1..m in order of appearance, drop the rest."""
        by_n = {e.n: e for e in run.evidence}
        order: list[int] = []

        def repl(m: re.Match[str]) -> str:
            nums = [int(x) for x in re.split(r"\s*[,，]\s*", m.group(1))]
            valid = [n for n in nums if n in by_n]
            for n in valid:
                if n not in order:
                    order.append(n)
            return "".join(f"[[{n}]]" for n in valid)

        if not _MARKER.sub("", text).strip(" \t\n.。"):
            # Only markers, no words: say what the findings say (they carry their evidence markers).
            text = "; ".join(a for _, a in run.findings if not a.startswith("not found")) or text
        text = _MARKER.sub(repl, text.strip())
        if not order:
            # The model cited nothing usable: attach the evidence the findings rest on.
            order = [e.n for e in run.evidence]
            text = text.rstrip() + " " + "".join(f"[[{n}]]" for n in order)
        renum = {old: new for new, old in enumerate(order, 1)}
        text = re.sub(r"\[\[(\d+)\]\]", lambda m: f"[{renum[int(m.group(1))]}]", text)
        text = re.sub(r"[ \t]+", " ", text).strip()
        cites = []
        for old in order:
            e = by_n[old]
            assert e.quote in e.hit.chunk.text  # grounded at read time; never emit an unverifiable quote
            c = e.hit.chunk
            cites.append(Citation(renum[old], c.note_id, c.id, e.hit.title, e.hit.source, c.locator, e.quote))
        return text, tuple(cites)

    def _answer(self, run: _Run, text: str, cites: tuple[Citation, ...], steps: list[Step], found: bool = True,
                short: str = "") -> Answer:
        total = time.perf_counter() - run.started
        return Answer(run.question, text, cites, tuple(steps), short=short, found=found, timings={
            "total_s": round(total, 3), "llm_s": round(run.llm_seconds, 3), "search_s": round(run.search_seconds, 3),
            "llm_calls": run.llm_calls, "searches": run.searches})
