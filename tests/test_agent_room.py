"""The agent's reading room: every passage a run reads is shown once, in its own message before the ask, numbered once
for the whole run; asks refer to those numbers and citations resolve through them."""

from __future__ import annotations

import re

from lingxi.agent import REPAIRS, AgentConfig, SearchAgent
from lingxi.agent.steps import Gather, Read

from fakes import ScriptedChat, passage_with


def numbered(messages):
    """Passage number -> text, over every message (the room is in front of the ask)."""
    out = {}
    for m in messages:
        for n, body in re.findall(r'<passage id="(\d+)"[^>]*>\n(.*?)\n</passage>', m["content"], re.S):
            assert int(n) not in out, f"passage {n} shown twice"
            out[int(n)] = body
    return out


def cite(needle):
    def pick(messages):
        return next(n for n, body in numbered(messages).items() if needle in body)
    return pick


def read(needle, answer):
    return lambda m: {"found": True, "answer": answer, "passage": cite(needle)(m), "next_query": ""}


def run(lib, replies, **cfg):
    chat = ScriptedChat(replies)
    agent = SearchAgent(chat, lambda q, k: lib.search(q, k=k, per_note=3),
                        AgentConfig(repairs=REPAIRS, room=True, **cfg))
    return agent.ask("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？"), chat


def test_each_passage_is_shown_once_per_run_and_every_call_extends_the_same_messages(demo_lib):
    def final(m):
        a, b = cite("嘉宾林舟的建议")(m), cite("林舟是一位旅行作家")(m)
        return {"found": True, "short_answer": "林舟，旅行作家", "answer": f"是林舟的建议[{a}]，她是一位旅行作家[{b}]。",
                "next_query": ""}

    ans, chat = run(demo_lib, [read("嘉宾林舟的建议", "林舟"), read("林舟是一位旅行作家", "旅行作家"), final],
                    early_stop=False)
    first, second, answer = chat.sent
    assert first[0]["role"] == "system" and "<passage" not in first[-1]["content"]
    # every later call starts with the earlier call's messages before its ask, unchanged
    assert second[: len(first) - 1] == first[:-1] and answer[: len(second) - 1] == second[:-1]
    assert "<passage" not in answer[-1]["content"] and "passages above" in answer[-1]["content"]
    # numbers are the run's: the second read's new passages continue after the first read's
    assert sorted(numbered(answer)) == list(range(1, len(numbered(answer)) + 1))
    assert min(numbered(second[len(first) - 1: -1])) == max(numbered(first)) + 1
    reads = [s for s in ans.steps if isinstance(s, Read)]
    assert [(r.answer, r.verified) for r in reads] == [("林舟", True), ("旅行作家", True)]
    gather = next(s for s in ans.steps if isinstance(s, Gather))
    assert all(1 <= p["n"] <= len(numbered(answer)) for p in gather.passages)
    # the answer's [n] are the room's numbers, renumbered in the answer; quotes verbatim from the cited chunks
    assert ans.answer == "是林舟的建议[1]，她是一位旅行作家[2]。"
    assert ans.citations[1].quote == "本期嘉宾林舟是一位旅行作家，在成都住了五年。"
    for c in ans.citations:
        assert c.quote in demo_lib.store.get_chunks([c.chunk_id])[0].text


def test_a_read_may_name_a_passage_an_earlier_read_shelved(demo_lib):
    from lingxi.agent.state import Run
    from lingxi.agent.steps import SubQuestion

    writer = next(h for h in demo_lib.search("林舟 旅行作家", k=6, per_note=3) if "林舟是一位旅行作家" in h.chunk.text)
    others = [h for h in demo_lib.search("熊猫 上午 活跃", k=6, per_note=3) if h.chunk.id != writer.chunk.id][:2]
    chat = ScriptedChat([{"found": True, "answer": "旅行作家", "passage": 1, "next_query": ""}])
    agent = SearchAgent(chat, lambda q, k: [], AgentConfig(repairs=(), room=True))
    r = Run(agent, "林舟是做什么的？")
    assert agent.shelve(r, [writer]) == [1]
    sq = SubQuestion(1, "林舟是做什么的")
    steps = list(agent.read(r, others, sq.question, sq, need=[]))
    assert "Read passages 2, 3 above" in chat.sent[0][-1]["content"]
    assert len(numbered(chat.sent[0])) == 3  # the earlier batch is still in front of the reader
    assert isinstance(steps[-1], Read) and steps[-1].verified
    assert r.findings[0].hit.chunk.id == writer.chunk.id
    assert steps[-1].chunk_ids == tuple(h.chunk.id for h in others)  # what this read was given


