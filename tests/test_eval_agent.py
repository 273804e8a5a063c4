"""`lingxi eval agent` end to end with a scripted model: HotpotQA-format and generic QA files, JSON contract."""

from __future__ import annotations

import json

from lingxi import Settings
from lingxi.agent import AgentConfig
from lingxi.evals.agent import eval_hotpotqa, eval_questions

from conftest import DEMO
from fakes import ScriptedChat, step_of


def reply(m):
    prompt = m[-1]["content"]
    shown = "\n".join(x["content"] for x in m[1:])  # with the reading room, passages precede the ask
    gold = "Chief of Protocol" if "Chief" in shown else "上午"
    if "sub_questions" in prompt:
        return {"sub_questions": [{"id": 1, "question": "q", "depends_on": []}]}
    n = next((int(b.split('"')[1]) for b in shown.split("<passage id=")[1:] if gold in b), 1)
    if step_of(m) == "answer":
        return {"found": True, "short_answer": gold, "answer": f"{gold} [{n}]", "next_query": ""}
    if step_of(m) == "read":
        return {"found": True, "answer": gold, "passage": n, "next_query": ""}
    return {"short_answer": gold, "answer": f"{gold} [1]"}


class Echo(ScriptedChat):
    def __init__(self):
        super().__init__([])

    def complete(self, messages, **kw):
        self.replies = [reply]
        return super().complete(messages, **kw)


def test_eval_hotpotqa_shared_store(tmp_path):
    row = {"question_id": "q1", "question_text": "What position did Shirley Temple hold?",
           "answers_objects": [{"spans": ["Chief of Protocol"]}],
           "contexts": [{"title": "Shirley Temple", "paragraph_text": "Shirley Temple served as Chief of Protocol of the United States.",
                         "is_supporting": True},
                        {"title": "Kiss and Tell", "paragraph_text": "Kiss and Tell is a 1945 comedy film.", "is_supporting": False}]}
    f = tmp_path / "h.jsonl"
    f.write_text(json.dumps(row) + "\n", encoding="utf-8")
    result = eval_hotpotqa(f, Echo(), Settings.load(tmp_path, threads=1), None, "shared", AgentConfig(), lambda s: None)
    rows = {r["system"]: r["metrics"] for r in result["rows"]}
    assert list(rows) == ["closed-book", "single-shot RAG", "agent"]
    assert rows["agent"]["em"] == 1.0 and rows["agent"]["f1"] == 1.0
    assert rows["agent"]["citation_validity"] == 1.0 and rows["agent"]["support_recall"] == 1.0
    assert rows["agent"]["searches"] == 1.0
    # the agent's quotes are checked character for character against the passages they name; RAG quotes nothing
    assert rows["agent"]["citation_verbatim"] == 1.0 and "citation_verbatim" not in rows["single-shot RAG"]
    # --skip: a later slice of the file
    f.write_text(json.dumps({**row, "question_id": "q0"}) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    records = []
    later = eval_hotpotqa(f, Echo(), Settings.load(tmp_path, threads=1), 5, "shared", AgentConfig(), lambda s: None,
                          records.append, ("agent",), skip=1)
    assert later["config"]["questions"] == 1 and later["config"]["skipped"] == 1
    assert [r["id"] for r in records] == ["q1"]
    import pytest

    from lingxi.errors import BadInput

    with pytest.raises(BadInput, match="no questions after the first 2"):
        eval_hotpotqa(f, Echo(), Settings.load(tmp_path, threads=1), None, "shared", AgentConfig(), lambda s: None,
                      skip=2)


def test_eval_generic_questions(tmp_path):
    q = tmp_path / "q.jsonl"
    # a fact may be listed in several forms (any of them counts)
    q.write_text('{"id": "1", "q": "熊猫什么时候最活跃？", "gold": [["早上", "上午"]]}\n', encoding="utf-8")
    records = []
    result = eval_questions(q, DEMO / "podcasts", Echo(), Settings.load(tmp_path, threads=1), None, AgentConfig(),
                            lambda s: None, records.append)
    rows = {r["system"]: r["metrics"] for r in result["rows"]}
    assert rows["agent"]["accuracy"] == 1.0 and rows["agent"]["citation_validity"] == 1.0
    # one trace record per system: the agent's has its steps and citations, RAG's the passages it read
    assert [r["system"] for r in records] == ["closed-book", "single-shot RAG", "agent"]
    agent_rec = records[-1]
    assert agent_rec["correct"] == 1.0 and agent_rec["citations"][0]["quote"] and agent_rec["steps"][0]["kind"] == "plan"
    assert agent_rec["quoted"] == agent_rec["quoted_verbatim"] == len(agent_rec["citations"]) >= 1
    assert "quoted" not in records[1]  # single-shot RAG's [n] name whole passages
    assert records[1]["passages"] and records[0]["gold"] == [["早上", "上午"]]
    import pytest

    from lingxi.errors import BadInput

    for bad in ('{"id": "2", "q": "x", "gold": []}', '{"id": "2", "q": "x", "gold": [[]]}', '{"id": "2", "q": "x"}'):
        q.write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(BadInput, match="line 1: expected"):
            eval_questions(q, DEMO / "podcasts", Echo(), Settings.load(tmp_path, threads=1), None, AgentConfig(),
                           lambda s: None)


def test_eval_generic_questions_skip(tmp_path):
    import pytest

    from lingxi.errors import BadInput

    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "1", "q": "git reflog 保留多久？", "gold": ["九十天"]}\n'
                 '{"id": "2", "q": "熊猫什么时候最活跃？", "gold": [["早上", "上午"]]}\n', encoding="utf-8")
    records = []
    result = eval_questions(q, DEMO / "podcasts", Echo(), Settings.load(tmp_path, threads=1), None, AgentConfig(),
                            lambda s: None, records.append, ("closed-book",), skip=1)
    assert [r["id"] for r in records] == ["2"] and result["config"]["questions"] == 1
    assert result["config"]["skipped"] == 1
    with pytest.raises(BadInput, match="no questions after the first 2"):
        eval_questions(q, DEMO / "podcasts", Echo(), Settings.load(tmp_path, threads=1), None, AgentConfig(),
                       lambda s: None, None, ("closed-book",), skip=2)


