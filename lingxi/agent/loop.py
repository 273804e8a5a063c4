"""The agent loop: one readable generator of steps (plan, search, read, decide, answer).

Errors caused by the model (unparseable or off-schema replies) are stored on the step
and retried within the budget; errors in our own code are raised."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lingxi.agent.asks import asked_kind, asks_number, described_by, has_number, other_kind
from lingxi.agent.grounding import (
    anchored,
    anchors,
    mentions,
    name_only,
    names_entity,
    names_ordinal,
    overlap,
    restates,
    short_of,
    supporting_sentence,
)
from lingxi.agent.parts import split_asks, split_parallel
from lingxi.agent.prompts import is_chinese, language_rule, render, template
from lingxi.agent.safety import MARKER, neutralize
from lingxi.errors import BadInput, ModelOutputError
from lingxi.index.tokenize import tokenize
from lingxi.llm.chat import ChatModel, Message
from lingxi.types import Answer, Citation, Hit, Step

SearchFn = Callable[[str, int], list[Hit]]

NO_EVIDENCE = {
    "zh": "笔记里没有找到能回答这个问题的内容。",
    "en": "I could not find anything in the notes that answers this question.",
}
PART = "a part of the question the answer leaves out"
NUMBER = "the question asks for a number"
LAST = "the answer is not what the chain's last hop found"
KIND = "the answer is not what a hop asking the same found"
FAILED = {
    "zh": "抱歉，这次没能整理出答案：模型的回复无法解析。",
    "en": "Sorry, I could not put an answer together: the model's replies could not be parsed.",
}


@dataclass(frozen=True)
class AgentConfig:
    max_subquestions: int = 3
    k: int = 6  # hits per search
    read_k: int = 4  # passages a sub-question's read step shows the model
    answer_k: int = 6  # passages the answer step reads, pooled round-robin over every search
    passage_chars: int = 700
    max_llm_calls: int = 12
    max_seconds: float = 300.0
    retries: int = 1  # extra tries for a structured step whose reply does not parse
    searches_per_subquestion: int = 2
    answer_rounds: int = 2  # when the passages do not answer: one more search, then answer again


def plan_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "sub_questions": {
                "type": "array",
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
    "properties": {"found": {"type": "boolean"}, "answer": {"type": "string"}, "passage": {"type": "integer"},
                   "next_query": {"type": "string"}},
    "required": ["found", "answer", "passage", "next_query"],
}
ANSWER_SCHEMA: dict[str, Any] = {  # a direct answer (the evaluation's closed-book and single-shot baselines)
    "type": "object",
    # Bare answer first: on the first 9 HotpotQA dev questions the single-shot row scored F1 4.57 (summed) this way
    # and 2.32 with the sentence first (the 1.5B then often copies the sentence into short_answer).
    "properties": {"short_answer": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["short_answer", "answer"],
}
FINAL_SCHEMA: dict[str, Any] = {  # the agent's answer step, which may ask for one more search
    "type": "object",
    # The sentence first, then the bare answer taken from it: the agent row summed F1 4.07 on those 9 questions,
    # 2.73 with the bare answer first (the findings header changed in the same commit).
    "properties": {"answer": {"type": "string"}, "short_answer": {"type": "string"}, "found": {"type": "boolean"},
                   "next_query": {"type": "string"}},
    "required": ["answer", "short_answer", "found", "next_query"],
}

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


@dataclass(frozen=True)
class Finding:
    """A sub-question's answer, verified in a passage (``quote`` is a verbatim sentence of its chunk)."""

    sq_id: int
    question: str
    answer: str
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
    results: list[list[Hit]] = field(default_factory=list)  # every search's hits, in order
    queries: set[str] = field(default_factory=set)
    found_in: list[Hit] = field(default_factory=list)  # passages where a sub-question's answer was verified
    findings: list[Finding] = field(default_factory=list)