def test_a_room_that_would_outgrow_the_context_shows_passages_in_the_ask(demo_lib):
    class Small(ScriptedChat):
        context = 1200  # less than the reserve plus one batch: the room never opens

    chat = Small([read("嘉宾林舟的建议", "林舟"), read("林舟是一位旅行作家", "旅行作家")])
    agent = SearchAgent(chat, lambda q, k: demo_lib.search(q, k=k, per_note=3),
                        AgentConfig(repairs=REPAIRS, room=True))
    ans = agent.ask("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？")
    assert all(len(sent) == 2 and "<passage" in sent[-1]["content"] for sent in chat.sent)
    assert ans.short == "林舟；旅行作家"


def test_the_room_is_on_unless_switched_off(monkeypatch):
    monkeypatch.delenv("LINGXI_AGENT_ROOM", raising=False)
    assert AgentConfig().room is True
    monkeypatch.setenv("LINGXI_AGENT_ROOM", "0")
    assert AgentConfig().room is False


def test_a_planner_model_writes_the_plan_with_its_instructions_as_a_message_every_question_shares(demo_lib):
    planner = ScriptedChat([{"sub_questions": []}, {"sub_questions": []}])
    nothing = {"found": False, "short_answer": "", "answer": "", "next_query": ""}
    chat = ScriptedChat([nothing, nothing])
    agent = SearchAgent(chat, lambda q, k: demo_lib.search(q, k=k, per_note=3),
                        AgentConfig(repairs=(), answer_rounds=1), planner=planner)
    agent.ask("熊猫一般什么时候最活跃？")
    agent.ask("去成都要带什么？")
    assert planner.calls == 2 and chat.calls == 2  # the plans by the planner, the answers by the chat model
    first, second = planner.sent
    assert len(first) == 3 and first[:2] == second[:2] and second[-1]["content"] == "Question: 去成都要带什么？"
    assert "Break the question into the searches" in first[1]["content"]
    # without a planner the chat model plans from one message holding the same text
    alone = ScriptedChat([{"sub_questions": []}, nothing])
    SearchAgent(alone, lambda q, k: demo_lib.search(q, k=k, per_note=3),
                AgentConfig(repairs=(), answer_rounds=1)).ask("去成都要带什么？")
    assert alone.sent[0][1]["content"] == f'{second[1]["content"]}\n\n{second[2]["content"]}'


def test_the_planner_is_configured_by_name(tmp_path, monkeypatch):
    from lingxi import Library, Settings
    from lingxi.llm.chat import LocalChatModel

    monkeypatch.setenv("LINGXI_AGENT_PLANNER", "qwen2.5-coder-0.5b")
    lib = Library(Settings.load(tmp_path / "home", threads=1))
    other = Library(Settings.load(tmp_path / "home-b", threads=1))  # another store, as per-question evals make
    try:
        planner = lib.planner(ScriptedChat([]))
        assert planner is not None and planner.name.startswith("local:") and "0.5b" in planner.name
        assert lib.agent(ScriptedChat([])).planner is planner
        assert other.planner(ScriptedChat([])) is planner  # one per process: its context outlives each store
    finally:
        lib.close()
        other.close()
    monkeypatch.setenv("LINGXI_AGENT_PLANNER", "off")
    lib = Library(Settings.load(tmp_path / "home2", threads=1))
    local = LocalChatModel(tmp_path / "model.gguf", threads=1)  # not loaded: forking reads nothing
    assert lib.planner(local) is None and lib.agent(local).planner is None
    lib.close()
    monkeypatch.delenv("LINGXI_AGENT_PLANNER")  # by default: a second context of the chat model, where it has one
    lib = Library(Settings.load(tmp_path / "home3", threads=1))
    fork = lib.planner(local)
    assert isinstance(fork, LocalChatModel) and fork is not local and fork is lib.planner(local)
    assert fork.model_path == local.model_path and fork.threads == local.threads and fork.context == local.context
    assert lib.planner(ScriptedChat([])) is None  # a model without a context of its own plans for itself
    lib.close()