def test_pick_systems():
    import pytest

    from lingxi.errors import BadInput
    from lingxi.evals.agent import pick_systems

    assert pick_systems(None) == ("closed-book", "single-shot RAG", "agent")
    assert pick_systems("agent,rag") == ("single-shot RAG", "agent")
    with pytest.raises(BadInput, match="closed-book, rag, agent"):
        pick_systems("agent,oracle")


def test_a_short_answer_that_echoes_the_reply_format_is_dropped():
    from lingxi.agent.loop import render
    from lingxi.evals.agent import _unechoed, closed_book

    prompt = render("rag", question="Which coastal area?", passages="", language_rule="Answer in English.")
    assert _unechoed("the answer in as few words as possible", prompt) == ""
    assert _unechoed("Yellowcraig", prompt) == "Yellowcraig"
    # a quoted title in the question or passages is a possible answer, not an echo
    assert _unechoed("Shut Up, Make Love", prompt.replace("Which", 'When was "Shut Up, Make Love" out? Which')) \
        == "Shut Up, Make Love"
    echo = ScriptedChat([{"short_answer": "the answer in as few words as possible", "answer": "Yellowcraigs."}])
    assert closed_book(echo, "Which coastal area?") == ("", "Yellowcraigs.")


def _hotpot_rows(n):
    return [{"question_id": f"q{i}", "question_text": "What position did Shirley Temple hold?",
             "answers_objects": [{"spans": ["Chief of Protocol"]}],
             "contexts": [{"title": "Shirley Temple", "paragraph_text": "Shirley Temple served as Chief of Protocol of the"
                           " United States.", "is_supporting": True},
                          {"title": f"Film {i}", "paragraph_text": f"Film {i} is a {1940 + i} comedy film.",
                           "is_supporting": False}]} for i in range(1, n + 1)]


