"""Named repairs: each looks at a run at one stage (``applies``) and may change it, yielding its steps (``apply``).

Stages: ``plan`` (before the model plans: may plan instead), ``planned`` (after the plan), ``read`` (after a hop's
read), ``pool`` (before the answer step), ``answer`` (after it). Which run is ``AgentConfig.repairs`` (CLI
``--repairs``, env ``LINGXI_AGENT_REPAIRS``); each has an on/off row in docs/BENCHMARKS.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from lingxi.agent.cite import MARKS
from lingxi.agent.state import PROMPTS, Run, first
from lingxi.agent.steps import Draft, Fix, Plan, SubQuestion
from lingxi.text import anchors, names, numbers, restates, states
from lingxi.types import Step


class Repair:
    name: ClassVar[str]
    stage: ClassVar[str]

    def applies(self, run: Run) -> bool:
        raise NotImplementedError

    def apply(self, run: Run) -> Iterator[Step]:
        raise NotImplementedError


_OPEN, _CLOSE = "“‘《「『(（\"", "”’》」』)）\""
_PRONOUN = re.compile(r"他们|她们|他|她|它|\b(?:he|she|they|him|her|them|his|their|its?)\b", re.I)


def sentences(question: str) -> list[str]:
    """The question cut after each question mark that is not inside quotes or a title."""
    out, start, depth = [], 0, 0
    for i, ch in enumerate(question):
        if ch in _OPEN and not (ch == '"' and depth):
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        elif depth == 0 and ch in "?？":
            out.append(question[start: i + 1].strip())
            start = i + 1
    out.append(question[start:].strip())
    return [s for s in out if len(re.sub(r"\W", "", s)) >= 2]


class SplitAsks(Repair):
    """A question written as several ("Who wrote Dune? Where was he born?") is planned by its sentences, each asked;
    a later one's pronoun stands for the answer to the one before it ("#1")."""
    name, stage = "split_asks", "plan"

    def applies(self, run: Run) -> bool:
        return 2 <= len(sentences(run.question)) <= run.config.max_subquestions

    def apply(self, run: Run) -> Iterator[Step]:
        out: list[SubQuestion] = []
        parts = sentences(run.question)
        for i, text in enumerate(parts, 1):
            m = _PRONOUN.search(text) if i > 1 else None
            deps: tuple[int, ...] = ()
            if m and m.group(0).lower() in ("it", "its", "它"):  # what an earlier question names ("Jaws", 《三体》)
                name = next((a[0] for p in parts[: i - 1][::-1] for a in [anchors(p)] if a), "")
                if name:
                    text = f"{text[: m.start()]}{name}{'’s' if m.group(0).lower() == 'its' else ''}{text[m.end():]}"
            elif m:  # a person: the answer to the question before
                own = "’s" if m.group(0).lower() in ("his", "their") else ""
                text, deps = f"{text[: m.start()]}#{i - 1}{own}{text[m.end():]}", (i - 1,)
            out.append(SubQuestion(i, text.rstrip("？? ").strip(), deps, asked=True))
        run.sub_questions = out
        yield Plan(sub_questions=tuple(out), source=self.name)


# an English question's second ask follows a comma and "and" ("…, and roughly how far …"); without the comma "and
# who/whose" opens a relative clause ("the painter of X and who lived in Y")
_AND_ASKS = re.compile(r",\s*and\s+(?:(?:about|roughly|approximately|exactly|also|then|in|at|on|for)\s+)?"
                       r"(?:what|which|who|whom|whose|where|when|why|how)\b", re.I)
# a Chinese clause asks when it holds a question word that does not open a noun phrase ("讲为什么要早起的那本书")
_ZH_ASKS = re.compile(r"(?:什么|哪|谁|几(?!乎)|多少|多久|多长|多远|怎么|怎样|为什么|(?<!任)何|吗)(?![^，,；;：:]*的[\u4e00-\u9fff])")
_CLAUSE = re.compile(r"[，,；;：:]")


def asks(question: str) -> int:
    """How many things one sentence of a question asks for: an English question one more than its ", and" +
    question word ("Who built the bridge, and when did it open?" asks two); a Chinese one, the clauses that ask."""
    if _AND_ASKS.search(question):
        return 1 + len(_AND_ASKS.findall(question))
    return max(1, sum(bool(_ZH_ASKS.search(c)) for c in _CLAUSE.split(question)))


class AskedParts(Repair):
    """A question that asks for several things in one sentence, planned by the model as one sub-question a thing:
    each is the user's own (its answer belongs in the answer) — a small model chains them (the opening year planned
    as resting on the builder) and the answer then says only the last. A part rests on another only where it names
    that one's answer (#k) or stands for it by a pronoun ("when did she retire")."""
    name, stage = "asked_parts", "planned"

    def applies(self, run: Run) -> bool:
        subqs = run.sub_questions
        return len(subqs) > 1 and not any(sq.asked for sq in subqs) and len(sentences(run.question)) == 1 \
            and asks(run.question) == len(subqs)

    def apply(self, run: Run) -> Iterator[Step]:
        out = [SubQuestion(sq.id, sq.question, sq.depends_on if re.search(r"#\d", sq.question) or
                           _PRONOUN.search(sq.question) else (), asked=True) for sq in run.sub_questions]
        run.sub_questions = out
        yield Plan(sub_questions=tuple(out), source=self.name)