def test_the_answer_step_streams_its_text_while_it_is_written(demo_lib):
    from lingxi.agent.steps import Draft, Token

    def final(m):
        a, b = cite("嘉宾林舟的建议")(m), cite("林舟是一位旅行作家")(m)
        return {"found": True, "short_answer": "林舟，旅行作家", "answer": f'是林舟的建议[{a}]，她是一位"旅行作家"[{b}]。',
                "next_query": ""}

    chat = ScriptedChat([read("嘉宾林舟的建议", "林舟"), read("林舟是一位旅行作家", "旅行作家"), final])
    agent = SearchAgent(chat, lambda q, k: demo_lib.search(q, k=k, per_note=3),
                        AgentConfig(repairs=REPAIRS, room=True, early_stop=False))
    seen = []
    ans = agent.ask("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？", seen.append)
    tokens = [s for s in seen if isinstance(s, Token)]
    draft = next(s for s in ans.steps if isinstance(s, Draft))
    assert len(tokens) > 3 and "".join(t.text for t in tokens) == draft.answer  # escapes decoded
    assert not any(isinstance(s, Token) for s in ans.steps)  # streamed, not kept
    assert seen.index(tokens[0]) < seen.index(draft)
    assert 0 <= ans.timings["first_text_after_read_s"] <= ans.timings["total_s"]


def test_the_model_reads_the_answers_passages_before_the_answer_call(demo_lib):
    def final(m):
        a, b = cite("嘉宾林舟的建议")(m), cite("林舟是一位旅行作家")(m)
        return {"found": True, "short_answer": "林舟，旅行作家", "answer": f"是林舟的建议[{a}]，她是一位旅行作家[{b}]。",
                "next_query": ""}

    seen: list = []
    chat = ScriptedChat([read("嘉宾林舟的建议", "林舟"), read("林舟是一位旅行作家", "旅行作家"), final])
    agent = SearchAgent(chat, lambda q, k: demo_lib.search(q, k=k, per_note=3),
                        AgentConfig(repairs=REPAIRS, room=True, early_stop=False))
    ans = agent.ask("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？", seen.append)
    answer_call = chat.sent[-1]
    # read ahead: after the hops' calls, before the answer call, exactly the messages the answer call starts with
    assert chat.prepared == [(len(chat.sent) - 1, answer_call[:-1])]
    gather = next(s for s in ans.steps if isinstance(s, Gather))
    assert gather.seconds >= 0 and seen.index(gather) > max(seen.index(s) for s in seen if isinstance(s, Read))
    t = ans.timings
    assert 0 <= t["first_text_after_read_s"] <= t["first_text_after_search_s"] <= t["total_s"]


def test_without_the_room_nothing_is_read_ahead(demo_lib):
    def final(m):
        return {"found": True, "short_answer": "林舟", "answer": f"林舟[{passage_with(m, '嘉宾林舟的建议')}]。",
                "next_query": ""}

    chat = ScriptedChat([read("嘉宾林舟的建议", "林舟"), read("林舟是一位旅行作家", "旅行作家"), final])
    agent = SearchAgent(chat, lambda q, k: demo_lib.search(q, k=k, per_note=3),
                        AgentConfig(repairs=REPAIRS, room=False, early_stop=False))
    agent.ask("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？")
    assert chat.prepared == []


