"""The question searched once more in the other language of the notes it finds (LINGXI_AGENT_TRANSLATE)."""

from __future__ import annotations

import pytest

from lingxi.agent import AgentConfig, SearchAgent
from lingxi.agent.steps import Search
from lingxi.text import written_in

from fakes import ScriptedChat, passage_with


@pytest.fixture(scope="module")
def mixed_lib(tmp_path_factory):
    from lingxi import Library, Settings

    src = tmp_path_factory.mktemp("mixed")
    (src / "alinea.md").write_text(
        "# Alinea\n\nGrant Achatz and Nick Kokonas opened the restaurant Alinea in Chicago on May 4, 2005. Its "
        "tasting menu runs to twenty courses.\n", encoding="utf-8")
    (src / "chengdu.md").write_text("# 成都餐厅笔记\n\n成都的餐厅大多在晚上十点以后还开着，火锅店最热闹。\n",
                                    encoding="utf-8")
    lib = Library(Settings.load(tmp_path_factory.mktemp("mixed-home"), threads=1))
    lib.ingest([src])
    yield lib
    lib.close()


def test_written_in_counts_letters_not_one_name():
    assert written_in("成都的餐厅大多在晚上十点以后还开着") == "zh"
    assert written_in("The chef from 成都 opened a restaurant in Chicago in 2005.") == "en"
    assert written_in("Nick Kokonas 说他下一个想颠覆的是什么行业？") == "zh"


def answer(needle, text, short):
    return lambda m: {"answer": f"{text}[{passage_with(m, needle)}]", "short_answer": short, "found": True,
                      "next_query": ""}


def test_a_hit_in_the_other_language_makes_the_model_write_the_question_in_it(mixed_lib):
    q = "Alinea 餐厅是哪一天开业的？"
    chat = ScriptedChat([{"sub_questions": []}, {"query": "On what date did the restaurant Alinea open?"},
                         answer("May 4, 2005", "Alinea 于 May 4, 2005 开业", "May 4, 2005")])
    agent = SearchAgent(chat, lambda q, k: mixed_lib.search(q, k=k, per_note=2), AgentConfig(translate=True))
    ans = agent.ask(q)
    queries = [s.query for s in ans.steps if isinstance(s, Search)]
    assert queries[:2] == [q, "On what date did the restaurant Alinea open?"]
    assert "Write this search query in English" in chat.sent[1][-1]["content"]
    assert ans.short == "May 4, 2005" and ans.citations and ans.citations[0].title == "Alinea"


def test_off_or_with_hits_in_the_question_s_own_language_nothing_is_translated(mixed_lib):
    q = "Alinea 餐厅是哪一天开业的？"
    replies = [{"sub_questions": []}, answer("May 4, 2005", "Alinea 于 May 4, 2005 开业", "May 4, 2005")]
    chat = ScriptedChat(list(replies))
    ans = SearchAgent(chat, lambda q, k: mixed_lib.search(q, k=k, per_note=2), AgentConfig(translate=False)).ask(q)
    assert len([s for s in ans.steps if isinstance(s, Search)]) == 1 and chat.calls == 2
    only_zh = [h for h in mixed_lib.search("成都 餐厅", k=5) if written_in(h.chunk.text) == "zh"]
    chat = ScriptedChat([{"sub_questions": []}, answer("十点", "十点以后还开着", "十点以后")])
    ans = SearchAgent(chat, lambda q, k: only_zh, AgentConfig(translate=True)).ask("成都的餐厅开到几点？")
    assert chat.calls == 2 and ans.short == "十点以后"


def test_a_query_handed_back_in_the_question_s_own_language_is_asked_for_once_more(mixed_lib):
    q = "Alinea 餐厅是哪一天开业的？"
    chat = ScriptedChat([{"sub_questions": []}, {"query": "Alinea 餐厅开业日期"},
                         {"query": "On what date did the restaurant Alinea open?"},
                         answer("May 4, 2005", "Alinea 于 May 4, 2005 开业", "May 4, 2005")])
    ans = SearchAgent(chat, lambda q, k: mixed_lib.search(q, k=k, per_note=2), AgentConfig(translate=True)).ask(q)
    assert [s.query for s in ans.steps if isinstance(s, Search)][:2] == [q, "On what date did the restaurant Alinea open?"]
    assert "This search query is in Chinese (中文). Write it in English" in chat.sent[2][-1]["content"]
    assert ans.short == "May 4, 2005" and chat.calls == 4
    # handed back twice: nothing more is searched, and nothing more is asked
    chat = ScriptedChat([{"sub_questions": []}, {"query": "Alinea 餐厅开业日期"}, {"query": "Alinea 开业日期"},
                         answer("May 4, 2005", "Alinea 于 May 4, 2005 开业", "May 4, 2005")])
    ans = SearchAgent(chat, lambda q, k: mixed_lib.search(q, k=k, per_note=2), AgentConfig(translate=True)).ask(q)
    assert len([s for s in ans.steps if isinstance(s, Search)]) == 1 and chat.calls == 4