_ASKS_NUMBER = re.compile(
    r"\b(?:what|which)\s+(?:year|decade|century|date|month|day|percentage|number|amount|age)\b|\bhow\s+(?:many|much"
    r"|old|long|far|tall|high|big|large)\b|^\s*when\b|多少|几[个年月日号次位名岁天倍家场届]|哪一?年|什么时候|何时|多久", re.I)


def asks_number(question: str) -> bool:
    return bool(_ASKS_NUMBER.search(question))


class NumberAnswer(Repair):
    """A chain's question asking for a number (a year, a count, a date) answered without one: the small model
    stopped at the bridge. A hop's verified number answers it; else the question is searched with the name the
    answer gave and read once for the number."""
    name, stage = "number_answer", "answer"

    def applies(self, run: Run) -> bool:
        return run.found and asks_number(run.question) and not numbers(run.short) and not run.exhausted() \
            and any(sq.depends_on for sq in run.sub_questions) and not any(sq.asked for sq in run.sub_questions)

    def apply(self, run: Run) -> Iterator[Step]:
        name = run.short
        yield Fix(name=self.name, reason="the question asks for a number", change=name)
        got = next((f for f in run.findings[::-1] if numbers(f.answer)), None)
        if got is None:
            end = run.ends()[-1]
            query = f"{name} {run.question}"
            yield run.agent.search_step(run, query, first=True)
            yield from run.agent.read(run, first(run.results[0], run.config.read_k), f"{run.question} ({name})", end,
                                      context=False, need=[name])
            read = run.last_read[2] if run.last_read else None
            got = read if read is not None and numbers(read.answer) else None
        if got is not None:
            run.agent.compose(run, [got], short=got.answer)


_CHOICE = re.compile(r"\bor\b|还是|或", re.I)  # a question offering choices is answered by one of them


def _bare(answer: str) -> str:
    return MARKS.sub("", answer).strip(" .。")


class EchoAnswer(Repair):
    """An answer that only says what the question says (it names the person the question asks about, not the one
    asked for), or a draft that did and so held no citation: the answer step is asked once more, told so. The new
    answer stands when it is cited and says more than the question; else the latest verified finding that does is
    the answer, and without one the first answer stays."""
    name, stage = "echo_answer", "answer"

    @staticmethod
    def echo(run: Run) -> str:
        text = run.text if run.found else next((s.answer for s in reversed(run.steps) if isinstance(s, Draft)), "")
        bare = _bare(text)
        return bare if bare and not run.composed and restates(run.question, bare) and \
            not _CHOICE.search(run.question) else ""

    def applies(self, run: Run) -> bool:
        return bool(self.echo(run)) and not run.exhausted()

    def apply(self, run: Run) -> Iterator[Step]:
        bare = self.echo(run)
        yield Fix(name=self.name, reason="the answer only repeats the question", change=bare)
        before = (run.text, run.citations, run.short, run.found)
        run.found = False
        yield from run.agent.answer_once(run, run.agent.pool(run), PROMPTS.render("echo_note", answer=bare), force=True)
        if run.found and not restates(run.question, _bare(run.text)):
            return
        run.text, run.citations, run.short, run.found = before
        if own := [f for f in run.findings if not restates(run.question, f.answer)]:
            run.agent.compose(run, own[-1:])  # still an echo: the latest verified finding says more than it


class UnstatedParts(Repair):
    """Verified findings the answer does not state: each asked part (of a question in parts, or written as several)
    is added as its own cited sentence; a chain's answer that is not its last hop's verified finding is replaced by
    that finding (a read of the hop's own passages is more reliable than a small model over all of them)."""
    name, stage = "unstated_parts", "answer"

    def missing(self, run: Run) -> list:  # type: ignore[type-arg]
        said = re.sub(r"\[\d+\]", "", run.text) if run.found else ""
        subqs = run.sub_questions
        if len(subqs) > 1 and all(not sq.depends_on or sq.asked for sq in subqs):
            return [f for f in run.findings if not states(said, f.answer)]
        ends = {sq.id for sq in run.ends() if sq.depends_on}
        last = [f for f in run.findings if f.sq_id in ends and not restates(run.question, f.answer)]
        return last[-1:] if last and run.short and not names(said, last[-1].answer) else []

    def applies(self, run: Run) -> bool:
        return not run.composed and bool(self.missing(run))

    def apply(self, run: Run) -> Iterator[Step]:
        add = self.missing(run)
        parts = all(not sq.depends_on or sq.asked for sq in run.sub_questions)
        yield Fix(name=self.name, reason="a part the answer leaves out" if parts else "the chain's last hop",
                    change="; ".join(f.answer for f in add))
        if parts:
            run.agent.compose(run, add, short=run.short if run.found else "", keep=run.found)
        else:
            run.agent.compose(run, add, short=add[-1].answer)


REGISTRY: dict[str, type[Repair]] = {r.name: r for r in (SplitAsks, AskedParts, EchoAnswer, UnstatedParts,
                                                          NumberAnswer)}