def test_store_around_gives_a_chunks_neighbours_in_its_note_in_order(demo_lib):
    note = next(n for n in demo_lib.list_notes(kind="shownotes") if "林舟" in n["title"])
    chunks = demo_lib.get_note(note["id"]).chunks
    assert [c.ord for c in demo_lib.store.around(chunks[1])] == [0, 2]
    assert [c.ord for c in demo_lib.store.around(chunks[0])] == [1]  # the first has nothing before it
    assert [c.ord for c in demo_lib.store.around(chunks[-1], span=2)] == [len(chunks) - 3, len(chunks) - 2]
    assert all(c.note_id == note["id"] for c in demo_lib.store.around(chunks[3], span=5))


def _maybe(needle, answer):
    """A read that answers when the passage holding ``needle`` is shown, and finds nothing otherwise."""
    def pick(m):
        n = next((n for n, body in numbered(m).items() if needle in body), None)
        return {"found": n is not None, "answer": answer if n else "", "passage": n or 0, "next_query": ""}
    return pick


def _context_run(lib, chars):
    # two hops, as the library's agent searches (two passages per note): the guest's job is stated only in the
    # episode's description, which no search ranks among the passages read; a chapter heading of that episode is
    replies = [_maybe("嘉宾林舟的建议", "林舟"), _maybe("林舟是一位旅行作家", "旅行作家"),
               _maybe("林舟是一位旅行作家", "旅行作家"), lambda m: {"found": False, "answer": "", "short_answer": "",
                                                          "next_query": ""}]
    agent = SearchAgent(ScriptedChat(replies), lambda q, k: lib.search(q, k=k, per_note=2),
                        AgentConfig(repairs=("split_asks",), room=True, context_chars=chars), around=lib.store.around)
    return agent.ask("成都攻略里早上看熊猫的建议来自哪位播客嘉宾？她是做什么的？")


def test_a_short_passage_is_read_with_the_passages_beside_it(demo_lib):
    ans = _context_run(demo_lib, 40)
    reads = [s for s in ans.steps if isinstance(s, Read)]
    assert [(r.answer, r.verified) for r in reads] == [("林舟", True), ("旅行作家", True)]
    # each passage read beside a heading is a passage of its own: the citation names the description's place
    cited = {c.quote: c for c in ans.citations}
    assert "本期嘉宾林舟是一位旅行作家，在成都住了五年。" in cited
    desc = cited["本期嘉宾林舟是一位旅行作家，在成都住了五年。"]
    assert desc.quote in demo_lib.store.get_chunks([desc.chunk_id])[0].text
    # a read counts the passages a search ranked (read_k), those beside them come with them
    searches = [s for s in ans.steps if type(s).__name__ == "Search"]
    assert all(len(s.hits) <= AgentConfig().k for s in searches)
    assert len(reads[1].chunk_ids) > AgentConfig().read_k


def test_without_context_the_heading_is_read_alone(demo_lib):
    ans = _context_run(demo_lib, 0)
    reads = [s for s in ans.steps if isinstance(s, Read)]
    assert reads[0].verified and not any(r.answer == "旅行作家" for r in reads)
    assert all(len(r.chunk_ids) <= AgentConfig().read_k for r in reads)


def test_a_passage_verified_beside_another_counts_as_ranked_in_the_answers_pool():
    from lingxi.agent.state import Finding, Run
    from lingxi.types import Chunk, Hit, Locator

    def hit(i, **signals):
        return Hit(chunk=Chunk(f"passage {i}", Locator(char_start=0, char_end=9), id=f"n:{i}", note_id="n", ord=i),
                   title="t", source="s", kind="markdown", score=1.0, signals=signals)
    agent = SearchAgent(ScriptedChat([]), lambda q, k: [], AgentConfig(answer_k=2))
    run = Run(agent, "q")
    beside = hit(0, beside="n:9")  # read beside a heading that search ranked low
    run.findings = [Finding(1, "q", "a", beside, "passage 0")]
    run.results = [[hit(1), hit(2), hit(3), hit(9)]]
    assert [h.chunk.id for h in agent.pool(run)] == ["n:0", "n:1"]
