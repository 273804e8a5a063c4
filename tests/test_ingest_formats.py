"""Each parser on real-looking fixtures: exact chunk counts, exact locators, noise gone."""

from __future__ import annotations

import pytest

from lingxi.errors import BadInput
from lingxi.ingest import detect_format, parse_bytes
from lingxi.types import Note

from conftest import DATA, DEMO


def parse(path, fmt=None) -> tuple[str, list[Note]]:
    return parse_bytes(path.read_bytes(), path.name, fmt)


def assert_offsets(note: Note) -> None:
    for c in note.chunks:
        if c.locator.char_start is not None:
            assert note.body[c.locator.char_start : c.locator.char_end] == c.text


def test_shownotes_two_episodes_inline_chapters():
    fmt, notes = parse(DATA / "two-episodes.txt")
    assert fmt == "shownotes"
    assert [n.title for n in notes] == ["EP58 | 大模型的推理成本还能降多少", "EP59 | 一个人的公司"]
    ep1, ep2 = notes
    chapters = [c for c in ep1.chunks if c.meta.get("part") == "chapter"]
    assert [(c.locator.start_s, c.locator.end_s, c.text) for c in chapters] == [
        (0, 192, "开场"),
        (192, 885, "为什么推理比训练更花钱"),
        (885, 1651, "量化：从 FP16 到 4 比特"),
        (1651, 2468, "投机解码是怎么加速的"),
        (2468, 3920, "端侧模型和手机上的大模型"),
        (3920, None, "听众问答"),
    ]
    assert chapters[3].locator.label() == "00:27:31–00:41:08"
    desc = [c for c in ep1.chunks if c.meta.get("part") == "description"]
    assert len(desc) == 1 and desc[0].text.startswith("嘉宾：张弛") and "00:03:12" not in desc[0].text
    assert "时间线" not in " ".join(c.text for c in ep1.chunks)
    ch2 = [c for c in ep2.chunks if c.meta.get("part") == "chapter"]
    assert [c.locator.label() for c in ch2] == [
        "00:02:10–00:10:55",
        "00:10:55–00:21:30",
        "00:21:30–00:33:48",
        "00:33:48–00:47:02",
        "00:47:02",
    ]
    assert len(ep2.chunks) == 7
    for n in notes:
        assert_offsets(n)


def test_shownotes_demo_page_mm_ss_and_hours():
    _, notes = parse(DEMO / "podcasts" / "manmanliao-shownotes.txt")
    assert len(notes) == 2
    assert notes[0].meta["created_at"] == "2025-03-01"
    labels = {c.text: c.locator.label() for c in notes[1].chunks}
    assert labels["开源是为了展示架构创新"] == "00:05:46–00:08:20"
    assert labels["给开发者的三个建议"] == "01:02:10"


def test_srt_100_short_cues_merged():
    fmt, [note] = parse(DATA / "photosynthesis-class.srt")
    assert fmt == "srt"
    assert note.meta["cues"] == 104
    assert len(note.chunks) == 4
    assert [c.locator.label() for c in note.chunks] == [
        "00:00:00–00:01:17",
        "00:01:19–00:01:50",
        "00:01:53–00:02:44",
        "00:02:46–00:03:20",
    ]
    first = note.chunks[0]
    assert first.text.startswith("各位同学好 今天这节课 我们讲 光合作用")
    assert "-->" not in note.body and "\n1\n" not in note.body
    # every cue text appears exactly in order in the passages
    assert all(len(c.text) <= 320 for c in note.chunks)
    assert_offsets(note)


def test_vtt_tags_and_notes_removed():
    fmt, [note] = parse(DEMO / "subtitles" / "git-undo.vtt")
    assert fmt == "vtt"
    assert len(note.chunks) == 5
    assert note.chunks[2].text.startswith("Third, git reset --hard moves your branch back")
    assert "<v" not in note.body and "NOTE" not in note.body and "WEBVTT" not in note.body
    assert note.chunks[3].locator.label() == "00:00:33–00:00:39"


def test_unpunctuated_20kb_transcript():
    raw = (DATA / "cooking-live-asr.txt").read_bytes()
    assert len(raw) > 20_000
    fmt, [note] = parse(DATA / "cooking-live-asr.txt")
    assert fmt == "transcript"
    assert len(note.chunks) == 29
    assert all(120 <= len(c.text) <= 450 for c in note.chunks)
    assert_offsets(note)
    # chunks tile the text: only whitespace between consecutive chunks, nothing lost
    text = raw.decode().strip("\n")
    pos = 0
    for c in note.chunks:
        assert text[pos : c.locator.char_start].strip() == ""
        pos = c.locator.char_end
    assert text[pos:].strip() == ""
    assert note.chunks[0].locator.label() == "chars 0–180"


