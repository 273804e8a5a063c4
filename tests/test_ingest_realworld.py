"""Detection, titles, boilerplate and transcript chunking on real files nobody here wrote (../shared/data/realworld;
skipped when absent), and on small fixtures of our own."""

from __future__ import annotations

import json

import pytest

from lingxi.errors import BadInput
from lingxi.ingest import boilerplate as bp
from lingxi.ingest import parse_bytes, transcript

from conftest import DATA, shared_file

# file → (format detected, title, whether chunks carry times)
EXPECTED = {
    "markdown/hux-react-vs-angular2.jekyll.markdown": ("markdown", "「译」React vs Angular 2：冰与火之歌", False),
    "markdown/mzlogin-jsdelivr-cdn-2.jekyll.md": (
        "markdown", "使用 jsDelivr 免费加速 GitHub Pages 博客的静态资源（二）", False),
    "shownotes/notes-power.snipd.md": ("shownotes", "EP21. 笔记的力量：如何聪明、高效、有体系地使用笔记？", True),
    "shownotes/tim-ferriss-737-naval-kokonas.en.snipd.md": ("shownotes", "737: Naval Ravikant and Nick Kokonas", True),
    "shownotes/tulongzhishu-vol60-ai-knowledge.snipd.md": (
        "shownotes", "Vol.60 AI时代下的信息知识管理和学习效率---狂喜播客节-贰狂", True),
    "subtitles/pythonhunter-special04-buzz.zh.vtt": ("vtt", "pythonhunter-special04-buzz.zh", True),
    "transcripts/pythonhunter-ep03-whisper.txt": ("transcript", "pythonhunter-ep03-whisper", True),
    "transcripts/pythonhunter-avocado-toast-crossover-whisper.txt": (
        "transcript", "pythonhunter-avocado-toast-crossover-whisper", True),
    "transcripts/3b1b-harvey-mudd-speech.en.word_timings.json": (
        "asrjson", "3b1b-harvey-mudd-speech.en.word_timings", True),
    "transcripts/3b1b-harvey-mudd-speech.en.asr.txt": ("text", "3b1b-harvey-mudd-speech.en.asr", False),
    "web/bilibili-713-outage-postmortem.clip.md": ("markdown", "bilibili-713-outage-postmortem.clip", False),
    "web/sina-news-huawei-5g-chip.html": ("html", "最强“中国芯”本月商用 华为抢跑5G芯片大战", False),
    "web/people-culture-zhengbanqiao.html": ("html", "女儿出嫁，郑板桥画了几笔兰花当嫁妆", False),
}


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_realworld_format_title_times(rel):
    path = shared_file(f"realworld/{rel}")
    fmt, notes = parse_bytes(path.read_bytes(), path.name)
    want_fmt, want_title, timed = EXPECTED[rel]
    assert (fmt, notes[0].title) == (want_fmt, want_title)
    assert all((c.locator.start_s is not None) == timed for c in notes[0].chunks if c.meta.get("part") != "description")
    for c in notes[0].chunks:
        assert notes[0].body[c.locator.char_start : c.locator.char_end] == c.text


def test_snipd_placeholder_chapters_and_clip_ranges_dropped():
    path = shared_file("realworld/shownotes/tulongzhishu-vol60-ai-knowledge.snipd.md")
    _, [note] = parse_bytes(path.read_bytes(), path.name)
    texts = [c.text for c in note.chunks]
    assert "Untitled" not in texts and not any("Play snip" in t for t in texts)
    chapters = [c for c in note.chunks if c.meta.get("part") == "chapter"]
    assert chapters[0].text == "看到这个选题，主播们的第一感觉" and chapters[0].locator.label() == "00:01:42–00:03:12"
    assert note.meta["show"] == "屠龙之术"


def test_snip_transcripts_carry_their_clip_range():
    path = shared_file("realworld/shownotes/tim-ferriss-737-naval-kokonas.en.snipd.md")
    _, [note] = parse_bytes(path.read_bytes(), path.name)
    [chunk] = [c for c in note.chunks if "I have a couple of core foundational values" in c.text]
    assert chunk.meta["part"] == "description" and chunk.locator.label() == "00:06:05–00:08:00"
    # the episode description above the snips has no time
    assert note.chunks[0].text.startswith("This episode is a two-for-one") and note.chunks[0].locator.start_s is None


WHISPER = "\n".join(
    [f"[00:{i:02d}.000 --> 00:{i + 1:02d}.000] 今天我们聊一聊咖啡的烘焙程度和风味变化第{i}句" for i in range(0, 20)]
    + [f"[01:{i:02d}.000 --> 01:{i + 1:02d}.000] 换个话题说说跑步训练的心率区间安排第{i}句" for i in range(0, 20)]
)