def test_shared_store_is_built_from_the_questions_asked(tmp_path):
    from lingxi import Library

    f = tmp_path / "h.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in _hotpot_rows(4)), encoding="utf-8")
    said = []
    settings = Settings.load(tmp_path / "home", threads=1)
    eval_hotpotqa(f, Echo(), settings, 1, "shared", AgentConfig(), said.append, None, ("closed-book",), skip=1)
    assert any("from the 1 questions asked (questions 2–2: 2 paragraphs)" in m for m in said)
    [store] = (settings.home / "eval-stores").iterdir()
    lib = Library(Settings.load(store, threads=1))
    assert sorted(n["title"] for n in lib.list_notes()) == ["Film 2", "Shirley Temple"]
    lib.close()
    said.clear()
    result = eval_hotpotqa(f, Echo(), settings, 1, "shared", AgentConfig(), said.append, None, ("closed-book",),
                           store_from="file")
    assert any("from all 4 questions in h.jsonl (5 paragraphs), 1 of them asked" in m for m in said)
    assert result["config"]["store_from"] == "file"
    # per-question progress, with an estimate of the time left
    said.clear()
    eval_hotpotqa(f, Echo(), settings, 2, "shared", AgentConfig(), said.append, None, ("closed-book", "agent"))
    assert [m.split(":")[0] for m in said if m.startswith("[")] == [
        "[1/2] closed-book", "[1/2] agent", "[1/2] done; closed-book", "[2/2] closed-book", "[2/2] agent",
        "[2/2] done; closed-book"]
    assert "ETA" in next(m for m in said if m.startswith("[1/2] done"))


def test_summary_is_recovered_from_the_trace_of_an_interrupted_run(tmp_path, monkeypatch, capsys):
    import lingxi.library
    from lingxi.cli.main import main
    from lingxi.evals.agent import summarize

    f = tmp_path / "h.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in _hotpot_rows(3)), encoding="utf-8")
    home, trace = str(tmp_path / "home"), tmp_path / "trace.jsonl"

    class Stops(Echo):  # the run is stopped (Ctrl-C, `timeout`) while it asks the 3rd question
        def complete(self, messages, **kw):
            if "What position" in messages[-1]["content"] and self.asked >= 2 * 2:  # two systems, one call each
                raise KeyboardInterrupt
            self.asked += 1
            return super().complete(messages, **kw)

    chats = []

    def make(settings, progress=None):
        chats.append(Stops())
        chats[-1].asked = 0
        return chats[-1]

    monkeypatch.setattr(lingxi.library, "make_chat", make)
    full = eval_hotpotqa(f, Echo(), Settings.load(tmp_path / "ref", threads=1), 2, "shared", AgentConfig(),
                         lambda s: None, None, ("closed-book", "single-shot RAG"))
    code = main(["--home", home, "--threads", "1", "eval", "agent", "--hotpotqa", str(f), "--systems",
                 "closed-book,rag", "--trace", str(trace), "--json"])
    assert code == 130
    out, err = capsys.readouterr()
    assert "interrupted: the table of the questions that finished" in err and "[2/3] done" in err
    [printed] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    [recovered] = summarize(trace)
    assert recovered["config"]["answered"] == 2 and recovered["config"]["finished"] is False
    assert printed["rows"] == recovered["rows"]
    # the same figures a run of those two questions reports (latency aside: it is the clock's)
    for got, want in zip(recovered["rows"], full["rows"]):
        assert got["system"] == want["system"]
        clock = ("p50_ms", "time_vs_rag_p50")
        assert {k: v for k, v in got["metrics"].items() if k not in clock} == \
            {k: v for k, v in want["metrics"].items() if k not in clock}
    # the command-line summary; a line cut short by a kill is ignored, a broken file is named
    with trace.open("a", encoding="utf-8") as t:
        t.write('{"id": "q3", "system": "clo')
    assert main(["--home", home, "eval", "summarize", str(trace)]) == 0
    text = capsys.readouterr().out
    assert "(partial: the run stopped after 2 questions)" in text and "single-shot RAG" in text
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{}\n", encoding="utf-8")
    assert main(["--home", home, "eval", "summarize", str(bad)]) == 1
    assert "line 1 is not JSON" in capsys.readouterr().err