def test_transcript_cuts_at_pauses_without_punctuation():
    text = ("我们今天聊一下模型征流这个事情 " * 60).strip()
    _, [note] = parse_bytes(text.encode(), "asr.txt", "transcript")
    for c in note.chunks[:-1]:
        # every cut falls on an ASR pause (the space), never inside a phrase
        assert note.body[c.locator.char_end] == " "


def test_transcript_with_line_times():
    text = "[00:00:05] 大家好 今天聊聊跑步\n[00:01:10] 我们先说热身 " + "热身很重要 " * 60 + "\n[00:03:00] 最后说拉伸 " + "拉伸也很重要 " * 50
    _, [note] = parse_bytes(text.encode(), "run.txt", "transcript")
    assert note.chunks[0].locator.start_s == 5.0
    assert note.chunks[-1].locator.end_s is None
    assert note.chunks[-1].locator.start_s == 180.0


def test_markdown_liquid_noise_dropped_front_matter_kept():
    fmt, [note] = parse(DATA / "liquid-post.md")
    assert fmt == "markdown"
    assert note.title == "周末徒步：杭州九溪十八涧"
    assert note.meta["tags"] == ["徒步", "杭州", "周末", "outdoor"]
    assert note.meta["created_at"].startswith("2025-10-12")
    for noise in ("{%", "%}", "{{", "<div", "include", "![", "console.log", "旧内容", ".jpg"):
        assert noise not in note.body, noise
    assert "内容原样显示" in note.body  # a {% raw %} block is shown as it is written: only its tags go
    assert len(note.chunks) == 3
    assert [c.meta.get("section") for c in note.chunks] == [None, "路线", "补给"]
    assert "九溪十八涧是杭州最适合新手的徒步路线" in note.chunks[0].text
    assert_offsets(note)


def test_webpage_dump_breadcrumb_and_tail_removed():
    fmt, [note] = parse(DATA / "webpage-dump.txt")
    assert fmt == "webtext"
    assert note.title == "熬夜之后怎么补救？医生给出三条建议"
    assert note.meta["breadcrumb"] == "首页 > 生活 > 健康 > 正文"
    assert note.body.startswith("连续熬夜之后")
    assert note.body.endswith("不要自行硬扛。")
    for noise in ("首页", "登录", "热门推荐", "高速免费", "500万", "ICP", "版权所有"):
        assert noise not in note.body, noise
    assert len(note.chunks) == 1


def test_html_article_boilerplate_removed():
    fmt, [note] = parse(DEMO / "web" / "runners-knee.html")
    assert fmt == "html"
    assert note.title.startswith("Runner's knee")
    assert note.meta["created_at"] == "2025-05-09"
    assert "patellofemoral joint by around twenty percent" in note.body
    for noise in ("Log in", "SALE", "Related articles", "marathon shoes", "newsletter", "All rights reserved"):
        assert noise not in note.body, noise
    assert len(note.chunks) == 6
    assert [c.meta.get("section") for c in note.chunks][2] == "What raises the load"


def test_jsonl_rows_and_errors():
    fmt, notes = parse(DEMO / "notes" / "community-notes.jsonl")
    assert fmt == "jsonl"
    assert [n.id for n in notes] == ["note-1001", "note-1002", "note-1003", "note-1004", "note-1005"]
    assert notes[0].meta["author"] == "绿手指小林" and notes[0].meta["tags"] == ["多肉", "园艺", "新手"]
    with pytest.raises(BadInput, match=r"bad\.jsonl: line 2: field 'text' must be a non-empty string"):
        parse_bytes(b'{"id":"a","text":"ok"}\n{"id":"b","title":"x"}\n', "bad.jsonl")
    with pytest.raises(BadInput, match=r"line 1: not valid JSON"):
        parse_bytes(b"{nope\n", "bad.jsonl")
    with pytest.raises(BadInput, match=r"duplicate id 'a'"):
        parse_bytes(b'{"id":"a","text":"x"}\n{"id":"a","text":"y"}\n', "dup.jsonl")


