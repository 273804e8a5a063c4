"""Images and voice notes without the models: reading order, audio windows, bad files, locators, image references."""

from __future__ import annotations

import json
import math
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from lingxi import Library, Settings
from lingxi.errors import BadInput
from lingxi.ingest import image as image_ingest
from lingxi.ingest import parse_bytes
from lingxi.ingest.formats import media_format
from lingxi.media import Recognizers, stream
from lingxi.media.asr import Segment, Transcript
from lingxi.media.layout import join, paragraphs
from lingxi.media.ocr import OcrLine
from lingxi.types import Locator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


def line(text: str, x0: float, y0: float, x1: float, y1: float, score: float = 0.99, angle: float = 0.0) -> OcrLine:
    c, s = math.cos(angle), math.sin(angle)
    pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return OcrLine(text, score, tuple((x * c - y * s, x * s + y * c) for x, y in pts))


def test_two_columns_under_a_title_are_read_column_by_column():
    lines = [
        line("Weekend in Chengdu: three days", 40, 40, 860, 80),
        line("Pandas wake early and are most", 40, 120, 420, 156), line("Sichuan pepper numbs rather", 480, 120, 860, 156),
        line("active at eight in the morning.", 40, 168, 420, 204), line("than burns; ask for mild.", 480, 168, 860, 204),
    ]
    paras = paragraphs(lines)
    assert [p.text for p in paras] == [
        "Weekend in Chengdu: three days",
        "Pandas wake early and are most active at eight in the morning.",
        "Sichuan pepper numbs rather than burns; ask for mild.",
    ]


def test_key_value_rows_stay_rows_and_chinese_lines_join_without_spaces():
    lines = [line("面粉", 40, 40, 100, 70), line("200克", 400, 40, 480, 70),
             line("鸡蛋", 40, 80, 100, 110), line("2个", 400, 80, 450, 110)]
    assert [p.text for p in paragraphs(lines)] == ["面粉 200克鸡蛋 2个"]
    assert join("早上八点", "去看熊猫") == "早上八点去看熊猫"
    assert join("straw-", "berry jam") == "strawberry jam"


def test_a_rotated_photo_is_read_in_its_own_frame():
    rows = [line(f"line {i} of the card", 40, 40 + 50 * i, 600, 76 + 50 * i, angle=math.radians(10)) for i in range(4)]
    # shuffled input order; the 10° tilt makes later lines start left of and above earlier lines' right ends
    got = paragraphs([rows[2], rows[0], rows[3], rows[1]])
    assert [p.text for p in got] == ["line 0 of the card line 1 of the card line 2 of the card line 3 of the card"]


def test_a_wide_gap_starts_a_paragraph():
    lines = [line("First paragraph here.", 40, 40, 500, 76), line("Second one after a gap.", 40, 160, 500, 196)]
    assert [p.text for p in paragraphs(lines)] == ["First paragraph here.", "Second one after a gap."]


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def test_audio_is_decoded_in_windows_cut_at_quiet_points(tmp_path):
    rate = 8000  # resampled to 16 kHz on the way
    t = np.arange(rate * 25) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    tone[int(rate * 8.5) : int(rate * 9.0)] = 0.0  # a pause just before the 10 s window edge
    path = write_wav(tmp_path / "tone.wav", tone, rate)
    assert stream.duration(path) == pytest.approx(25.0, abs=0.01)
    parts = list(stream.windows(path, window_s=10.0))
    assert parts[0][0] == 0.0 and 8.5 <= len(parts[0][1]) / stream.RATE <= 9.0
    assert sum(len(a) for _, a in parts) == pytest.approx(25 * stream.RATE, abs=64)
    assert all(math.isclose(off, sum(len(a) for _, a in parts[:i]) / stream.RATE) for i, (off, _) in enumerate(parts))
    assert max(len(a) for _, a in parts) <= 10 * stream.RATE


def test_bad_media_files_name_the_file_and_the_reason(tmp_path):
    fake = tmp_path / "voice.mp3"
    fake.write_text("not audio at all")
    with pytest.raises(BadInput, match=r"voice\.mp3: not a readable audio or video file"):
        list(stream.windows(fake, name="voice.mp3"))
    png = tmp_path / "card.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(BadInput, match=r"card\.png: "):
        image_ingest.load(png, "card.png")
    txt = tmp_path / "photo.jpg"
    txt.write_text("hello")
    with pytest.raises(BadInput, match=r"photo\.jpg: not an image Pillow can read"):
        image_ingest.load(txt, "photo.jpg")


def test_media_formats_by_extension_and_option():
    assert media_format("a/b.JPG") == "image" and media_format("x.opus") == "audio" and media_format("v.webm") == "audio"
    assert media_format("notes.md") is None and media_format("notes.md", "image") == "image"
    assert media_format("x.png", "markdown") is None