def test_whisper_lines_are_a_timed_transcript():
    fmt, [note] = parse_bytes(WHISPER.encode(), "episode.txt")
    assert fmt == "transcript"
    assert "-->" not in note.body and note.meta["segments"] == 40
    assert note.chunks[0].locator.start_s == 0.0
    assert all(c.locator.end_s is not None for c in note.chunks)


def test_topic_chunking_cuts_at_the_pause_and_topic_shift():
    token = transcript.CHUNKING.set(transcript.Policy("topic", 400))
    try:
        _, [note] = parse_bytes(WHISPER.encode(), "episode.txt")
    finally:
        transcript.CHUNKING.reset(token)
    # 40 s of silence and a new subject between the two halves: the cut falls exactly there
    assert [c.locator.label() for c in note.chunks] == ["00:00:00–00:00:20", "00:01:00–00:01:20"]
    token = transcript.CHUNKING.set(transcript.Policy("length", 400))
    try:
        _, [note] = parse_bytes(WHISPER.encode(), "episode.txt")
    finally:
        transcript.CHUNKING.reset(token)
    assert note.chunks[0].locator.end_s != 20.0


def test_pause_chunking_cuts_where_the_recogniser_ended_a_sentence():
    # contiguous segments (no silences): the only boundary signal is the one full stop, after segment 12
    lines = [f"[00:{i:02d}.000 --> 00:{i + 1:02d}.000] 我们继续聊这个话题里面的细节部分{i}" + ("。" if i == 12 else "")
             for i in range(30)]
    token = transcript.CHUNKING.set(transcript.Policy("pause", 300))
    try:
        _, [note] = parse_bytes("\n".join(lines).encode(), "talk.txt")
    finally:
        transcript.CHUNKING.reset(token)
    assert note.chunks[0].text.endswith("细节部分12。")
    assert note.chunks[1].locator.start_s == 13.0


def test_bad_chunking_setting_is_named(monkeypatch):
    monkeypatch.setenv("LINGXI_TRANSCRIPT_CHUNKING", "sentences")
    with pytest.raises(Exception, match="LINGXI_TRANSCRIPT_CHUNKING='sentences'; choose one of: length, pause, topic"):
        parse_bytes(WHISPER.encode(), "episode.txt")


PAGE = """新闻 | 体育 | 财经 | 娱乐 | 科技
登录 注册
首页 > 科技 > 正文
城市夜跑热兴起 专家提醒注意心率
2025-05-01 08:00 来源：晚报
分享到：
越来越多的年轻人下班后选择夜跑，城市公园里的跑道常常到十点还很热闹。运动医学专家提醒，夜跑前要充分热身，跑步时把心率控制在合适的区间。
装备建议
反光背心
头灯
专家说，夜间视线差，反光装备能让车辆更早发现跑者；跑完后要拉伸十分钟，再补充水分，不要立刻入睡。
今天08:12举报赞1,356回复
热门推荐
这款手机降价1000元
男子中了500万后的第一件事
某品牌跑鞋限时¥199
Copyright © 2025 晚报 版权所有
"""


def test_boilerplate_drops_chrome():
    text = bp.strip_boilerplate(PAGE)
    assert "越来越多的年轻人" in text
    for gone in ("登录", "分享到", "举报", "热门推荐", "降价", "500万", "¥199", "Copyright", "体育"):
        assert gone not in text, gone


def test_boilerplate_keeps_short_list_inside_article():
    text = bp.strip_boilerplate(PAGE)
    for kept in ("装备建议", "反光背心", "头灯", "不要立刻入睡。"):
        assert kept in text, kept
    # without the bridge step the list and the paragraph after it are cut off with the chrome
    assert "头灯" not in bp.strip_boilerplate(PAGE, disabled=["bridge"])


def test_boilerplate_rules_switch_off():
    with pytest.raises(ValueError, match="unknown boilerplate rules"):
        bp.Classifier(disabled=["nope"])
    token = bp.DISABLED.set(frozenset({"numerals"}))
    try:
        assert bp.Classifier().features.keys() == set(bp.FEATURES) - {"numerals"}
    finally:
        bp.DISABLED.reset(token)


def test_webtext_fixture_title_and_body():
    fmt, [note] = parse_bytes((DATA / "webpage-dump.txt").read_bytes(), "webpage-dump.txt")
    assert fmt == "webtext" and note.title == "熬夜之后怎么补救？医生给出三条建议"