def test_plain_text_paragraphs():
    fmt, [note] = parse(DEMO / "notes" / "camping-checklist.txt")
    assert fmt == "text"
    assert note.title == "First overnight camping trip: the checklist I wish I had"
    assert len(note.chunks) == 2
    assert_offsets(note)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.md", "# hi", "markdown"),
        ("a.htm", "<p>x</p>", "html"),
        ("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nhi\n", "srt"),
        ("a.srt", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", "vtt"),
        ("a.txt", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", "vtt"),
        ("a.txt", "1\n00:00:01,000 --> 00:00:02,000\nhi\n", "srt"),
        ("a.txt", "---\ntitle: x\n---\nbody", "markdown"),
        ("a.txt", "本期\n00:10 开场 05:20 正题 10:00 问答", "shownotes"),
        ("a.txt", "首页 > 科技\n标题\n" + "这是一段正文内容，讲的是一件事情。" * 3, "webtext"),
        ("a.txt", "今天我们聊一下这个模型 " * 40, "transcript"),
        ("a.txt", "Hello.\n\nThis is a note.", "text"),
        ("a.jsonl", '{"text":"x"}', "jsonl"),
    ],
)
def test_detect_format(name, content, expected):
    assert detect_format(name, content) == expected


def test_unknown_extension_and_bad_encoding():
    with pytest.raises(BadInput, match=r"photo\.png: unknown format for extension '\.png'"):
        parse_bytes(b"hello", "photo.png")
    with pytest.raises(BadInput, match=r"x\.txt: binary file"):
        parse_bytes(b"\x00\x01\x02abc", "x.txt")
    with pytest.raises(BadInput, match=r"x\.txt: unreadable encoding"):
        parse_bytes(bytes(range(128, 256)) * 4, "x.txt")
    with pytest.raises(BadInput, match=r"unknown format 'pdf'; choose one of: markdown, html"):
        parse_bytes(b"x", "x.txt", "pdf")


def test_gb18030_file_decoded():
    text = "成都的火锅很好吃。\n\n宽窄巷子人很多。"
    _, [note] = parse_bytes(text.encode("gb18030"), "gbk.txt")
    assert note.body == text


def test_bad_front_matter_named():
    with pytest.raises(BadInput, match=r"post\.md: front matter is not valid YAML"):
        parse_bytes(b"---\ntitle: [unclosed\n---\nbody\n", "post.md")


def test_html_keeps_the_articles_short_closing_line_with_edge_trim_on_or_off():
    """trafilatura's main text is kept as it is (the classifier's edge trim, ``EDGE_TRIM``, is off by default)."""
    from lingxi.ingest import html

    long = ("Nachdem ich mein Blog über zwei Jahre vernachlässigt hatte, wird es Zeit für einen Neuanfang mit einer "
            "neuen Version und einem neuen Design, das dem aktuellen Stand entspricht. ")
    page = (f"<html><head><title>Alles neu</title></head><body><nav><a href='/'>Home</a> <a href='/a'>Archiv</a>"
            f"</nav><article><h1>Alles neu macht der Mai</h1><p>{long * 2}</p><p>{long}</p><p>Der Anfang ist gemacht, "
            "jetzt muss ich nur noch regelmäßig schreiben und die alten Beiträge durchsehen, damit alles stimmt.</p>"
            "<p>Ich hoffe euch gefällt der Relaunch.</p></article><footer>Impressum | Datenschutz</footer></body></html>")
    _, [note] = parse_bytes(page.encode(), "mai.html")
    assert "Relaunch" in note.body and "Impressum" not in note.body
    token = html.EDGE_TRIM.set(True)
    try:
        _, [trimmed] = parse_bytes(page.encode(), "mai.html")
    finally:
        html.EDGE_TRIM.reset(token)
    # the trim keeps a clipped text's edges but for lines shorter than a sentence ("Impressum", a tip jar)
    assert "Relaunch" in trimmed.body


def test_sentence_spans_cut_chinese_and_english_ends_and_split_a_long_sentence():
    from lingxi.ingest.text import sentence_spans

    text = "熊猫早上最活跃。下午多在睡觉！Pandas eat bamboo. They sleep a lot?\n" + "很长的一句话，" * 60 + "完。"
    got = [text[a:b] for a, b in sentence_spans(text)]
    assert got[:4] == ["熊猫早上最活跃。", "下午多在睡觉！", "Pandas eat bamboo.", "They sleep a lot?"]
    long = got[4:]
    assert len(long) > 1 and all(len(s) <= 240 for s in long) and "".join(long) == text.split("\n")[1]
