"""The phonetic index of transcripts and the homophone noise its benchmark uses: exact tokens, exact ids."""

from __future__ import annotations

import pytest

from lingxi.errors import BadInput
from lingxi.evals.homophones import corrupt, homophone
from lingxi.index.phonetic import phonetic_tokens, syllables


def test_phonetic_tokens_are_toneless_syllable_pairs_per_chinese_run():
    assert syllables("捕蛇者说") == ("bu", "she", "zhe", "shuo")
    assert phonetic_tokens("欢迎收听捕蛇者说") == ["huan0ying", "ying0shou", "shou0ting", "ting0bu", "bu0she",
                                                 "she0zhe", "zhe0shuo"]
    # a homophone spelling sounds the same; runs are cut at non-Chinese text; one character gives its syllable
    assert phonetic_tokens("补舌者说") == phonetic_tokens("捕蛇者说")
    assert phonetic_tokens("第3期 Python") == ["di", "qi"]
    assert phonetic_tokens("no Chinese here") == []


def test_homophones_keep_sound_and_length_and_follow_the_seed():
    import random

    alt = homophone("知识", random.Random(0))
    assert alt is not None and alt != "知识" and syllables(alt) == syllables("知识") and len(alt) == 2
    text = "今天我们讨论知识蒸馏技术，以及大模型如何把能力教给小模型。" * 3
    noisy, done, total = corrupt(text, 0.2, seed=7)
    assert (noisy, done, total) == corrupt(text, 0.2, seed=7)  # seeded: the same every time
    assert len(noisy) == len(text) and noisy != text
    assert done == round(0.2 * total)
    changed = [(a, b) for a, b in zip(text, noisy) if a != b]
    assert changed and all(syllables(a) == syllables(b) for a, b in changed)


def _srt(cues: list[str]) -> str:
    return "\n".join(f"{i}\n00:00:{i:02d},000 --> 00:00:{i + 1:02d},000\n{c}\n" for i, c in enumerate(cues, 1))


@pytest.fixture
def asr(lib, tmp_path):
    # the recogniser wrote 补舌者说 for the podcast's name 捕蛇者说
    f = tmp_path / "ep.srt"
    f.write_text(_srt(["大家好欢迎收听补舌者说", "今天聊一聊天气和旅行"] + [f"第{i}段闲聊内容关于做饭" for i in range(30)]),
                 encoding="utf-8")
    g = tmp_path / "post.md"
    g.write_text("# 捕鱼\n\n渔民在海边捕鱼，说起很多故事。\n", encoding="utf-8")
    assert [r.status for r in lib.ingest([f, g])] == ["ingested", "ingested"]
    return lib


def test_phonetic_list_finds_the_homophone_written_cue(asr):
    hits = asr.search("捕蛇者说", k=3, mode="hybrid")
    [srt] = [h for h in hits if h.kind == "srt"]
    assert "补舌者说" in srt.chunk.text and srt.signals["phonetic_rank"] == 1
    assert asr.search("捕蛇者说", k=3, mode="bm25") == []  # no word of the question is written in the cue
    # the markdown post is not in the phonetic index (not a transcript kind), so it never gets a phonetic rank
    assert all("phonetic_rank" not in h.signals for h in hits if h.kind == "markdown")


def test_phonetic_switch(asr, tmp_path, monkeypatch):
    from dataclasses import replace

    s = asr.searcher()
    s.weights = replace(s.weights, phonetic=0.0)
    assert all("phonetic_rank" not in h.signals for h in s.search("捕蛇者说", k=5))
    from lingxi import Settings

    monkeypatch.setenv("LINGXI_PHONETIC", "-2")
    with pytest.raises(BadInput, match="LINGXI_PHONETIC"):
        Settings.load(tmp_path)
    monkeypatch.setenv("LINGXI_PHONETIC", "0")
    monkeypatch.setenv("LINGXI_PHONETIC_KINDS", "srt, jsonl")
    got = Settings.load(tmp_path)
    assert got.phonetic_weight == 0.0 and got.phonetic_kinds == ("srt", "jsonl")


def test_remove_and_rebuild_keep_the_phonetic_index_in_step(asr, tmp_path):
    count = lambda: asr.conn.execute("SELECT count(*) FROM chunk_phonetic").fetchone()[0]
    n = count()
    assert n > 0
    asr.rebuild_index()
    assert count() == n
    asr.remove([tmp_path / "ep.srt"])
    assert count() == 0