class SearchAgent:
    """Plan → search → read → decide → (search again) → answer.

    The question is split into sub-questions (a small dependency graph). Every sub-question is searched; one whose
    answer a later sub-question needs is *read* first (the model names the answer and its passage, which must
    verify), and its answer is put into the later query. The answer step reads the best passages of all searches,
    pooled round-robin so each search contributes, and cites passages by number; each cited claim is checked
    against its passage, re-grounded to another passage that backs it, or dropped. When the model says the passages
    do not answer, it names what is missing, the agent searches for that and answers again."""

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
        cfg = self.config

        def emit(step: Step) -> Step:
            steps.append(step)
            return step

        lang = "zh" if is_chinese(question) else "en"
        # 1. plan: a question written as several questions is planned by its own sentences (each is asked; a small
        #    planner rewrote "她是做什么的" as "#1 她是谁"), any other by the model
        subqs = split_asks(run.question, cfg.max_subquestions)
        if subqs:
            yield emit(Step("plan", {"sub_questions": subqs, "from": "the question's sentences"}))
        else:
            plan, plan_steps = self._structured(run, "plan", render(
                "plan", question=run.question, max_subq=cfg.max_subquestions,
                examples=template(f"plan_examples_{lang}").strip()), plan_schema(cfg.max_subquestions))
            for s in plan_steps:
                yield emit(s)
            subqs = self._subquestions(plan, run.question)
            yield emit(Step("plan", {"sub_questions": subqs}))
        asked_all = any(sq.get("asked") for sq in subqs)
        # 2. search every sub-question in dependency order; read the ones a later sub-question needs
        if len(subqs) > 1:
            yield emit(self._search(run, run.question, cfg.k))  # the question itself, so the plan loses nothing
        answers: dict[int, str] = {}
        for sq in subqs:
            if self._exhausted(run):
                yield emit(Step("budget", {"reason": "step or time budget exhausted", "skipped": sq["question"]}))
                break
            query = asked = self._resolve_refs(sq, answers)
            # Read every sub-question of a plan with several: one a later one needs (its answer goes into that
            # query), a chain's last hop (it carries the answer to the question), and each part of a question that
            # asks for several things ("A and B"), so the answer step gets every part as a verified finding instead
            # of hoping to find both in the pooled passages. A sub-question whose earlier answers are unknown is
            # only searched; the answer step reads its best passages.
            waiting = any(d not in answers for d in sq["depends_on"])
            needed = any(sq["id"] in other["depends_on"] for other in subqs)
            if len(subqs) == 1 or (waiting and not needed):
                if query not in run.queries:
                    yield emit(self._search(run, query, cfg.k))
                continue
            seen: set[str] = set()
            for attempt in range(cfg.searches_per_subquestion):
                if attempt and self._exhausted(run):
                    break
                step = self._search(run, query, cfg.k)
                yield emit(step)
                # this search's best, interleaved with the whole question's (they carry what a terse sub-question
                # leaves out)
                hits = [h for h in _interleave([run.results[-1]] + ([run.results[0]] if len(run.results) > 1 else []))
                        if h.chunk.id not in seen][: cfg.read_k]
                seen.update(h.chunk.id for h in hits)
                if not hits:
                    break
                # a question of the user's own resting on another ("#1是做什么的" of "…哪位嘉宾？她是做什么的？") is
                # read by itself: shown the whole question, a small model answers its first question again
                got, answer, where, es = self._read(run, hits, query, sq, answers,
                                                    bare=bool(sq.get("asked") and sq["depends_on"]))
                for s in es:
                    yield emit(s)
                if where is not None and es[-1].detail.get("echoes") and not self._exhausted(run):
                    # A chain hop whose answer is its own input (the bridge: "Northfield College" for "in which
                    # city is #1?") or words of the question ("Ruritania" for "...has worked in Ruritania since what
                    # year?") may have found nothing: a small model's hop question is often malformed. The same
                    # passages are read once more for the question itself, with what the hop was given; an answer
                    # that echoes nothing is the hop's finding, else the first read's stands (the re-read of "what
                    # Springfield city?" gave the bridge back where the first read had "Springfield City"; searching on
                    # for a hop like "what is the genre of the series?" found other passages' names).
                    # A chain's first hop that answered with words of the question its own question does not have
                    # ("New York" for "who directed Big Stone Gap?", asked towards "...based in what New York
                    # city?") took them from the question it was shown as context: it is read again without it.
                    first = not sq["depends_on"]
                    given = "; ".join(answers[d] for d in sq["depends_on"] if d in answers)
                    if first:
                        read_as = asked
                    elif sq.get("asked"):  # a question of the user's own ("她是做什么的"): the hop itself, told its
                        # input is not the answer (the whole question would ask the earlier question again)
                        read_as = render(f"not_itself_{lang}", question=asked, given=given)
                    else:
                        read_as = f"{run.question} ({given})"
                    yield emit(Step("decide", {"reason": "the hop's answer repeats the question" if first
                                               else "the hop's answer repeats what it was given", "read_again": read_as}))
                    again, a2, w2, es = self._read(run, hits, read_as, sq, answers, alone=first,
                                                      bare=bool(sq.get("asked")))
                    for s in es:
                        yield emit(s)
                    if w2 is not None and not es[-1].detail.get("echoes"):
                        got, answer, where = again, a2, w2
                if got is None:
                    continue
                if where is not None:
                    answers[int(sq["id"])] = answer
                    run.found_in.append(where[0])
                    run.findings.append(Finding(int(sq["id"]), asked, answer, *where))
                    break
                nxt = str(got.get("next_query") or "").strip()
                reason = "no passage answers it" if not got["found"] else "the passage it named does not say so"
                if not nxt or nxt in run.queries:
                    nxt = f"{query} {sq['question']}" if query != sq["question"] else query
                # the model's query for a hop may lose what the hop is about ("voice actor")
                nxt = _lead_with(nxt, [answers[d] for d in sq["depends_on"] if d in answers])
                if attempt + 1 < cfg.searches_per_subquestion:
                    yield emit(Step("decide", {"reason": reason, "next_query": nxt}))
                query = nxt
        # 2b. a note titled as something the question names that no pooled passage comes from: searched by its name
        #     ("...represented Northfield State University, which was founded in what year?" brings that note)
        added = 0
        for name in self._unpooled_names(run)[:4]:
            if added >= 2 or self._exhausted(run):
                break
            yield emit(self._search(run, name, cfg.k, titled=name))
            added += bool(run.results[-1])
        # 3. answer from the pooled passages; search once more for what the model says is missing
        text, short, found, replied = "", "", False, False
        citations: tuple[Citation, ...] = ()
        for rnd in range(cfg.answer_rounds):
            pool = self._pool(run)
            if not pool:
                break
            final, checked = yield from self._compose(run, pool, lang, emit, force=rnd == 0)
            if final is None:
                break
            replied = True
            if checked is not None:
                text, citations, short = checked
                found = True
            nxt = str(final.get("next_query") or "").strip()
            if (final["found"] and checked is not None) or rnd + 1 >= cfg.answer_rounds or not nxt or nxt in run.queries \
                    or self._exhausted(run):
                break
            yield emit(Step("decide", {"reason": "the passages do not answer the question" if not final["found"]
                                       else "no claim of the answer could be verified", "next_query": nxt}))
            yield emit(self._search(run, nxt, cfg.k, first=True))
        # 3a. an answer naming what the question describes rather than what it asks: the chain's bridge ("Columbia
        #     University" for "...a university that is located in what city?", found by a hop asking for a
        #     university), or a name carrying a noun the question uses for what it describes ("The University of
        #     X" for "the song of the university whose ..."). The answer step runs once more, told so, over
        #     the passages naming it first; an answer that names it again, or verifies nothing, leaves the first.
        bridge = self._bridge_of(run, subqs, short) if found and short and not asked_all else None
        if bridge is not None and not self._exhausted(run):
            name, noun = bridge
            kind = asked_kind(run.question)
            asked = f"the {kind} of {name}" if kind not in ("", "thing", "person") \
                else f"what the question asks about {name}"
            yield emit(Step("decide", {"reason": "the answer names what the question describes", "name": name,
                                       "asked": asked}))
            pool = self._pool(run)
            pool = ([h for h in pool if anchored(f"{h.title}\n{h.chunk.text}", [name])]
                    + [h for h in pool if not anchored(f"{h.title}\n{h.chunk.text}", [name])])
            _, checked = yield from self._compose(run, pool, lang, emit,
                                                  note=render("beyond", bridge=name, noun=noun, asked=asked))
            if checked is not None and not mentions(checked[2], name) and not mentions(name, checked[2]) \
                    and not described_by(run.question, checked[2]):
                text, citations, short = checked
        # 3b. a chain's question asking for a number answered with a name and no number among the verified findings:
        #     the small model stopped at the chain's bridge ("Megamart" for "...a chain that operated how many
        #     hypermarkets?"); search for the question with that name and read once for the number
        if found and short and not asked_all and any(sq["depends_on"] for sq in subqs) and asks_number(run.question) \
                and not has_number(short) and not any(has_number(f.answer) for f in run.findings) \
                and not self._exhausted(run):
            for s in self._read_for_number(run, subqs, short):
                yield emit(s)
        # 4. verified findings the answer must state (see ``_unstated``), each added as its own cited sentence, or
        #    the chain's findings in place of an answer that contradicts its last hop
        missing, reason = self._unstated(run, subqs, _MARKER.sub("", text) if found else "", short if found else "")
        if missing:
            if reason in (LAST, KIND):  # the chain's findings are the answer, the last (or same-kind) hop's the short one
                text, citations, short = _with_findings("", (), missing, lang, missing[-1].answer)
            else:  # added to what the model answered; a part keeps the model's short answer
                text, citations, short = _with_findings(text if found else "", citations, missing, lang,
                                                        short if found and reason == PART else "")
            found = True
            yield emit(Step("complete", {"reason": reason,
                                         "added": [{"question": f.question, "answer": f.answer} for f in missing],
                                         "chunk_ids": [f.hit.chunk.id for f in missing]}))
        if not found:
            text = FAILED[lang] if any(s.kind == "answer" and s.error for s in steps) and not replied else NO_EVIDENCE[lang]
            yield emit(Step("answer", {"answer": text, "citations": 0}))
            return self._answer(run, text, (), steps, found=False)
        yield emit(Step("answer", {"answer": text, "short_answer": short, "citations": len(citations)}))
        return self._answer(run, text, citations, steps, short=short)

    # --- helpers ---------------------------------------------------------

    def _compose(self, run: _Run, pool: list[Hit], lang: str, emit: Callable[[Step], Step], force: bool = False,
                 note: str = "") -> Generator[Step, None, tuple[dict[str, Any] | None, tuple[str, tuple[Citation, ...], str] | None]]:
        """One answer step over ``pool`` (``note`` is said to the model after the findings): the model's reply, and
        its checked answer (text, citations, short answer) when a claim of it verified."""
        cfg = self.config
        yield emit(Step("gather", {"passages": [{"n": i, "title": h.title, "locator": h.chunk.locator.label()}
                                                for i, h in enumerate(pool, 1)],
                                   "chunk_ids": [h.chunk.id for h in pool]}))
        findings = "".join(f"- {f.question}: {f.answer}\n" for f in run.findings)
        prompt = render("answer", question=run.question, language_rule=language_rule(run.question),
                        findings=(f"\nAlready found (verified in the notes):\n{findings}" if findings else "")
                        + (f"\n{note}\n" if note else ""),
                        passages="\n\n".join(passage_block(i, h, cfg.passage_chars) for i, h in enumerate(pool, 1)))
        final, fs = self._structured(run, "answer", prompt, FINAL_SCHEMA, force=force)
        for s in fs:
            yield emit(s)
        if final is None:
            return None, None
        text, citations = self._cite(run, str(final["answer"]), str(final["short_answer"]).strip(), pool)
        # what the model wrote, before its claims were checked: how many of its citations held
        yield emit(Step("draft", {"answer": str(final["answer"]), "short_answer": str(final["short_answer"]),
                                  "found": bool(final["found"]), "cited": len(citations)}))
        if not citations:
            return final, None
        said = str(final["short_answer"]).strip()
        short = short_of(said, _MARKER.sub("", text))
        ids = {c.chunk_id for c in citations}
        cited = [h for h in self._usable(run, pool, said) if h.chunk.id in ids]
        if short != said and said and not mentions(run.question, said) \
                and (where := self._verify(cited, None, said, said, run.question)):
            # The short answer the sentence does not state ("Northfield Raceway" beside "The 1957
            # Indianapolis 500 [1]") is the answer when a passage the sentence cites backs it (that passage:
            # "...was held at the Northfield Raceway"), said as its own cited sentence. One from
            # another passage is not: the small model's short answer sometimes names another passage's
            # subject ("No. 7 Squadron" beside "The Silver Falcon [1]").
            text, citations, short = _with_findings(text, citations, [Finding(0, run.question, said, *where)],
                                                    lang, said)
        return final, (text, citations, short)
    def _search(self, run: _Run, query: str, k: int, first: bool = False, titled: str = "") -> Step:
        """One search, its hits kept for the answer's pool; with ``titled``, only the best hit from a note titled as
        that name."""
        t = time.perf_counter()
        hits = self.search(query, k)
        if titled:
            hits = [h for h in hits if _titled(h.title, titled)][:1]
        dt = time.perf_counter() - t
        run.search_seconds += dt
        run.searches += 1
        run.queries.add(query)
        if first:
            run.results.insert(0, hits)  # a search for what was missing leads the next pool
        else:
            run.results.append(hits)
        return Step("search", {"query": query, "hits": [
            {"title": h.title, "locator": h.chunk.locator.label(), "chunk_id": h.chunk.id} for h in hits]}, dt)

    @staticmethod
    def _bridge_of(run: _Run, subqs: list[dict[str, Any]], short: str) -> tuple[str, str] | None:
        """What the answer ``short`` names that the question describes rather than asks, with the noun for it: a
        verified finding of a sub-question another rests on (a bridge: the answer is it, or a part or another
        spelling of it — "Columbia" of "Northfield College", not "Silver Remote" of "Apple") whose sub-question asks
        for another kind of
        thing than the question (see ``other_kind``), or a common noun of the question the answer carries (see
        ``described_by``)."""
        words = described_by(run.question, short) if name_only(short) else set()  # a name, not a sentence
        if words:
            return short, min(words, key=lambda w: run.question.lower().find(w))
        hop = {sq["id"]: sq for sq in subqs}
        for f in run.findings:
            sq = hop.get(f.sq_id)
            if sq is None or not any(f.sq_id in o["depends_on"] for o in subqs):
                continue
            if names_entity(f.answer, short) and other_kind(run.question, sq["question"]):
                return f.answer, asked_kind(sq["question"])
        return None

    def _unpooled_names(self, run: _Run) -> list[str]:
        """What the question names (see ``anchors``) that no passage of the answer's pool comes from a note titled
        as."""
        pool = self._pool(run)
        return [a for a in anchors(run.question) if not any(_titled(h.title, a) for h in pool)]

    def _pool(self, run: _Run) -> list[Hit]:
        """Passages for the answer: those a sub-question's answer was found in, then round-robin over the searches
        (each search's best, then each one's second best, ...), at most ``answer_k``."""
        return _interleave([run.found_in] + run.results)[: self.config.answer_k]

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
        for sq in raw[: self.config.max_subquestions]:
            q = str(sq.get("question", "")).strip()
            if not q or any(q == o["question"] for o in out):
                continue
            i = len(out) + 1
            # what it depends on: the declared ids and the #k it writes (small models forget to declare them)
            named = [d for d in sq.get("depends_on", []) if isinstance(d, int)] + [int(k) for k in re.findall(r"#(\d+)", q)]
            deps = sorted({d for d in named if 0 < d < i})
            out.append({"id": i, "question": q, "depends_on": deps})
        if len(out) <= 1:
            # Not decomposed: a question asking the same of two items ("A和B的…") is asked once per item; any
            # other is one search for the question itself, so nothing the planner dropped or reworded is lost.
            parts = split_parallel(question)
            if parts:
                return [{"id": i, "question": q, "depends_on": [], "split": True} for i, q in enumerate(parts, 1)]
            return [{"id": 1, "question": question, "depends_on": []}]
        return out

    @staticmethod
    def _unstated(run: _Run, subqs: list[dict[str, Any]], said: str, short: str) -> tuple[list[Finding], str]:
        """Verified findings the answer (``said``, with its ``short`` answer) must still state, and why.

        A question in parts ("A and B", the plan's sub-questions independent; or a question written as several,
        "…来自哪位嘉宾？她是做什么的？", where each is asked even when one rests on another): every part a read verified belongs
        in the answer; a small model's answer step drops a part or calls the notes silent although both were read
        and verified. A question asking for a number (a year, a count, a date) answered without one: the small model
        often names a chain's bridge entity ("the author's name" for "born in what year?"); the last hop's verified
        finding answers it when that finding is a number. Any other chain whose answer is not what its last hop
        found — the bridge ("Jane Doe" for "what position did the actress who played X hold?") or another
        name read from the pooled passages — is answered by the chain's verified findings, the last hop's as the
        short answer: a read of one hop's own passages, verified in them, is more reliable than a small model's
        answer over every pooled passage. Unless the last hop asks something the question does not ask, or its
        finding only repeats the question's words or what the hop was given (a badly planned hop). Before that, a
        hop asking for the same kind of thing as the question (see ``asked_kind``) whose verified finding the answer
        does not name answers it the same way."""
        if len(subqs) > 1 and all(not sq["depends_on"] or sq.get("asked") for sq in subqs):
            return [f for f in run.findings if not mentions(said, f.answer)], PART
        hop = {sq["id"]: sq for sq in subqs}
        ends = {i for i in hop if not any(i in o["depends_on"] for o in subqs)}
        if asks_number(run.question) and not has_number(short):
            return [f for f in run.findings[::-1] if f.sq_id in ends and has_number(f.answer)][:1], NUMBER
        if not short:
            return [], ""
        found = {g.sq_id: g.answer for g in run.findings}
        # a hop that asks for just what the question asks (the same kind of thing, named by a noun: "What is the name
        # of the science fantasy young adult series?" towards "What science fantasy young adult series, told in first
        # person, ...?") and verified a finding that is not what it was given: an answer naming another thing is
        # answered by that finding
        kind = asked_kind(run.question)
        if kind not in ("", "person", "thing"):
            same = [g for g in run.findings if g.sq_id in hop and asked_kind(str(hop[g.sq_id]["question"])).split()[-1:]
                    == kind.split()[-1:] and not any(mentions(found[d], g.answer)
                                                     for d in hop[g.sq_id]["depends_on"] if d in found)]
            if same and not any(mentions(short, g.answer) or mentions(g.answer, short) for g in same):
                return same[-1:], KIND
        # the chain's last hop: the latest finding of a sub-question that rests on others and that none rests on
        f = next((g for g in run.findings[::-1] if g.sq_id in ends and hop[g.sq_id]["depends_on"]), None)
        if f is None or mentions(f.answer, short) or mentions(short, f.answer) or restates(run.question, f.answer):
            return [], ""
        deps = hop[f.sq_id]["depends_on"]
        if any(mentions(found[d], f.answer) for d in deps if d in found):
            return [], ""  # the last hop gave back what it was given (read twice, the echo stood): not an answer
        if not _asks_as(run.question, str(hop[f.sq_id]["question"]), [found[d] for d in deps if d in found]):
            return [], ""
        chain, todo = {f.sq_id}, list(deps)
        while todo:  # the hops the last one rests on, transitively
            d = todo.pop()
            if d not in chain and d in hop:
                chain.add(d)
                todo.extend(hop[d]["depends_on"])
        # one sentence per answer: a hop that found what the last one found is said by the last one
        return [g for g in run.findings if g.sq_id in chain and (g is f or not mentions(g.answer, f.answer))], LAST

    def _read_for_number(self, run: _Run, subqs: list[dict[str, Any]], name: str) -> list[Step]:
        """One search for the question with the name the answer gave, one read of its best passages for the number
        the question asks; a verified number becomes a finding of the plan's last sub-question."""
        query = f"{name} {run.question}"
        if query in run.queries:
            return []
        steps = [self._search(run, query, self.config.k, first=True)]
        hits = run.results[0][: self.config.read_k]
        if not hits:
            return steps
        asked = f"{run.question} ({name})"
        _, answer, where, es = self._read(run, hits, asked, need_number=True, about=name)
        steps.extend(es)
        if where is not None:
            last = max(int(sq["id"]) for sq in subqs if not any(sq["id"] in o["depends_on"] for o in subqs))
            run.found_in.append(where[0])
            run.findings.append(Finding(last, asked, answer, *where))
        return steps

    def _read(self, run: _Run, hits: list[Hit], asked: str, sq: dict[str, Any] | None = None,
              answers: dict[int, str] | None = None, need_number: bool = False, alone: bool = False,
              about: str = "", bare: bool = False) -> tuple[dict[str, Any] | None, str, tuple[Hit, str] | None, list[Step]]:
        """One read of ``hits`` for ``asked``: (the reply, its answer, the passage and sentence that verify it or
        None, the steps: the structured call's, then the "read" step, marked ``echoes`` when hop ``sq`` answered
        with its input). With ``need_number`` an answer without a number does not verify; ``alone`` leaves out the
        question the read is a step towards (and checks no echo), ``bare`` only leaves it out. The answer of a chain
        hop (resting on one other sub-question) verifies only in a passage that names that sub-question's answer,
        else in one that names ``about``; the answer of a
        sub-question resting on none, in one that names something the question or the sub-question names (see
        ``anchors``)."""
        passages = "\n\n".join(passage_block(i, h, self.config.passage_chars) for i, h in enumerate(hits, 1))
        context = "" if alone or bare else render("extract_context", main=run.question) + "\n"
        got, steps = self._structured(run, "read", render("extract", context=context, question=asked,
                                                          passages=passages), EXTRACT_SCHEMA)
        if got is None:
            return None, "", None, steps
        answer = str(got["answer"]).strip()
        # a chain hop's answer is a fact about the hop's input: its passage must name that input; a hop resting on
        # nothing is about what the question (or the hop) names
        deps = sq["depends_on"] if sq is not None else []
        subject = (answers or {}).get(deps[0], "") if len(deps) == 1 else about
        need = [subject] if subject else []
        if not subject and sq is not None and not deps:
            need = anchors(run.question) + anchors(str(sq["question"]))
        where = (self._verify(hits, got.get("passage"), answer, answer, asked, need)
                 if got["found"] and answer and (has_number(answer) or not need_number) else None)
        echo = where is not None and sq is not None and not alone and self._echoes(run, sq, answers or {}, answer)
        steps.append(Step("read", {"question": asked, "found": bool(got["found"]), "answer": answer,
                                   "verified": where is not None, "chunk_ids": [h.chunk.id for h in hits],
                                   **({"echoes": True} if echo else {})}))
        return got, answer, where, steps

    @staticmethod
    def _echoes(run: _Run, sq: dict[str, Any], answers: dict[int, str], answer: str) -> bool:
        """Whether a chain hop (one sub-question resting on one other, whose answer is known) answered with what it
        was given: that answer, or words of the question. A hop resting on several (a comparison: "which of #1
        and #2 is older?") may rightly answer with one of them. A chain's first hop (resting on none) echoes
        when it answered with words of the question that its own question does not have."""
        deps = sq["depends_on"]
        if not deps:
            return restates(run.question, answer) and not restates(str(sq["question"]), answer)
        if len(deps) != 1 or deps[0] not in answers:
            return False
        return mentions(answers[deps[0]], answer) or restates(run.question, answer)

    @staticmethod
    def _resolve_refs(sq: dict[str, Any], answers: dict[int, str]) -> str:
        """The sub-question as a search query, with the answers it depends on put in.

        ``#k`` becomes the answer of sub-question k; a placeholder whose answer is unknown becomes the latest known
        answer it depends on, or goes; a sub-question that depends on an answer without naming it gets the answer
        in front (small models often write "the university" for "#1")."""
        q = str(sq["question"])
        known = [answers[d] for d in sq["depends_on"] if d in answers]
        q = re.sub(r"#(\d+)", lambda m: answers.get(int(m.group(1))) or (known[-1] if known else " "), q)
        q = _lead_with(re.sub(r"\s+", " ", q).strip(), known)
        return q.strip() or str(sq["question"])

    @staticmethod
    def _backing(hit: Hit, claim: str, short: str, question: str) -> str | None:
        """A verbatim sentence of the hit's chunk that backs the claim, never one the model was shown as removed; none
        from a passage about another numbered item than the question's ("第12期" for "第13期的嘉宾是谁")."""
        if not names_ordinal(question, f"{hit.title}\n{hit.chunk.text}"):
            return None
        shown = _shown(hit.chunk.text)
        return supporting_sentence(hit.chunk.text, claim, short, shown=shown, exclude=MARKER, given=question,
                                   title=hit.title)

    def _verify(self, hits: list[Hit], named: Any, claim: str, short: str, question: str,
                need: list[str] | None = None) -> tuple[Hit, str] | None:
        """The passage (and sentence) backing a claim: the one the model named, else (small models misnumber
        passages) another shown passage that backs it; with names in ``need``, only a passage (with its title)
        that names one of them."""
        order = [hits[named - 1]] if isinstance(named, int) and 1 <= named <= len(hits) else []
        for hit in order + [h for h in hits if h not in order]:
            if not anchored(f"{hit.title}\n{hit.chunk.text}", need or []):
                continue
            quote = self._backing(hit, claim, short, question)
            if quote is not None:
                return hit, quote
        return None

    @staticmethod
    def _usable(run: _Run, pool: list[Hit], short: str) -> list[Hit]:
        """The pooled passages that may back an answer (``short``): when the question names things (see ``anchors``),
        those naming one of them, or a verified finding on the way (a chain's bridge) other than the answer."""
        need = anchors(run.question)
        if need:
            need += [f.answer for f in run.findings if not mentions(f.answer, short) and not mentions(short, f.answer)]
        return [h for h in pool if anchored(f"{h.title}\n{h.chunk.text}", need)]

    def _cite(self, run: _Run, text: str, short: str, pool: list[Hit]) -> tuple[str, tuple[Citation, ...]]:
        """Check every cited claim against its passage; re-ground a claim whose passage does not back it to one
        that does, drop it when none does; number the citations 1..m in order of appearance."""
        evidence: list[Evidence] = []

        def cite(hit: Hit, quote: str) -> int:
            for e in evidence:
                if e.hit.chunk.id == hit.chunk.id:
                    return e.n
            evidence.append(Evidence(len(evidence) + 1, hit, quote))
            return len(evidence)

        # The answer is about what the question names: a passage that names none of it, nor any verified finding
        # on the way (a chain's bridge) other than the answer itself, does not back it ("A universal remote is a
        # remote control..." for "Aside from the Silver Remote, what other device...?").
        usable = self._usable(run, pool, short)
        ok = {h.chunk.id for h in usable}

        def ground(claim: str, nums: list[int]) -> list[int]:
            got = []
            for n in nums:
                if 1 <= n <= len(pool) and pool[n - 1].chunk.id in ok \
                        and (q := self._backing(pool[n - 1], claim, short, run.question)) is not None:
                    got.append(cite(pool[n - 1], q))
            if not got and (where := self._verify(usable, None, claim, short, run.question)) is not None:
                got.append(cite(*where))  # re-ground: the best-ranked passage that backs the claim
            return list(dict.fromkeys(got))

        text = text.strip()
        if not _MARKER.sub("", text).strip(" \t\n.。"):
            text = short or text  # only markers, no words: the short answer is the claim
        out: list[str] = []
        cited = False
        prev_claim = short
        for a, b in _segments(text):
            seg = text[a:b]
            run_m = _RUN.search(seg)
            if run_m is None:
                out.append(seg)
                continue
            nums = [int(x) for m in _MARKER.finditer(run_m.group(0)) for x in re.split(r"\s*[,，]\s*", m.group(1))]
            claim = (seg[: run_m.start()] + seg[run_m.end():]).strip(" \t\n，,") or prev_claim
            prev_claim = claim
            got = ground(claim, nums)
            if not got:
                continue  # an unverifiable claim is removed
            cited = True
            lead = " " if run_m.group(0)[:1].isspace() else ""
            out.append(seg[: run_m.start()] + lead + "".join(f"[{n}]" for n in got) + seg[run_m.end():])
        result = re.sub(r"[ \t]+", " ", "".join(out)).strip()
        if not cited:
            # Nothing cited verified: back the whole answer by the best-ranked passage that supports it, if any.
            claim = _MARKER.sub("", text).strip()
            got = ground(claim or short, [])
            if not got:
                return claim, ()
            result = claim.rstrip() + " " + "".join(f"[{n}]" for n in got)
        cites = []
        for ev in evidence:
            cites.append(_citation(ev.n, ev.hit, ev.quote))
        # renumber in order of first appearance in the final text
        order = list(dict.fromkeys(int(m) for m in re.findall(r"\[(\d+)\]", result)))
        renum = {old: new for new, old in enumerate(order, 1)}
        result = re.sub(r"\[(\d+)\]", lambda m: f"[{renum[int(m.group(1))]}]", result)
        kept = sorted((Citation(renum[c.n], c.note_id, c.chunk_id, c.title, c.source, c.locator, c.quote)
                       for c in cites if c.n in renum), key=lambda c: c.n)
        return result, tuple(kept)

    def _answer(self, run: _Run, text: str, cites: tuple[Citation, ...], steps: list[Step], found: bool = True,
                short: str = "") -> Answer:
        total = time.perf_counter() - run.started
        return Answer(run.question, text, cites, tuple(steps), short=short, found=found, timings={
            "total_s": round(total, 3), "llm_s": round(run.llm_seconds, 3), "search_s": round(run.search_seconds, 3),
            "llm_calls": run.llm_calls, "searches": run.searches})


