"""Prompts are data: a folder named by LINGXI_AGENT_PROMPTS replaces bundled prompts of the same name."""

from __future__ import annotations

import pytest

from lingxi.agent import AgentConfig, SearchAgent
from lingxi.agent.loop import render, template
from lingxi.errors import BadInput

from fakes import ScriptedChat


def test_a_prompt_folder_replaces_only_the_prompts_it_holds(tmp_path, monkeypatch):
    bundled_room, bundled_system = template("extract_room"), template("system")
    (tmp_path / "extract_room.txt").write_text("Q: {question} ({ids}) {context}{first}\n", encoding="utf-8")
    monkeypatch.setenv("LINGXI_AGENT_PROMPTS", str(tmp_path))
    assert render("extract_room", question="why", ids="1, 2", context="", first=1) == "Q: why (1, 2) 1"
    assert template("system") == bundled_system  # not in the folder: the bundled one
    monkeypatch.delenv("LINGXI_AGENT_PROMPTS")
    assert template("extract_room") == bundled_room


def test_the_agent_asks_with_the_folder_s_prompt(tmp_path, monkeypatch):
    (tmp_path / "answer_room.txt").write_text("ANSWER {question} FROM {ids};{findings}{language_rule}{first}",
                                              encoding="utf-8")
    monkeypatch.setenv("LINGXI_AGENT_PROMPTS", str(tmp_path))
    from lingxi.types import Chunk, Hit, Locator

    text = "Alma Reed was born in 1901 in Lisbon."
    hit = Hit(Chunk(text, Locator(char_start=0, char_end=len(text)), id="n1:0", note_id="n1"), "Alma Reed", "alma.md",
              "markdown", 1.0)
    chat = ScriptedChat([{"sub_questions": []},
                         {"answer": "1901 [1]", "short_answer": "1901", "found": True, "next_query": ""}])
    ans = SearchAgent(chat, lambda q, k: [hit], AgentConfig(room=True, early_stop=True)).ask("When was Alma Reed born?")
    asks = [m[-1]["content"] for m in chat.sent]
    assert asks[-1].startswith("ANSWER When was Alma Reed born? FROM 1;")
    assert ans.short == "1901"


def test_a_bad_prompt_folder_or_placeholder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LINGXI_AGENT_PROMPTS", str(tmp_path / "missing"))
    with pytest.raises(BadInput, match="is not a folder"):
        template("system")
    (tmp_path / "answer_room.txt").write_text("Q: {question} {nope}", encoding="utf-8")
    monkeypatch.setenv("LINGXI_AGENT_PROMPTS", str(tmp_path))
    with pytest.raises(BadInput, match="prompt 'answer_room': cannot fill it"):
        render("answer_room", question="q")


def test_a_tasks_prompt_goes_into_the_steps_system_message_but_not_the_planner_s(tmp_path, monkeypatch):
    from lingxi.types import Chunk, Hit, Locator

    (tmp_path / "tasks.txt").write_text("Read step: name the passage. Answer step: cite it.\n", encoding="utf-8")
    text = "Alma Reed was born in 1901 in Lisbon."
    hit = Hit(Chunk(text, Locator(char_start=0, char_end=len(text)), id="n1:0", note_id="n1"), "Alma Reed", "alma.md",
              "markdown", 1.0)
    reply = {"answer": "1901 [1]", "short_answer": "1901", "found": True, "next_query": ""}
    for folder, wanted in ((None, False), (tmp_path, True)):
        if folder:
            monkeypatch.setenv("LINGXI_AGENT_PROMPTS", str(folder))
        planner, chat = ScriptedChat([{"sub_questions": []}]), ScriptedChat([reply])
        SearchAgent(chat, lambda q, k: [hit], AgentConfig(room=True), planner=planner).ask("When was Alma Reed born?")
        assert ("Answer step: cite it." in chat.sent[-1][0]["content"]) is wanted
        assert "Answer step" not in planner.sent[0][0]["content"]
        assert chat.sent[-1][0]["content"].startswith(template("system"))