def test_eval_agent_writes_a_trace_by_default(tmp_path, monkeypatch, capsys):
    import lingxi.library
    from lingxi.cli.main import main

    f = tmp_path / "h.jsonl"
    f.write_text(json.dumps(_hotpot_rows(1)[0]) + "\n", encoding="utf-8")
    monkeypatch.setattr(lingxi.library, "make_chat", lambda settings, progress=None: Echo())
    home = tmp_path / "home"
    assert main(["--home", str(home), "--threads", "1", "eval", "agent", "--hotpotqa", str(f), "--systems",
                 "closed-book", "--json"]) == 0
    [trace] = (home / "eval-traces").iterdir()
    assert str(trace) in capsys.readouterr().err
    lines = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["run"] and lines[1]["system"] == "closed-book" and lines[-1] == {"finished": True, "questions": 1}


def test_musique_rows_and_refusals_measured_against_what_was_read(tmp_path):
    musique = [{"id": "2hop__1", "question": "What position did Shirley Temple hold?", "answer": "Chief of Protocol",
                "answer_aliases": ["chief of protocol of the US"], "answerable": True,
                "paragraphs": [{"idx": 0, "title": "Shirley Temple", "is_supporting": True,
                                "paragraph_text": "Shirley Temple served as Chief of Protocol of the United States."},
                               {"idx": 1, "title": "Kiss and Tell", "is_supporting": False,
                                "paragraph_text": "Kiss and Tell is a 1945 comedy film."}]}]
    f = tmp_path / "musique.json"
    f.write_text(json.dumps(musique), encoding="utf-8")

    class Refuses(ScriptedChat):  # plans nothing, then says the passages do not answer
        def __init__(self):
            super().__init__([])

        def complete(self, messages, **kw):
            prompt = messages[-1]["content"]
            self.replies = [{"sub_questions": []} if "sub_questions" in prompt else
                            {"found": False, "short_answer": "", "answer": "not in the notes", "next_query": ""}]
            return super().complete(messages, **kw)

    result = eval_hotpotqa(f, Refuses(), Settings.load(tmp_path, threads=1), None, "shared", AgentConfig(),
                           lambda s: None, systems=("agent",))
    m = result["rows"][0]["metrics"]
    assert result["dataset"] == "musique.json (shared store)" and m["f1"] == 0.0
    # it said the notes do not answer while the gold answer was in a passage it read
    assert m["refusals"] == 1.0 and m["refusals_gold_read"] == 1.0
    result = eval_hotpotqa(f, Echo(), Settings.load(tmp_path, threads=1), None, "shared", AgentConfig(),
                           lambda s: None, systems=("agent",))
    assert result["rows"][0]["metrics"]["f1"] == 1.0 and result["rows"][0]["metrics"]["refusals"] == 0.0
    f.write_text('[{"id": "x"}]', encoding="utf-8")
    import pytest

    from lingxi.errors import BadInput

    with pytest.raises(BadInput, match="MuSiQue JSON list"):
        eval_hotpotqa(f, Echo(), Settings.load(tmp_path, threads=1), None, "shared", AgentConfig(), lambda s: None)


def test_a_question_set_s_corpus_is_kept_under_the_home_and_read_again(tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"id": "k1", "q": "熊猫什么时候最活跃？", "gold": [["上午"]]}, ensure_ascii=False) + "\n",
                 encoding="utf-8")
    said: list[str] = []
    settings = Settings.load(tmp_path / "home", threads=1)
    for _ in range(2):
        eval_questions(q, DEMO / "podcasts", Echo(), settings, None, AgentConfig(), said.append,
                       systems=("single-shot RAG",))
    kept = list((tmp_path / "home" / "eval-corpus").iterdir())
    assert len(kept) == 1 and (kept[0] / "lingxi.db").exists()


def test_verbatim_share_counts_every_quoted_citation_and_survives_the_trace():
    from lingxi.evals.agent import Tally

    t = Tally()
    mark = t.mark()
    t.latency.append(1.0)
    t.calls.append(2)
    t.prompt_tokens.append(10)
    t.read_tokens.append(10)
    t.searches.append(1)
    t.cites, t.cites_ok, t.quoted, t.verbatim = 3, 1, 3, 2  # one quote no longer in its passage
    rec = t.measured(mark)
    assert rec["quoted"] == 3 and rec["quoted_verbatim"] == 2
    back = Tally()
    back.add(rec)
    assert back.metrics()["citation_verbatim"] == t.metrics()["citation_verbatim"] == round(2 / 3, 4)