def test_image_locator_label_and_round_trip(tmp_path):
    loc = Locator(char_start=0, char_end=10, image="card.png", box=(12, 30, 400, 96))
    assert loc.label() == "card.png (12,30)–(400,96)"
    assert json.loads(json.dumps(loc.to_dict())) == {"char_start": 0, "char_end": 10, "image": "card.png",
                                                      "box": [12, 30, 400, 96], "label": "card.png (12,30)–(400,96)"}


class ScriptedOcr:
    """An OCR engine replaying fixed lines (the real one runs in test_media_model.py)."""

    def __init__(self, lines: list[OcrLine]) -> None:
        self.lines = lines
        self.calls = 0

    def read(self, image):
        self.calls += 1
        return list(self.lines)


class ScriptedAsr:
    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments

    def transcribe(self, path, name="", progress=None):
        stream.duration(path, name)  # a damaged file still fails as with the real recogniser
        if progress:
            progress(3.0, 3.0)
        return Transcript("en", 0.9, 3.0, tuple(self.segments))


def png(path: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_markdown_and_jsonl_references_bring_the_image_text_into_the_note(tmp_path):
    png(tmp_path / "card.png")
    ocr = ScriptedOcr([line("早上八点去看熊猫", 10, 10, 300, 40), line("blurry line", 10, 50, 200, 80, score=0.41)])
    post = b"# Chengdu\n\nOur trip.\n\n![the card](card.png \"card\")\n\n![](missing.jpg)\n![](https://x.org/a.png)\n"
    _, [note] = parse_bytes(post, str(tmp_path / "post.md"), media=Recognizers(ocr=ocr))
    assert note.meta["images_read"] == ["card.png"]
    assert note.meta["image_errors"] == ["missing.jpg: no such image beside the note",
                                         "https://x.org/a.png: remote image not fetched"]
    first, extra = note.chunks
    assert first.locator.image is None and "Our trip." in first.text
    assert extra.text == "早上八点去看熊猫blurry line" and note.body.endswith(extra.text)
    assert note.body[extra.locator.char_start : extra.locator.char_end] == extra.text
    assert extra.locator.image == "card.png" and extra.locator.box == (10, 10, 300, 80)
    assert extra.meta["low_confidence"] == ["blurry line"]
    # a post that is only a photo becomes a note with the photo's text
    _, [only] = parse_bytes(b"![](card.png)\n", str(tmp_path / "only.md"), media=Recognizers(ocr=ocr))
    assert only.body == "早上八点去看熊猫blurry line"
    # without recognisers the same post has no text
    with pytest.raises(BadInput, match="no text content found"):
        parse_bytes(b"![](card.png)\n", str(tmp_path / "only.md"))
    row = json.dumps({"id": "p1", "text": "见图", "images": ["card.png"]}, ensure_ascii=False).encode()
    _, [jn] = parse_bytes(row, str(tmp_path / "rows.jsonl"), media=Recognizers(ocr=ocr))
    assert jn.id == "p1" and jn.chunks[-1].locator.image == "card.png"


def test_library_reports_failed_empty_and_ingested_media_and_keeps_the_store(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    png(d / "card.png")
    write_wav(d / "memo.wav", np.zeros(16000))
    whole = png(tmp_path / "whole.png").read_bytes()
    (d / "broken.jpg").write_bytes(whole[: len(whole) * 2 // 3])  # a truncated image under the wrong extension
    (d / "fake.m4a").write_text("nope")
    (d / "note.md").write_text("# Note\n\nPlain text.\n")
    lib = Library(Settings.load(tmp_path / "home", threads=1, embedder="none"))
    ocr = ScriptedOcr([line("Pandas are most active at 8 am", 4, 4, 60, 20)])
    lib.recognizers = Recognizers(ocr=ocr, asr=ScriptedAsr([Segment(0.5, 2.5, "the morning is best for pandas")]))
    reports = {Path(r.path).name: r for r in lib.ingest([d])}
    assert {k: r.status for k, r in reports.items()} == {
        "broken.jpg": "failed", "card.png": "ingested", "fake.m4a": "failed", "memo.wav": "ingested", "note.md": "ingested"}
    assert "broken.jpg: damaged or truncated image" in reports["broken.jpg"].reason
    assert "fake.m4a: not a readable audio or video file" in reports["fake.m4a"].reason
    before = lib.stats()
    # the same recording now holds no speech: reported empty, the store keeps what it had
    lib.recognizers = Recognizers(ocr=ocr, asr=ScriptedAsr([]))
    write_wav(d / "memo.wav", np.zeros(8000))
    r = lib.ingest_file(d / "memo.wav")
    assert r.status == "empty" and r.reason.endswith("memo.wav: no speech found (3.0 s of audio)")
    assert lib.stats()["chunks"] == before["chunks"]
    [hit] = lib.search("pandas active", k=1, mode="bm25")
    assert hit.kind == "image" and hit.chunk.locator.image == "card.png" and hit.chunk.locator.box == (4, 4, 60, 20)
    [hit] = lib.search("morning best", k=1, mode="bm25")
    assert hit.kind == "audio" and (hit.chunk.locator.start_s, hit.chunk.locator.end_s) == (0.5, 2.5)
    assert hit.chunk.locator.label() == "00:00:00–00:00:02"
    lib.close()


def test_an_image_with_no_text_is_empty_not_a_note(tmp_path):
    png(tmp_path / "blank.png")
    lib = Library(Settings.load(tmp_path / "home", threads=1, embedder="none"))
    lib.recognizers = Recognizers(ocr=ScriptedOcr([]))
    r = lib.ingest_file(tmp_path / "blank.png")
    assert (r.status, r.format) == ("empty", "image") and r.reason.endswith("no text found in the image")
    assert lib.stats()["notes"] == 0
    lib.close()


def test_synthesised_fixtures_render_and_speak(tmp_path):
    media_synth = pytest.importorskip("media_synth")
    img = media_synth.render(["标题一行", "左栏第一段文字内容比较长一些", "右栏第二段", "third"], "two-column", seed=3)
    assert img.size[0] == 900 and img.size[1] > 100
    assert media_synth.pinyin("早上八点，去看熊猫。") == "zao3 shang4 ba1 dian3, qu4 kan4 xiong2 mao1"


def test_a_line_the_detector_ran_across_a_gutter_is_split_at_the_wide_gap():
    from lingxi.media.ocr import split_line

    joined = OcrLine("早上七点开门 Bring cash", 0.97, ((10, 10), (600, 10), (600, 46), (10, 46)))
    pieces = [("早", 0.9, [[10, 10], [36, 10], [36, 46], [10, 46]]), ("上", 0.9, [[40, 10], [66, 10], [66, 46], [40, 46]]),
              ("七点开门", 0.9, [[70, 10], [180, 10], [180, 46], [70, 46]]),
              ("Bring", 0.9, [[240, 10], [330, 10], [330, 46], [240, 46]]),
              ("cash", 0.9, [[340, 10], [600, 10], [600, 46], [340, 46]])]
    left, right = split_line(joined, pieces)
    assert (left.text, left.box) == ("早上七点开门", (10, 10, 180, 46))
    assert (right.text, right.box) == ("Bring cash", (240, 10, 600, 46))
    # pieces that do not spell the line, or no wide gap: the line stays whole
    assert split_line(joined, pieces[:2]) == [joined]
    assert split_line(joined, [("早上七点开门 Bring cash", 0.9, [[10, 10], [600, 10], [600, 46], [10, 46]])]) == [joined]


def test_split_weights_are_joined_checked_and_never_used_half_written(tmp_path, monkeypatch):
    import hashlib
    import types

    from lingxi.errors import BackendUnavailable
    from lingxi.media import weights

    for name, files in {"fakeparts_a": {"m.part1": b"hello "}, "fakeparts_b": {"m.part2": b"world", "c.json": b"{}"}}.items():
        pkg = tmp_path / name
        (pkg / "data").mkdir(parents=True)
        for f, data in files.items():
            (pkg / "data" / f).write_bytes(data)
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(__file__=str(pkg / "__init__.py")))
    good = weights.SplitWeights("tiny", (("fakeparts_a", "m.part1"), ("fakeparts_b", "m.part2")),
                                (("fakeparts_b", "c.json", hashlib.sha256(b"{}").hexdigest()),), "fake==1",
                                11, hashlib.sha256(b"hello world").hexdigest())
    monkeypatch.setenv("LINGXI_MODEL_CACHE", str(tmp_path / "cache"))
    folder = weights.assemble(good)
    assert folder == tmp_path / "cache" / "tiny" and (folder / "model.bin").read_bytes() == b"hello world"
    assert (folder / "c.json").read_bytes() == b"{}" and sorted(p.name for p in folder.iterdir()) == [
        "c.json", "model.bin", "model.bin.sha256"]
    bad = weights.SplitWeights("bad", good.parts, good.extras, "fake==1", 11, "0" * 64)
    with pytest.raises(BackendUnavailable, match="assembled bad has SHA-256 .*, expected 0000"):
        weights.assemble(bad)
    assert not (tmp_path / "cache" / "bad" / "model.bin").exists()
    assert [p.name for p in (tmp_path / "cache" / "bad").iterdir()] == ["c.json"]
