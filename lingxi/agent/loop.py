"""The agent loop: plan → search → read → (search again) → answer → cite, one generator of typed steps.

Errors caused by the model (replies that do not parse) are stored on a ``Call`` step and retried within the budget;
errors in our own code are raised. Checks and fixes of a run are named repairs (``repairs.py``), switched in
``AgentConfig.repairs``."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from lingxi.agent.cite import MARKS, citation, cite, verify
from lingxi.agent.repairs import REGISTRY, Repair
from lingxi.agent.state import PROMPTS, AgentConfig, Finding, Run, first
from lingxi.agent.steps import Answer, Call, Draft, Gather, Plan, Read, Search, SubQuestion, Token
from lingxi.errors import BadInput, ModelOutputError
from lingxi.llm.chat import ChatModel, Message
from lingxi.llm.jsonstream import FieldText
from lingxi.llm.passages import passage_block
from lingxi.text import adds_nothing, anchors, language_rule, states, states_all, written_in
from lingxi.types import Answer as Result
from lingxi.types import Chunk, Hit, Step

render, template = PROMPTS.render, PROMPTS.template
SearchFn = Callable[[str, int], list[Hit]]
Steps = Generator[Step, None, Any]
NO_EVIDENCE = {"zh": "笔记里没有说：没有找到能回答这个问题的内容。", "en": "The notes don't say: I found nothing in them that answers this."}
FAILED = {"zh": "抱歉，这次没能整理出答案：模型的回复无法解析。",
          "en": "Sorry, I could not put an answer together: the model's replies could not be parsed."}
_SUBQ = {"type": "object", "properties": {"id": {"type": "integer"}, "question": {"type": "string"},
                                          "depends_on": {"type": "array", "items": {"type": "integer"}}},
         "required": ["id", "question", "depends_on"]}
EXTRACT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["found", "answer", "passage", "next_query"],
    "properties": {"found": {"type": "boolean"}, "answer": {"type": "string"}, "passage": {"type": "integer"},
                   "next_query": {"type": "string"}}}
LANGUAGES = {"zh": "Chinese (中文)", "en": "English"}  # as the translate prompts name them
_QUERY: dict[str, Any] = {"type": "object", "required": ["query"], "properties": {"query": {"type": "string"}}}
FINAL_SCHEMA: dict[str, Any] = {  # the agent's answer step, which may ask for one more search
    "type": "object", "required": ["answer", "short_answer", "found", "next_query"],
    "properties": {"answer": {"type": "string"}, "short_answer": {"type": "string"}, "found": {"type": "boolean"},
                   "next_query": {"type": "string"}}}


def interleave(ranked: list[list[Hit]]) -> list[Hit]:
    """Round-robin over ranked lists (every list's first, then every list's second, ...), each chunk once."""
    out: dict[str, Hit] = {}
    for rank in range(max((len(r) for r in ranked), default=0)):
        for r in ranked:
            if rank < len(r):
                out.setdefault(r[rank].chunk.id, r[rank])
    return list(out.values())


class SearchAgent:
    def __init__(self, chat: ChatModel, search: SearchFn, config: AgentConfig | None = None,
                 planner: ChatModel | None = None, around: Callable[[Chunk], list[Chunk]] | None = None) -> None:
        """``planner``: another model for the plan step (a smaller one: it reads no passages). It gets the plan's
        instructions and examples as a message of their own, which a local model keeps in its context from one
        question to the next, so each plan reads only its question. ``around``: a chunk's neighbours in its note
        (the passages read beside a short one)."""
        self.chat, self.search, self.config, self.planner = chat, search, config or AgentConfig(), planner
        self.around = around
        self.repairs: list[Repair] = [REGISTRY[name]() for name in self.config.repairs]

    def ask(self, question: str, on_step: Callable[[Step], None] | None = None) -> Result:
        """The answer, with the steps collected (each passed to ``on_step`` as it happens)."""
        gen = self.run(question)
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if on_step:
                on_step(step)

    def run(self, question: str) -> Generator[Step, None, Result]:
        if not isinstance(question, str) or not question.strip():
            raise BadInput("question is empty")
        if len(question) > 2000:
            raise BadInput(f"question is {len(question)} characters; the limit is 2000")
        run = Run(self, question.strip())
        # seconds from the last read (of a hop's passages, or of the answer's) and from the last search to the
        # first answer text
        last_read = last_search = run.started
        first_text = after_search = None
        for step in self._steps(run):
            if first_text is None and isinstance(step, Token | Answer):
                first_text, after_search = time.perf_counter() - last_read, time.perf_counter() - last_search
            if not isinstance(step, Token):
                run.steps.append(step)
            yield step
            if isinstance(step, Read | Search | Gather):
                last_read = time.perf_counter()
            if isinstance(step, Search):
                last_search = time.perf_counter()
        done = time.perf_counter()
        return Result(run.question, run.text, run.citations, tuple(run.steps), short=run.short, found=run.found,
                      timings={"total_s": round(done - run.started, 3), "llm_calls": run.llm_calls,
                               "llm_s": round(run.llm_seconds, 3), "search_s": round(run.search_seconds, 3),
                               "searches": len(run.queries), "after_read_s": round(done - last_read, 3),
                               "first_text_after_read_s": round(first_text or 0.0, 3),
                               "first_text_after_search_s": round(after_search or 0.0, 3)})

    def _steps(self, run: Run) -> Iterator[Step]:
        yield from self._repair(run, "plan")
        if not run.sub_questions:
            head = render("plan", question="\0", max_subq=self.config.max_subquestions,
                          examples=template(f"plan_examples_{run.lang}").strip())
            head, ask = head[: head.rindex("Question:")].rstrip(), f"Question: {run.question}"
            plan = yield from self.call(run, "plan", ask if self.planner else f"{head}\n\n{ask}", self._plan_schema(),
                                        before=[head] if self.planner else None)
            run.sub_questions = self._parse_plan(plan, run.question)
            yield Plan(sub_questions=tuple(run.sub_questions))
            yield from self._repair(run, "planned")
        yield self.search_step(run, run.question)
        if self.config.translate:
            yield from self.translate(run)
        if len(run.sub_questions) > 1:
            for sq in run.sub_questions:
                if run.exhausted():
                    yield Call(step="read", error=f"budget exhausted before sub-question {sq.id}")
                    break
                yield from self._hop(run, sq)
        elif run.sub_questions[0].question not in run.queries:
            yield self.search_step(run, run.sub_questions[0].question)
        yield from self._repair(run, "pool")
        ends = [f for sq in run.wanted() for f in run.findings if f.sq_id == sq.id]
        if self.config.early_stop and len(run.sub_questions) > 1 and len(ends) >= len(run.wanted()) and \
                self.findings_answer(run):
            self.compose(run, ends, short=ends[-1].answer if len(ends) == 1 else "")
        else:
            yield from self._answer(run)
        yield from self._repair(run, "answer")
        if not run.found:
            failed = any(isinstance(s, Call) and s.step == "answer" for s in run.steps) and \
                not any(isinstance(s, Draft) for s in run.steps)
            run.text, run.citations = (FAILED if failed else NO_EVIDENCE)[run.lang], ()
        yield Answer(answer=run.text, short_answer=run.short, citations=len(run.citations), found=run.found)

    @staticmethod
    def findings_answer(run: Run) -> bool:
        """Whether the wanted sub-questions' findings are the answer itself: a chain's last hop, the user's own
        questions, or one question asked of several items. Parallel sub-questions of the model's plan may be parts
        of one question (a comparison: "which is longer, A or B?" is neither length), so the answer step reads
        them."""
        source = next((s.source for s in reversed(run.steps) if isinstance(s, Plan)), "model")
        return len(run.wanted()) == 1 or source != "model"

    def translate(self, run: Run) -> Iterator[Step]:
        """When a hit of the question's search is written in another language than the question (a Chinese question
        over English notes, or the reverse), the question is searched once more as the model writes it in that
        language (asked once more, told the language it wrote, when it hands the query back in the question's own),
        and the two searches' hits are read as one (round-robin)."""
        other = {written_in(f"{h.title} {h.chunk.text}") for h in run.results[0]} - {run.lang}
        if not other or run.exhausted():
            return
        target, query = LANGUAGES[other.pop()], ""
        for prompt in ("translate", "translate_again"):  # a query handed back in its own language is asked for again
            got = yield from self.call(run, "translate", render(prompt, query=run.question, language=target,
                                                                source=LANGUAGES[run.lang]), _QUERY)
            query = str((got or {}).get("query") or "").strip()
            if not query or written_in(query) != run.lang or run.exhausted():
                break
        if query and query not in run.queries and written_in(query) != run.lang:
            yield self.search_step(run, query)
            run.results[0] = interleave([run.results[0], run.results.pop()])

    def _repair(self, run: Run, stage: str) -> Iterator[Step]:
        for r in self.repairs:
            if r.stage == stage and r.applies(run):
                yield from r.apply(run)

    def _hop(self, run: Run, sq: SubQuestion) -> Iterator[Step]:
        """Search for a sub-question (its answers so far put in) and read its best passages; a read that does not
        verify searches once more, with the query the model suggests from what it read."""
        known = [run.answers[d] for d in sq.depends_on if d in run.answers]
        query = re.sub(r"#(\d+)", lambda m: run.answers.get(int(m.group(1))) or (known[-1] if known else " "),
                       sq.question)
        query = lead_with(re.sub(r"\s+", " ", query).strip(), known) or sq.question
        if len(known) < len(sq.depends_on):  # an earlier hop found nothing: searched, read by the answer step
            if query not in run.queries:
                yield self.search_step(run, query)
            return
        seen: set[str] = set()
        for _ in range(self.config.searches_per_subquestion):
            yield self.search_step(run, query)
            hits = first([h for h in interleave(run.results[-1:] + run.results[:1]) if h.chunk.id not in seen],
                         self.config.read_k)
            seen.update(h.chunk.id for h in hits)
            if not hits or run.exhausted():
                return
            # the user's own question reads as asked; a later one resting on no earlier answer may leave out what
            # the first names (a Chinese question drops the subject its first sentence set): the whole question beside it
            reply = yield from self.read(run, hits, query, sq, context=not sq.asked or (sq.id > 1 and not sq.depends_on))
            yield from self._repair(run, "read")
            if sq.id in run.answers or reply is None:
                return
            nxt = str(reply.get("next_query") or "").strip()
            query = lead_with(nxt if nxt and nxt not in run.queries else f"{query} {run.question}", known)

    def read(self, run: Run, hits: list[Hit], asked: str, sq: SubQuestion, context: bool = True,
             need: list[str] | None = None) -> Steps:
        """One read of ``hits`` for ``asked``; a verified answer becomes ``sq``'s finding. A hop resting on one
        other verifies only in a passage naming that one's answer, and never with that answer handed back; a first
        hop, in one naming what the question or the hop names. Returns the model's reply (None when it never
        parsed)."""
        ctx = render("extract_context", main=run.question) + "\n" if context else ""
        nums = self.shelve(run, hits)
        if nums:
            prompt = render("extract_room", context=ctx, question=asked, ids=", ".join(map(str, nums)), first=nums[0])
        else:
            passages = "\n\n".join(passage_block(i, h, self.config.passage_chars) for i, h in enumerate(hits, 1))
            prompt = render("extract", context=ctx, question=asked, passages=passages)
        got = yield from self.call(run, "read", prompt, EXTRACT_SCHEMA, room=bool(nums))
        if got is None:
            return None
        answer = str(got["answer"]).strip()
        named, seen = got.get("passage"), hits
        if nums and isinstance(named, int):  # the room's number of a passage, to this read's own
            if named in nums:
                named = nums.index(named) + 1
            elif 1 <= named <= len(run.room):  # one an earlier read shelved, still in front of the model
                seen, named = [run.room[named - 1]] + hits, 1
        if need is None:
            need = [run.answers[sq.depends_on[0]]] if len(sq.depends_on) == 1 and sq.depends_on[0] in run.answers \
                else anchors(run.question) + anchors(sq.question) if not sq.depends_on else []
        # an answer that only hands back what the hop rests on ("林舟是林舟" asked what 林舟 does) found nothing
        echo = any(adds_nothing(answer, run.answers[d], asked) for d in sq.depends_on if d in run.answers)
        where = verify(seen, named, answer, answer, asked, need) if got["found"] and answer and not echo else None
        found = Finding(sq.id, asked, answer, *where) if where else None
        if found:
            run.answers[sq.id] = answer
            run.findings = [f for f in run.findings if f.sq_id != sq.id] + [found]
        run.last_read = (sq, hits, found)
        yield Read(question=asked, answer=answer, found=bool(got["found"]), verified=found is not None,
                   chunk_ids=tuple(h.chunk.id for h in hits), quote=found.quote if found else "", sub_question=sq.id)
        return got

    def pool(self, run: Run) -> list[Hit]:
        """Passages for the answer: those a finding was verified in, then round-robin over the searches."""
        found = [dataclasses.replace(f.hit, signals={}) if "beside" in f.hit.signals else f.hit for f in run.findings]
        return first(interleave([found] + run.results), self.config.answer_k)  # a passage verified counts as ranked

    def _answer(self, run: Run, note: str = "") -> Iterator[Step]:
        """The answer step over the pool; when the model says the passages do not answer, one more search for what
        it says is missing, and answer again."""
        for rnd in range(self.config.answer_rounds):
            final = yield from self.answer_once(run, self.pool(run), note, force=rnd == 0)
            nxt = str((final or {}).get("next_query") or "").strip()
            if final is None or run.found or not nxt or nxt in run.queries or run.exhausted():
                return
            yield self.search_step(run, nxt, first=True)

    def answer_once(self, run: Run, pool: list[Hit], note: str = "", force: bool = False) -> Steps:
        """One answer call over ``pool``; the answer stands when a claim of it verified. Returns the reply."""
        if not pool:
            return None
        findings = "".join(f"- {f.question}: {f.answer}\n" for f in run.findings)
        found = (f"\nAlready found (verified in the notes):\n{findings}" if findings else "") + \
            (f"\n{note}\n" if note else "")
        nums = self.shelve(run, pool)
        gathered = tuple({"n": n, "title": h.title, "locator": h.chunk.locator.label()}
                         for n, h in zip(nums or range(1, len(pool) + 1), pool))
        t = time.perf_counter()
        if nums:  # the model reads the passages new to it now, so the answer call reads only its instructions
            self.chat.prepare(self.messages(run, room=True))
        run.llm_seconds += time.perf_counter() - t
        yield Gather(passages=gathered, chunk_ids=tuple(h.chunk.id for h in pool), seconds=time.perf_counter() - t)
        if nums:
            prompt = render("answer_room", question=run.question, language_rule=language_rule(run.question),
                            findings=found, ids=", ".join(map(str, nums)), first=nums[0])
            pool = list(run.room)  # the answer's [n] are the room's numbers
        else:
            prompt = render("answer", question=run.question, language_rule=language_rule(run.question),
                            findings=found, passages="\n\n".join(passage_block(i, h, self.config.passage_chars)
                                                                 for i, h in enumerate(pool, 1)))
        final = yield from self.call(run, "answer", prompt, FINAL_SCHEMA, force=force, room=bool(nums), stream="answer")
        if final is None:
            return None
        said = str(final["short_answer"]).strip()
        checked = cite(str(final["answer"]), said, pool, run.question, whole=bool(final["found"]))
        yield Draft(answer=str(final["answer"]), short_answer=said, found=bool(final["found"]),
                    cited=len(checked.citations))
        if checked.citations:
            run.text, run.citations, run.found, run.composed = checked.text, checked.citations, True, False
            bare = MARKS.sub("", checked.text)
            run.short = said if said and states_all(bare, said) else bare.strip()
            cited = [h for h in pool if h.chunk.id in {c.chunk_id for c in run.citations}]
            if said and not states_all(bare, said) and not states(run.question, said) and \
                    (where := verify(cited, None, said, said, run.question)):
                self.compose(run, [Finding(0, run.question, said, *where)], short=said, keep=True)
        return final

    def compose(self, run: Run, findings: list[Finding], short: str = "", keep: bool = False) -> None:
        """The answer as its verified findings, one cited sentence each (after the answer so far with ``keep``)."""
        cites = list(run.citations if keep else ())
        parts = []
        for f in findings:
            n = next((c.n for c in cites if c.chunk_id == f.hit.chunk.id), 0) or len(cites) + 1
            if n > len(cites):
                cites.append(citation(n, f.hit, f.quote))
            parts.append(f"{f.answer} [{n}]")
        zh = run.lang == "zh"
        body = ("；" if zh else "; ").join(parts) + ("。" if zh else ".")
        head = run.text.strip() if keep else ""
        if head and head[-1] not in "。！？.!?；;":
            head += "。" if zh else "."
        run.text = ("" if zh else " ").join(x for x in (head, body) if x)
        run.citations, run.found, run.composed = tuple(cites), True, not keep
        run.short = short or ("；" if zh else "; ").join(f.answer for f in findings)

    def search_step(self, run: Run, query: str, first: bool = False) -> Search:
        """One search, its hits kept for the pool (``first``: leading it)."""
        t = time.perf_counter()
        hits = self.search(query, self.config.k)
        shown, hits = hits, self.beside(hits)
        dt = time.perf_counter() - t
        run.search_seconds += dt
        run.queries.add(query)
        run.results.insert(0, hits) if first else run.results.append(hits)
        return Search(query=query, hits=tuple({"title": h.title, "locator": h.chunk.locator.label(),
                                               "chunk_id": h.chunk.id} for h in shown), seconds=dt)

    def beside(self, hits: list[Hit]) -> list[Hit]:
        """Each hit shorter than ``config.context_chars`` with its note's passages before and after it, in the
        note's order, marked as read beside it (a chapter heading alone cannot say what the chapter says)."""
        if self.around is None or self.config.context_chars <= 0:
            return hits
        have, out = {h.chunk.id for h in hits}, []
        for h in hits:
            if len(h.chunk.text.strip()) >= self.config.context_chars:
                out.append(h)
                continue
            near = [c for c in self.around(h.chunk) if c.id not in have]
            have.update(c.id for c in near)
            tag = [dataclasses.replace(h, chunk=c, signals={"beside": h.chunk.id}, snippet="") for c in near]
            out += [x for x in tag if x.chunk.ord < h.chunk.ord] + [h] + [x for x in tag if x.chunk.ord > h.chunk.ord]
        return out

    def shelve(self, run: Run, hits: list[Hit]) -> list[int] | None:
        """With the reading room on, the room's numbers of ``hits``, those not in it yet added as one more batch of
        passages; None when the room is off or would outgrow the model's context (the call shows its own)."""
        if not self.config.room or not hits:
            return None
        have = {h.chunk.id: n for n, h in enumerate(run.room, 1)}
        new = [h for h in hits if h.chunk.id not in have]
        if new:
            first = len(run.room) + 1
            batch = render("room", first=first, last=first + len(new) - 1, passages="\n\n".join(
                passage_block(n, h, self.config.passage_chars) for n, h in enumerate(new, first)))
            size = self.chat.count_tokens(batch)
            if run.room_tokens + size > self.chat.context - self.config.room_reserve:
                return None
            run.room.extend(new)
            run.room_batches.append(batch)
            run.room_tokens += size
            have.update((h.chunk.id, n) for n, h in enumerate(new, first))
        return [have[h.chunk.id] for h in hits]

    def call(self, run: Run, kind: str, prompt: str, schema: dict[str, Any], force: bool = False,
             room: bool = False, before: list[str] | None = None, stream: str = "") -> Steps:
        """One structured model call with retries; a reply that does not parse is a ``Call`` step, never raised.
        With ``room``, the reading room's batches of passages come before the prompt, each its own message, so a
        model that keeps earlier messages in its context reads them once per run (``before``: other messages
        before the prompt). With ``stream``, the text of that field of the reply is yielded as ``Token`` steps
        while the model writes it."""
        model = self.planner if kind == "plan" and self.planner is not None else self.chat
        tasks = kind != "plan"  # the planner reads no passages: the steps' tasks are not its own
        fixed = self.messages(run, False, before, tasks)
        model.pin(fixed)  # the same for every run: a local model keeps its context after them on disk
        messages = self.messages(run, room, before, tasks) + [{"role": "user", "content": prompt}]
        for attempt in range(1, 2 + self.config.retries):
            if run.exhausted() and not (force and attempt == 1):
                yield Call(step=kind, attempt=attempt, error="budget exhausted before the model call")
                return None
            t = time.perf_counter()
            run.llm_calls += 1
            try:
                if not stream:
                    return model.complete_json(messages, schema, max_tokens=300)
                text = FieldText(stream)
                for piece in model.stream(messages, schema=schema, max_tokens=300):
                    if new := text.feed(piece):
                        yield Token(text=new)
                return model.parse_json(text.raw, schema)
            except ModelOutputError as e:
                yield Call(step=kind, attempt=attempt, error=str(e), seconds=time.perf_counter() - t)
            finally:
                run.llm_seconds += time.perf_counter() - t
        return None

    @staticmethod
    def messages(run: Run, room: bool = False, before: list[str] | None = None, tasks: bool = True) -> list[Message]:
        """The messages a call's prompt follows: the system prompt, ``before``, and with ``room`` the reading room's
        batches of passages. The "tasks" prompt, when not empty, describes the steps in the system prompt, which a
        local model keeps from call to call, so that the requests after the room can be short; it is empty by
        default: on dev, short requests answered worse (docs/BENCHMARKS.md, "Stop 44"; bench/prompts/ holds the
        variants). The planner's system prompt never has the tasks (``tasks`` False)."""
        steps = template("tasks") if tasks else ""
        system = template("system") + (f"\n\n{steps}" if steps else "")
        messages: list[Message] = [{"role": "system", "content": system}]
        return messages + [{"role": "user", "content": b} for b in (before or []) + (run.room_batches if room else [])]

    def _plan_schema(self) -> dict[str, Any]:
        return {"type": "object", "required": ["sub_questions"], "properties": {
            "sub_questions": {"type": "array", "maxItems": self.config.max_subquestions, "items": _SUBQ}}}

    def _parse_plan(self, plan: dict[str, Any] | None, question: str) -> list[SubQuestion]:
        out: list[SubQuestion] = []
        for sq in ((plan or {}).get("sub_questions") or [])[: self.config.max_subquestions]:
            q = str(sq.get("question", "")).strip()
            if q and all(q != o.question for o in out):
                i = len(out) + 1  # depends on what it declares and the #k it writes (small models forget one)
                named = [d for d in sq.get("depends_on", []) if isinstance(d, int)] + [int(k) for k in re.findall(r"#(\d+)", q)]
                out.append(SubQuestion(i, q, tuple(sorted({d for d in named if 0 < d < i}))))
        return out if len(out) > 1 else [SubQuestion(1, question)]


def lead_with(query: str, known: list[str]) -> str:
    """A hop's query with the latest answer it rests on in front, unless it names one already."""
    return f"{known[-1]} {query}" if known and not any(states(query, a) for a in known) else query