def test_eval_rgb_scores_every_fact_over_each_question_s_own_passages(tmp_path):
    import pytest

    from lingxi.errors import BadInput
    from lingxi.evals.agent import eval_rgb

    def rgb_reply(m):
        prompt, shown = m[-1]["content"], "\n".join(x["content"] for x in m[1:])
        n = next((int(b.split('"')[1]) for b in shown.split("<passage id=")[1:] if "8.1%" in b), 1)
        if "sub_questions" in prompt:
            return {"sub_questions": [{"id": 1, "question": "甲国2021年经济增长和失业率", "depends_on": []}]}
        if step_of(m) == "answer":
            return {"found": True, "short_answer": "8.1%，5.1%", "answer": f"甲国经济增长8.1%，失业率5.1% [{n}]",
                    "next_query": ""}
        if step_of(m) == "read":
            return {"found": True, "answer": "8.1%", "passage": n, "next_query": ""}
        return {"short_answer": "8.1%", "answer": "增长8.1% [1]"}  # one of the two facts

    class Chat(ScriptedChat):
        def __init__(self):
            super().__init__([])

        def complete(self, messages, **kw):
            self.replies = [rgb_reply(messages)]
            return super().complete(messages, **kw)

    row = {"id": 7, "query": "2021年甲国经济增长了多少，失业率是多少？", "answer": ["8.1%", ["5.1%", "百分之五点一"]],
           "positive": [["2021年，甲国国内生产总值比上年增长8.1%，全国城镇调查失业率平均值为5.1%。"]],
           "negative": ["乙国2021年的旅游收入有所回升。", "丙国2020年经济下降了3.4%。"]}
    f = tmp_path / "zh_int.json"
    f.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    records = []
    result = eval_rgb(f, Chat(), Settings.load(tmp_path, threads=1), None, AgentConfig(), lambda s: None,
                      records.append, ("single-shot RAG", "agent"))
    rows = {r["system"]: r["metrics"] for r in result["rows"]}
    assert rows["agent"]["accuracy"] == 1.0 and rows["single-shot RAG"]["accuracy"] == 0.0  # one fact of two
    assert rows["agent"]["support_recall"] == 1.0 and rows["agent"]["citation_verbatim"] == 1.0
    assert records[-1]["gold"] == [["8.1%"], ["5.1%", "百分之五点一"]] and records[-1]["id"] == "7"
    for bad, why in (({**row, "answer": []}, "empty"), ({k: v for k, v in row.items() if k != "negative"}, "line 1")):
        f.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
        with pytest.raises(BadInput, match=why):
            eval_rgb(f, Chat(), Settings.load(tmp_path, threads=1), None, AgentConfig(), lambda s: None)


def test_single_shot_rag_reads_the_agents_search_two_passages_of_a_long_note(tmp_path):
    """The baseline reads what the agent's search returns: over one long document (one note a file) a second
    passage of the same note is among its five, not hidden behind the best passage of an unrelated file."""
    from lingxi import Library
    from lingxi.evals.agent import RAG_K, single_rag
    from lingxi.library import AGENT_PER_NOTE

    long = "\n\n".join(f"Section {i}. The lighthouse keeper logged the storm number {i} and the tide at dawn." * 4
                       for i in range(12))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "log.md").write_text("# Lighthouse log\n\n" + long, encoding="utf-8")
    for i in range(6):
        (tmp_path / "docs" / f"other{i}.md").write_text(f"# Other {i}\n\nA note about gardening and tide pools {i}.",
                                                        encoding="utf-8")
    lib = Library(Settings.load(tmp_path / "home", threads=1))
    lib.ingest([tmp_path / "docs"])
    _, _, hits = single_rag(Echo(), lib, "lighthouse keeper storm tide")
    notes = [h.chunk.note_id for h in hits]
    assert len(hits) == RAG_K and AGENT_PER_NOTE == 2
    assert max(notes.count(n) for n in notes) == 2  # two passages of the log, never more
    lib.close()