def test_word_timings_json_becomes_timed_segments():
    words = [[" Last", 0.0, 0.28], [" year,", 0.28, 0.7], [" we", 0.84, 0.96], [" met.", 0.96, 1.3],
             [" Then", 3.0, 3.2], [" nothing", 3.2, 3.6], [" happened", 3.6, 4.0]]
    fmt, [note] = parse_bytes(json.dumps(words).encode(), "talk.json")
    assert fmt == "asrjson" and note.kind == "transcript"
    assert note.body == "Last year, we met.\nThen nothing happened"
    assert [c.locator.label() for c in note.chunks] == ["00:00:00–00:00:04"]


def test_whisper_json_segments_and_bad_json():
    doc = {"segments": [{"start": 0.0, "end": 2.5, "text": " 大家好"}, {"start": 2.5, "end": 5.0, "text": "欢迎收听"}]}
    _, [note] = parse_bytes(json.dumps(doc, ensure_ascii=False).encode(), "ep.json")
    assert note.body == "大家好\n欢迎收听" and note.meta["duration_s"] == 5.0
    with pytest.raises(BadInput, match=r"cfg\.json: expected Whisper JSON"):
        parse_bytes(b'{"name": "x"}', "cfg.json")
    with pytest.raises(BadInput, match=r"ep\.json: segments\[0\]: time must be a number of seconds, got '0'"):
        parse_bytes(b'{"segments": [{"start": "0", "end": 1, "text": "hi"}]}', "ep.json")


def test_plain_text_title_is_a_heading_not_a_first_sentence():
    _, [note] = parse_bytes(b"Last year, Grant gave a talk.\nIt was about math.\n", "speech.asr.txt")
    assert note.title == "speech.asr"
    _, [note] = parse_bytes(b"Packing list\nTent\nStove\n", "list.txt")
    assert note.title == "Packing list"


def test_markdown_entities_and_escapes_read_as_text_but_code_kept():
    md = (
        "# Outage\n\nThe balance\\_by\\_lua phase got &#34;0&#34; &amp; looped.\n\n"
        "```\nif b == \"0\" then return &#34;x&#34; end -- balance\\_by\\_lua\n```\n"
    )
    _, [note] = parse_bytes(md.encode(), "post.md")
    assert 'The balance_by_lua phase got "0" & looped.' in note.body
    assert 'return &#34;x&#34; end -- balance\\_by\\_lua' in note.body


# a select-all copy: one paragraph per line
EN_PAGE = """Home | World | Business | Tech | Sport | Weather
Sign in   Subscribe
We use cookies to improve your experience
Accept all
Tech
Small towns are building their own fibre networks
By Jane Doe | 4 May 2025 | 5 min read
Share
When the national carriers passed over the valley, the residents of Millbrook decided to dig the trenches \
themselves. Three years later, 1,200 homes have gigabit connections run by a co-operative that answers to them.
What it took
Volunteers for the digging
A loan from the county
Two engineers on retainer
The co-operative charges members a flat monthly fee and reinvests any surplus in extending the network to the \
farms at the edge of the valley, which private firms had called uneconomic.
Comments (12)
Report
Related stories
Phone prices rise again as chips run short
New electric SUV launches at $39,999
Ten jobs hiring now near you
Copyright 2025 Example News Ltd. All rights reserved.
"""


def test_english_page_dump():
    fmt, [note] = parse_bytes(EN_PAGE.encode(), "fibre.txt")
    assert fmt == "webtext"
    assert note.title == "Small towns are building their own fibre networks"
    for kept in ("residents of Millbrook", "What it took", "A loan from the county", "farms at the edge"):
        assert kept in note.body, kept
    for gone in ("Sign in", "cookies", "Share", "Comments", "Report", "Related", "$39,999", "Copyright", "Weather"):
        assert gone not in note.body, gone


def test_a_plain_note_with_a_list_is_not_a_page_dump():
    note = (
        "周末露营清单\n\n第一次去山里露营，我按照朋友的建议准备了下面这些东西，大部分都用上了，少数几样其实可以不带。\n\n"
        "帐篷\n睡袋\n防潮垫\n头灯\n炉头和气罐\n\n"
        "晚上山里降温很快，睡袋的温标要比预报的最低气温再低五度才够用，这是这次最大的教训。\n"
    )
    fmt, [n] = parse_bytes(note.encode(), "camping.txt")
    assert fmt == "text" and n.title == "周末露营清单" and "炉头和气罐" in n.body
