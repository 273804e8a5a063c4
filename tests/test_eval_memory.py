"""The LoCoMo evaluation on a hand-made conversation in LoCoMo's format, with a scripted LLM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingxi import Library
from lingxi.evals import memory as ev

from fakes import ScriptedChat

CONV = [{
    "sample_id": "tiny",
    "conversation": {
        "speaker_a": "Ana", "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ben", "dia_id": "D1:1", "text": "Hey Ana, what did you do over the weekend?"},
            {"speaker": "Ana", "dia_id": "D1:2", "text": "I adopted a puppy from the shelter, her name is Mochi!"},
            {"speaker": "Ben", "dia_id": "D1:3", "text": "So cute. I started learning the violin last month."},
        ],
        "session_2_date_time": "10:00 am on 20 May, 2023",
        "session_2": [
            {"speaker": "Ana", "dia_id": "D2:1", "text": "How are the lessons going?"},
            {"speaker": "Ben", "dia_id": "D2:2", "text": "Slowly, my teacher says my bowing is too stiff."},
        ],
    },
    "qa": [
        {"question": "What did Ana do over the weekend?", "answer": "adopted a puppy", "evidence": ["D1:2"],
         "category": 4},
        {"question": "What instrument is Ben learning?", "answer": "violin", "evidence": ["D1:3"], "category": 4},
    ],
}]


def _reply(messages: list[dict[str, Any]]) -> str | dict[str, Any]:
    text = messages[-1]["content"]
    if "Reply as JSON" in text or '"memories"' in text:
        return {"memories": []}
    return "violin" if "instrument" in text else "adopted a puppy"


def test_locomo_rows_evidence_recall_and_observation_rewrite(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    chat = ScriptedChat([_reply] * 40)
    home = tmp_path / "eval-memory"
    out = ev.evaluate(path, chat, lib.embedder, home, window=16, last_n=2, context_tokens=2000, k=1)
    rows = {r["system"]: r["metrics"] for r in out["rows"]}
    assert set(rows) == {"full-context", "last-2 turns", "RAG over raw turns", "lingxi memory"}
    # one recalled item each: whichever exchange matches holds the evidence turn (a question and its answer
    # travel together)
    assert rows["lingxi memory"]["evidence_recall@10"] == 1.0
    # per category too, for the categories the questions have
    assert [k for k in rows["lingxi memory"] if k.startswith("evidence_recall@10_")] == \
        ["evidence_recall@10_" + ev.CATEGORIES[4]]
    assert 0.0 <= rows["RAG over raw turns"]["evidence_recall@10"] <= rows["lingxi memory"]["evidence_recall@10"]
    assert rows["full-context"]["evidence_recall@10"] == 1.0 and rows["last-2 turns"]["evidence_recall@10"] == 0.0
    assert rows["lingxi memory"]["f1"] == 1.0
    assert out["config"]["extraction"]["llm_calls"] == 2  # one window per session, no reflection (nothing extracted)
    # a cached replay from an older observation scheme is rewritten without calling the LLM to extract again
    marker = next(home.glob("*.cost.json"))
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "observations": "turns-v0"}))
    chat2 = ScriptedChat([lambda m: "adopted a puppy"] * 8)
    again = ev.evaluate(path, chat2, lib.embedder, home, window=16, last_n=2, context_tokens=2000, k=1)
    assert chat2.calls == 8  # 4 systems x 2 questions, no extraction
    assert json.loads(marker.read_text())["observations"] == ev.OBSERVATIONS
    assert {r["system"]: r["metrics"]["evidence_recall@10"] for r in again["rows"]} == \
        {r["system"]: r["metrics"]["evidence_recall@10"] for r in out["rows"]}


def test_no_answers_measures_retrieval_only(lib: Library, tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    chat = ScriptedChat([_reply] * 2)  # the two extraction calls, nothing else
    out = ev.evaluate(path, chat, lib.embedder, tmp_path / "m", last_n=2, context_tokens=2000, answers=False)
    for r in out["rows"]:
        assert r["metrics"]["f1"] is None and r["metrics"]["prompt_tokens"] > 0
    assert chat.calls == 2


def test_systems_subset_and_unknown_name(lib: Library, tmp_path: Path) -> None:
    import pytest

    from lingxi.errors import BadInput

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    chat = ScriptedChat([_reply] * 6)  # 2 extraction calls + 2 systems x 2 questions
    out = ev.evaluate(path, chat, lib.embedder, tmp_path / "m", last_n=2, context_tokens=2000,
                      only=["rag", "lingxi"])
    assert [r["system"] for r in out["rows"]] == ["RAG over raw turns", "lingxi memory"]
    assert chat.calls == 6
    with pytest.raises(BadInput, match="full-contxt"):
        ev.evaluate(path, chat, lib.embedder, tmp_path / "m", only=["full-contxt"])


def test_stride_samples_every_nth_question(lib: Library, tmp_path: Path) -> None:
    import pytest

    from lingxi.errors import BadInput

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    chat = ScriptedChat([_reply] * 3)  # 2 extraction calls + 1 system x the 1st of every 2 questions
    out = ev.evaluate(path, chat, lib.embedder, tmp_path / "m", last_n=2, context_tokens=2000, only=["lingxi"],
                      stride=2)
    assert out["config"]["questions"] == 1 and out["config"]["stride"] == 2
    assert chat.calls == 3
    # the first question (about the weekend) is the one asked: its scripted answer scores F1 1
    assert out["rows"][0]["metrics"]["f1"] == 1.0 and "f1_single-hop" in out["rows"][0]["metrics"]
    with pytest.raises(BadInput, match="stride"):
        ev.evaluate(path, chat, lib.embedder, tmp_path / "m", stride=0)


def test_contains_score_is_llm_free() -> None:
    q = {"question": "What did Ana adopt?", "answer": "a puppy", "category": 4}
    assert ev.contains(q, "She adopted a Puppy from the shelter.") == 1.0
    assert ev.contains(q, "a kitten") == 0.0
    adv = {"question": "What did Ben adopt?", "answer": "", "category": 5}
    assert ev.contains(adv, "Not mentioned") == 1.0 and ev.contains(adv, "a puppy") == 0.0


def test_skip_conversations_and_first_sessions_only(lib: Library, tmp_path: Path) -> None:
    import pytest

    from lingxi.errors import BadInput

    tiny = json.loads(json.dumps(CONV[0]))
    tiny["qa"].append({"question": "What does Ben's teacher say about him?", "answer": "his bowing is too stiff",
                       "evidence": ["D2:2"], "category": 4})
    other = {**json.loads(json.dumps(CONV[0])), "sample_id": "skipped"}
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([other, tiny]))
    # 1 extraction call (session 1 only: one window, nothing extracted so no reflection) + 1 system x the 2
    # questions whose evidence is in session 1; the question about session 2 is not asked
    chat = ScriptedChat([_reply] * 3)
    out = ev.evaluate(path, chat, lib.embedder, tmp_path / "m", last_n=2, context_tokens=2000,
                      only=["full-context"], skip=1, sessions=1)
    assert out["config"]["conversations"] == ["tiny"] and out["config"]["questions"] == 2
    assert out["config"]["skip_conversations"] == 1 and out["config"]["sessions"] == 1
    assert out["config"]["extraction"]["llm_calls"] == 1 and chat.calls == 3
    answer_prompts = ["\n\n".join(x["content"] for x in m) for m in chat.sent[1:]]
    assert all("Mochi" in p and "bowing" not in p for p in answer_prompts)
    assert not any("teacher" in p for p in answer_prompts)
    # a replay of the first sessions is cached apart from the full replay
    assert [f.name for f in (tmp_path / "m").glob("*.db")] == ["locomo-tiny-scripted-w16-s1.db"]
    with pytest.raises(BadInput, match="skip"):
        ev.evaluate(path, chat, lib.embedder, tmp_path / "m", skip=-1)
    with pytest.raises(BadInput, match="sessions"):
        ev.evaluate(path, chat, lib.embedder, tmp_path / "m", sessions=0)


def test_answers_over_one_context_share_their_first_message(lib: Library, tmp_path: Path) -> None:
    # the context is a message of its own before the question, so a local model reads a conversation once per row
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    chat = ScriptedChat([_reply] * 40)
    ev.evaluate(path, chat, lib.embedder, tmp_path / "eval-memory", window=16, last_n=2, context_tokens=2000, k=1)
    answers = [m for m in chat.sent if m[-1]["content"].startswith("Question: ")]
    full = answers[:2]  # full-context is asked first, both questions in turn
    assert len(answers) == 8 and all(len(m) == 2 for m in answers)
    assert full[0][0] == full[1][0] and "I adopted a puppy" in full[0][0]["content"]
    assert [m[-1]["content"] for m in full] == ["Question: " + q["question"] for q in CONV[0]["qa"]]
    assert "{" not in full[0][0]["content"]  # the template was filled


def test_a_replay_in_use_is_never_deleted_by_another_run(lib: Library, tmp_path: Path) -> None:
    import pytest

    from lingxi.errors import BadInput

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    home = tmp_path / "eval-memory"
    home.mkdir()
    db = home / "locomo-tiny-scripted-w16.db"
    # another process building this replay (no cost file yet): a second run stops instead of deleting its files
    holder = ev.replay_lock(home / f"{db.name}.lock", write=True)
    db.write_text("half-built")
    with pytest.raises(BadInput, match="another process is using this replay"):
        ev.evaluate(path, ScriptedChat([_reply] * 40), lib.embedder, home, k=1, context_tokens=2000)
    assert db.read_text() == "half-built"
    holder.close()
    db.unlink()
    # a built replay may be read by several runs at once; building one while another reads it is refused
    ev.evaluate(path, ScriptedChat([_reply] * 40), lib.embedder, home, k=1, context_tokens=2000, only=["lingxi"])
    reader = ev.replay_lock(home / f"{db.name}.lock", write=False)
    again = ev.evaluate(path, ScriptedChat([_reply] * 40), lib.embedder, home, k=1, context_tokens=2000,
                        only=["lingxi"])
    assert again["rows"][0]["metrics"]["f1"] == 1.0
    with pytest.raises(BadInput, match="another process is using"):
        ev.replay_lock(home / f"{db.name}.lock", write=True)
    reader.close()


def test_an_unknown_memory_context_is_refused_before_any_replay(lib: Library, tmp_path: Path) -> None:
    import pytest

    from lingxi.errors import BadInput

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(CONV))
    chat = ScriptedChat([])
    with pytest.raises(BadInput, match="memory context 'quotes'"):
        ev.evaluate(path, chat, lib.embedder, tmp_path / "home", memory_context="quotes")
    assert chat.calls == 0