def _titled(title: str, name: str) -> bool:
    """Whether a note's title is ``name``, give or take a parenthesis and spelling: "Echo (band)" for "ECHO",
    "Anna Holt" for "Anna Maria Holt", not "Italian language" for "Italian" nor "Great Flood
    casualties" for "Great Flood" (every word of the title, its parenthesis aside, is the name's)."""
    core = re.sub(r"\s*[(（][^)）]*[)）]\s*$", "", title).strip() or title
    if _CJK_CHAR.search(core):
        return mentions(name, core) or mentions(core, name)
    words = {w.lower() for w in re.findall(r"[^\W_]+", core)} - _FILLER_WORDS
    return bool(words) and names_entity(title, name) and words <= {w.lower() for w in re.findall(r"[^\W_]+", name)}


_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_FILLER_WORDS = {"the", "a", "an", "of", "and", "de", "la", "le"}


def _lead_with(query: str, known: list[str]) -> str:
    """A chain hop's query with the latest earlier answer it rests on in front, unless it names one already."""
    if known and not any(mentions(query, a) for a in known):
        return f"{known[-1]} {query}"
    return query


def _citation(n: int, hit: Hit, quote: str) -> Citation:
    assert quote in hit.chunk.text  # never emit an unverifiable quote
    c = hit.chunk
    return Citation(n, c.note_id, c.id, hit.title, hit.source, c.locator, quote)


