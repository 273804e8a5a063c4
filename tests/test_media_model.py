"""The real OCR and speech models on fixtures made here (Pillow + Noto CJK, espeak-ng); marked ``model``."""

from __future__ import annotations

import shutil
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from lingxi import Library, Settings
from lingxi.agent import AgentConfig, SearchAgent

from fakes import ScriptedChat, passage_with

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import media_synth

pytestmark = pytest.mark.model

needs_font = pytest.mark.skipif(not any(Path(f).exists() for f in media_synth.FONTS),
                                reason="no CJK font: install fonts-noto-cjk (make sysdeps)")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (make sysdeps)")

EN_SAID = "The night market opens at seven, and the pork dumplings cost twelve yuan."


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None or not any(Path(f).exists() for f in media_synth.FONTS):
        pytest.skip("fixtures need espeak-ng and fonts-noto-cjk (make sysdeps)")
    d = tmp_path_factory.mktemp("media")
    media_synth.render(["成都三日游：早上八点去看熊猫", "Pandas are most active at 8 am."], "clean", seed=1).save(d / "card.png")
    media_synth.render(["周末市集路线", "先去东门买新鲜的水果和蔬菜，再到桥边喝一杯茶。",
                        "下午两点以后人很多，最好早点出门。", "Bring cash: some stalls take no cards.",
                        "The bus stop is beside the old bridge."], "two-column", seed=2).save(d / "market.png")
    media_synth.speak(EN_SAID, d / "memo.wav", "en")
    media_synth.speak("成都的熊猫早上八点最活跃，下午大多在睡觉。", d / "zh-memo.wav", "zh")
    with wave.open(str(d / "quiet.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.random.default_rng(0).normal(0, 30, 16000 * 4)).astype("<i2").tobytes())
    (d / "post.md").write_text("# 周末\n\n这是我收藏的卡片。\n\n![](card.png)\n", encoding="utf-8")
    (d / "truncated.jpg").write_bytes((d / "card.png").read_bytes()[:400])
    return d


@pytest.fixture(scope="module")
def lib(folder, tmp_path_factory):
    library = Library(Settings.load(tmp_path_factory.mktemp("home"), threads=1))
    library.reports = {Path(r.path).name: r for r in library.ingest([folder])}
    yield library
    library.close()


@needs_font
@needs_espeak
def test_images_and_voice_notes_ingest_beside_notes(lib):
    assert {k: r.status for k, r in lib.reports.items()} == {
        "card.png": "ingested", "market.png": "ingested", "memo.wav": "ingested", "post.md": "ingested",
        "quiet.wav": "empty", "truncated.jpg": "failed", "zh-memo.wav": "ingested"}
    assert "truncated.jpg: damaged or truncated image" in lib.reports["truncated.jpg"].reason


@needs_font
def test_real_ocr_reads_chinese_and_english_with_boxes(lib):
    [hit] = lib.search("早上八点去看熊猫", k=1, per_note=1, filters=["kind=image"])
    loc = hit.chunk.locator
    assert hit.title == "card" and loc.image == "card.png"
    assert "成都三日游：早上八点去看熊猫" in hit.chunk.text and "Pandas are most active at 8 am." in hit.chunk.text
    x0, y0, x1, y1 = loc.box
    assert 20 <= x0 <= 60 and 20 <= y0 <= 60 and 300 < x1 < 900 and y0 < y1 < 200


@needs_font
def test_real_ocr_reads_two_columns_in_order(lib):
    note = next(lib.get_note(n["id"]) for n in lib.list_notes(kind="image") if n["title"] == "market")
    order = [note.body.find(s) for s in ("周末市集路线", "新鲜的水果", "两点以后", "Bring cash", "bus stop")]
    assert -1 not in order and order == sorted(order), note.body


@needs_font
def test_a_post_gets_its_photo_text_located_in_the_image(lib):
    [hit] = lib.search("熊猫 八点", k=1, per_note=1, filters=["kind=markdown"])
    assert hit.title == "周末" and hit.chunk.locator.image == "card.png" and "早上八点去看熊猫" in hit.chunk.text


@needs_espeak
def test_real_asr_transcribes_english_with_times(lib):
    [hit] = lib.search("night market pork dumplings", k=1, per_note=1, filters=["kind=audio"])
    note = lib.get_note(hit.chunk.note_id)
    assert note.title == "memo" and note.meta["language"] == "en"
    text = hit.chunk.text.lower()
    assert sum(w in text for w in ("night", "market", "pork", "dumplings", "yuan")) >= 4, text
    assert ("seven" in text or "7" in text) and ("twelve" in text or "12" in text), text
    loc = hit.chunk.locator
    assert loc.start_s is not None and loc.end_s is not None and 0 <= loc.start_s < loc.end_s <= 8
    assert loc.label().startswith("00:00:0")


@needs_espeak
def test_the_language_is_detected_per_file(lib):
    zh = next(lib.get_note(n["id"]) for n in lib.list_notes(kind="audio") if n["title"] == "zh-memo")
    assert zh.meta["language"] == "zh"


@needs_font
def test_the_agent_cites_an_image_passage(lib):
    chat = ScriptedChat([
        {"sub_questions": [{"id": 1, "question": "熊猫几点最活跃", "depends_on": []}]},
        lambda m: {"found": True, "short_answer": "早上八点",
                   "answer": f"早上八点去看熊猫[{passage_with(m, '早上八点去看熊猫')}]。", "next_query": ""},
    ])
    # the script has no reply for a translated search
    agent = SearchAgent(chat, lambda q, k: lib.search(q, k=k, per_note=2), AgentConfig(translate=False))
    ans = agent.ask("熊猫几点最活跃？")
    assert ans.citations, ans.answer
    c = ans.citations[0]
    assert c.locator.image == "card.png" and c.locator.label().startswith("card.png (")
    assert c.quote in lib.store.get_chunks([c.chunk_id])[0].text