# the asking words a sub-question ends with, left out where its answer follows ("出生率是多少" → "出生率：7.52‰")
_ASKING = re.compile(r"\s*(?:是|为|有)?(?:多少|什么时候|何时|什么|哪里|哪儿|哪个|哪些|哪一年|几时|谁)\s*$")


def _asks_as(question: str, hop: str, bridges: list[str]) -> bool:
    """Whether a chain's last hop asks what the question asks: at least half of its words, other than the bridges
    it is asked about, are the question's ("What government position was held by #1?" for "What government
    position was held by the woman who ..."); a hop the planner added that the question does not ask
    ("#1 在成都住了几年" for "…来自哪位嘉宾") is not."""
    rest = re.sub(r"#\d+", " ", hop)
    for b in bridges:
        rest = rest.replace(b, " ") if b.strip() else rest
    words = set(tokenize(rest)) - {w for b in bridges for w in tokenize(b)}
    if not words:  # only asking words, which are stopwords ("#1 是做什么的"): the question must say them
        return overlap(rest, question) >= 0.5
    return len(words & set(tokenize(question))) * 2 >= len(words)


def _with_findings(text: str, cites: tuple[Citation, ...], add: list[Finding], lang: str,
                   short: str) -> tuple[str, tuple[Citation, ...], str]:
    """The answer with one cited sentence per added finding, citing the passage it was verified in (a passage
    already cited keeps its number)."""
    out = list(cites)
    sentences = []
    for f in add:
        c = f.hit.chunk
        n = next((x.n for x in out if x.chunk_id == c.id), 0)
        if not n:
            n = len(out) + 1
            out.append(_citation(n, f.hit, f.quote))
        q = _ASKING.sub("", f.question.strip().rstrip("?？。.")) or f.question
        sentences.append(f"{q}：{f.answer} [{n}]。" if lang == "zh" else f"{q}: {f.answer} [{n}].")
    sep = "" if lang == "zh" else " "
    if not short.strip():  # composed from the findings alone: the short answer lists them; else it stays the model's
        short = ("；" if lang == "zh" else "; ").join(f.answer for f in add)
    text = text.strip()
    stops = "。！？.!?；;"
    if text and text[-1] not in stops and _RUN.sub("", text).rstrip()[-1:] not in stops:  # no full stop at the end
        text += "。" if lang == "zh" else "."
    return sep.join(x for x in [text, *sentences] if x), tuple(out), short


_RUN = re.compile(r"(?:\s*\[\d+(?:\s*[,，]\s*\d+)*\])+")
_END = re.compile(rf"{_RUN.pattern}[，,。.；;！!？?]?|(?:[。！？!?；;]|\.(?=\s|$))(?:{_RUN.pattern})?|\n")


@lru_cache(maxsize=256)
def _shown(text: str) -> str:
    """A chunk's text as the model saw it (instruction-like sentences replaced); claims are checked against every
    pooled passage, so each chunk is neutralized once."""
    return neutralize(text)[0]


def _interleave(ranked: list[list[Hit]]) -> list[Hit]:
    """Round-robin over ranked lists (every list's first, then every list's second, ...), each chunk once."""
    out: list[Hit] = []
    seen: set[str] = set()
    for rank in range(max((len(r) for r in ranked), default=0)):
        for r in ranked:
            if rank < len(r) and r[rank].chunk.id not in seen:
                seen.add(r[rank].chunk.id)
                out.append(r[rank])
    return out


def _segments(text: str) -> list[tuple[int, int]]:
    """Claim-sized pieces of an answer: sentences, each with the markers that follow its end."""
    spans, start = [], 0
    for m in _END.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
            start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans
