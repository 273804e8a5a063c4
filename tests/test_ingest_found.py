"""Shapes found in real public files the parsers had never seen (blog repositories, caption tracks, podcast
transcript archives, web pages): each fixture is written here in that shape, not copied."""

from __future__ import annotations

from lingxi.ingest import parse_bytes
from lingxi.ingest.boilerplate import _PRICE
from lingxi.ingest.formats import sniff
from lingxi.ingest.text import decode


def parse(text: str, name: str) -> tuple[str, list]:  # type: ignore[type-arg]
    return parse_bytes(text.encode("utf-8"), name)


POST = """---
title: 图数据库入门
categories:
- ["数据库", "Neo4j"]
tags: [笔记]
---
Cypher 建节点的写法如下，尖括号里的名字要换成自己的。

```cypher
CREATE (<node-name>:<label-name>)
# 这一行是注释，不是标题
{% raw %}{{ 不是模板 }}{% endraw %}
```

行内代码 `<b>` 也原样保留，正文里的 <b>标签</b> 去掉。

## 查询

MATCH 用来查询。
"""


def test_markdown_code_is_kept_as_written_and_its_comments_are_no_headings():
    fmt, [note] = parse(POST, "cypher.md")
    assert fmt == "markdown" and note.title == "图数据库入门"
    assert "CREATE (<node-name>:<label-name>)" in note.body
    assert "{% raw %}{{ 不是模板 }}{% endraw %}" in note.body
    assert "`<b>`" in note.body and "正文里的 标签 去掉" in note.body
    assert [c.meta.get("section") for c in note.chunks] == [None, "查询"]
    assert note.meta["tags"] == ["笔记", "数据库", "Neo4j"]  # Hexo's category path, flattened


def test_markdown_title_is_never_a_comment_inside_code():
    _, [note] = parse("```bash\n# 3. 确认再 push\ngit push\n```\n\n# 发布流程\n\n先构建再推送。\n", "deploy.md")
    assert note.title == "deploy"  # the text does not open with its heading: the file's name, as note apps show it
    _, [note] = parse("# 发布流程\n\n```bash\n# 3. 确认再 push\ngit push\n```\n", "deploy.md")
    assert note.title == "发布流程"


def test_note_app_pages():
    obsidian = ("---\nsource: SimpRead\ntitle: 稀疏矩阵\nsummary: 第一行\n第二行没有缩进\n---\n"
                "> [!abstract]+ 摘要\n> 稀疏矩阵大部分元素为零。 ^sran-1673401683321\n\n"
                "**原文**:: [[2023_01_11]] 见 [[矩阵#存储|存储格式]] 和 [[CSR]]。![[diagram.png]]\n\n"
                "参考 [SciPy 文档][scipy]。\n\n[scipy]: https://docs.scipy.org\n")
    bad: list[str] = []
    fmt, [note] = parse_bytes(obsidian.encode(), "稀疏矩阵.md", bad_rows=bad)
    assert fmt == "markdown" and note.title == "稀疏矩阵" and note.meta["source"] == "SimpRead"
    assert bad == ["稀疏矩阵.md: front matter is not valid YAML at line 5; only its one-line fields were read"]
    assert note.body == ("> 摘要\n> 稀疏矩阵大部分元素为零。\n\n**原文**: 2023_01_11 见 存储格式 和 CSR。\n\n"
                         "参考 SciPy 文档。")
    logseq = ("tags:: book, 小说\ntype:: 读书\n\n- # 第二章\n- > 说到赔钱，快递员常常赔钱。\n  collapsed:: true\n-\n"
              "- 算法步骤\n  logseq.order-list-type:: number\n")
    _, [note] = parse(logseq, "我在北京送快递.md")
    assert note.title == "我在北京送快递" and note.meta["tags"] == ["book", "小说"] and note.meta["type"] == "读书"
    assert "::" not in note.body and "说到赔钱" in note.body and "算法步骤" in note.body


def test_a_clipped_note_of_short_steps_is_kept_whole_and_its_edges_trimmed():
    steps = ("---\nurl: https://blog.example.com/wsl-ssh\ntitle: 在 WSL2 上运行 Nsight\n---\n本文亦提供以下语言版本: English\n\n"
             "## 第一步：打开 WSL 的 ssh 连接\n\n### 1. 安装 SSH 服务\n\nsudo apt install openssh-server\n\n"
             "### 2. 重启 SSH\n\nsudo service ssh restart\n\n## 第二步：安装 Nsight\n\n"
             "在 NVIDIA 的网站注册下载安装 Nsight，同时确保本机已经安装好 WSL2 和显卡驱动。\n\n打赏\n\n微信\n\nPayPal\n")
    _, [note] = parse(steps, "nsight.md")
    assert note.body.startswith("## 第一步") and "sudo service ssh restart" in note.body
    assert note.body.endswith("显卡驱动。") and "English" not in note.body


def test_hexo_front_matter_without_its_opening_line():
    _, [note] = parse("title: 微积分的本质\ndate: 2020-05-09 18:28:21\ncategories: 数学\n\n---\n\n## 导论\n\n三个中心思想。\n",
                      "calculus.md")
    assert note.title == "微积分的本质" and note.meta["tags"] == ["数学"] and note.body.startswith("## 导论")


def test_toml_front_matter():
    text = '+++\ntitle = "Hugo 指南"\ndate = 2021-03-04\ntags = ["hugo", "博客"]\n+++\n\n# 常用命令\n\nhugo server 启动预览。\n'
    fmt, [note] = parse(text, "hugo.md")
    assert fmt == "markdown" and note.title == "Hugo 指南"
    assert note.meta["tags"] == ["hugo", "博客"] and note.meta["created_at"].startswith("2021-03-04")
    assert "+++" not in note.body and "title =" not in note.body
    assert sniff(text) == "markdown"


CAPTIONS = """WEBVTT

00:00:01.000 --> 00:00:02.000
Emo?

00:00:02.100 --> 00:00:03.000
Watch out!

00:00:03.100 --> 00:00:04.000
你还好吗？

00:00:04.100 --> 00:00:05.000
还好。
"""


def test_caption_lines_ending_in_a_question_keep_their_space():
    _, [note] = parse(CAPTIONS, "c.vtt")
    assert note.body == "Emo? Watch out!你还好吗？还好。"  # no space between a mark and Chinese


ROLLING = """WEBVTT
Kind: captions
Language: en

00:00:00.160 --> 00:00:02.350 align:start position:0%
{blank}
lost<00:00:00.520><c> another</c><00:00:00.880><c> colony</c><00:00:01.240><c> to</c><00:00:01.439><c> raiders</c>

00:00:02.350 --> 00:00:02.360 align:start position:0%
lost another colony to raiders
\x20

00:00:02.360 --> 00:00:04.269 align:start position:0%
lost another colony to raiders
make<00:00:02.520><c> sure</c><00:00:02.879><c> the</c><00:00:03.040><c> next</c><00:00:03.280><c> one</c>

00:00:04.269 --> 00:00:04.279 align:start position:0%
make sure the next one
\x20

00:00:04.279 --> 00:00:06.789 align:start position:0%
make sure the next one
does<00:00:04.520><c> not</c><00:00:04.839><c> suffer</c>
"""


def test_rolling_auto_captions_read_once_from_their_first_word():
    for blank in (" ", ""):  # as the site writes them, and with the line of spaces lost on the way
        _, [note] = parse(ROLLING.replace("{blank}", blank), "auto.en.vtt")
        assert note.body == "lost another colony to raiders make sure the next one does not suffer", blank
        assert note.chunks[0].locator.start_s == 0.16


def test_a_chapter_track_is_a_passage_per_chapter():
    track = "WEBVTT\n\n" + "".join(
        f"{i}\n00:0{i}:00.000 --> 00:0{i + 1}:00.000\n{name}\n\n" for i, name in enumerate(["Prologue", "Trap", "Lecture"]))
    _, [note] = parse(track, "chapters.vtt")
    assert [(c.text, c.locator.label()) for c in note.chunks] == [
        ("Prologue", "00:00:00–00:01:00"), ("Trap", "00:01:00–00:02:00"), ("Lecture", "00:02:00–00:03:00")]


SPEAKERS = "\n".join(f"[Speaker {1 + i % 2}] [{i // 60:02d}:{i % 60:02d}] Line {i} of the talk, said aloud." for i in range(0, 600, 20))


def test_transcript_lines_opened_by_the_speaker_then_the_time():
    for name in ("episode_transcript.txt", "episode_transcript.md"):
        fmt, [note] = parse(SPEAKERS, name)
        assert fmt == "transcript", name
        [chunk] = [c for c in note.chunks if "Line 300 " in c.text]
        assert chunk.locator.start_s is not None and chunk.locator.start_s <= 300 < (chunk.locator.end_s or 1e9)


def test_chapter_lines_written_as_time_ranges_start_at_the_first_time():
    page = ("# 第 3 期：心理学从哪里来\n\n这一期聊心理学的起源和几个大问题，适合入门。\n\n时间轴\n"
            "- [00:00–00:46] 开场：什么是心理学\n- [00:46–01:31] 早期的思想家\n- [01:31–02:21] 弗洛伊德\n"
            "- [02:21–03:02] 心理学的分支\n- [03:02–03:29] 结构主义\n")
    fmt, [note] = parse(page, "ep3.md")
    assert fmt == "shownotes"
    chapters = {c.text: c.locator.label() for c in note.chunks if c.meta.get("part") == "chapter"}
    assert chapters == {"开场：什么是心理学": "00:00:00–00:00:46", "早期的思想家": "00:00:46–00:01:31",
                        "弗洛伊德": "00:01:31–00:02:21", "心理学的分支": "00:02:21–00:03:02", "结构主义": "00:03:02"}


def test_control_characters_are_dropped():
    line = "vim 里按 Esc\x1b[0m 回到普通模式，退格\x08键删字。" + "插入模式下输入文字，普通模式下移动光标和编辑文本。" * 4
    text = decode((line * 20).encode("utf-8"), "vim.md")
    assert "\x1b" not in text and "\x08" not in text and "回到普通模式" in text


def test_html_superscripts_read_as_text_and_reference_marks_go():
    para = "The lake covers 268 km<sup>2</sup> and is fed by three rivers.<sup>[12]</sup> " * 4
    page = f"<html><head><title>Lake</title></head><body><article><h1>Lake</h1><p>{para}</p><p>{para}</p></article></body></html>"
    _, [note] = parse(page, "lake.html")
    assert "268 km2 and" in note.body and "<sup>" not in note.body and "[12]" not in note.body


def test_a_list_of_short_items_is_text_and_code_review_is_no_promo_code():
    items = "\n".join(f"• Point {i} about code review and how teams adopt it" for i in range(40))
    assert sniff(items) == "text"
    assert _PRICE.search("Importance of code review") is None and _PRICE.search("use code SAVE20 today")
    fmt, [note] = parse(items, "summary.txt")
    assert fmt == "text" and "Point 39" in note.body


def test_a_short_note_quoting_a_source_twice_is_not_a_web_page():
    quote = ("心智的活动主要表现在三个方面：组合、对照和抽象。所有具有普遍性的认识都是这样得到的。\n"
             "John Locke, An Essay Concerning Human Understanding\n（1690）\n\n\n"
             "The acts of the mind are chiefly these three: combining, relating and abstracting ideas.\n"
             "John Locke, An Essay Concerning Human Understanding\n(1690)\n")
    fmt, [note] = parse(quote, "preface.txt")
    assert fmt == "text" and "The acts of the mind" in note.body


def test_a_site_heading_is_no_page_title():
    body = "<p>" + "Babies who eat peanut foods early are less likely to develop the allergy, a large trial found. " * 3 + "</p>"

    def page(head: str, h1: str, og: str = "") -> str:
        meta = f'<meta property="og:title" content="{og}">' if og else ""
        return (f"<html><head><title>{head}</title>{meta}</head><body><header><h1>{h1}</h1></header>"
                f"<article>{body}{body}</article></body></html>")

    cases = [  # (<title>, the page's only <h1>, og:title) -> title
        (("Babies Who Eat Peanuts Early May Avoid Allergy - HealthSite", "Allergies Health Center", ""),
         "Babies Who Eat Peanuts Early May Avoid Allergy"),
        (("花生过敏新研究_健康频道_某某网", "健康中心", ""), "花生过敏新研究"),
        (("Site", "Allergies Health Center", "Peanuts early, fewer allergies"), "Peanuts early, fewer allergies"),
        (("Peanut study: early is better - HealthSite", "Peanut study: early is better", ""), "Peanut study: early is better"),
    ]
    for (head, h1, og), want in cases:
        _, [note] = parse(page(head, h1, og), "page.html")
        assert note.title == want, (head, h1, og)


def test_code_written_as_a_table_of_line_numbers_beside_the_code_is_kept():
    code = "".join(f'<span class="line"><span class="built_in">npm</span> run step{i}</span><br>' for i in range(1, 4))
    gutter = "".join(f'<div class="line">{i}</div>' for i in range(1, 4))
    para = "<p>" + "搭建博客分三步，先在本地装好 hexo，再改主题的样式，最后发布到 GitHub Pages 上给别人看。" * 3 + "</p>"
    page = (f"<html><head><title>用 hexo 搭博客</title></head><body><article><h1>用 hexo 搭博客</h1>{para}"
            f'<figure class="highlight shell"><table><tr><td class="gutter"><pre>{gutter}</pre></td>'
            f'<td class="code"><pre>{code}</pre></td></tr></table></figure>{para}</article></body></html>')
    _, [note] = parse(page, "hexo.html")
    assert "npm run step1\n" in note.body and "npm run step3" in note.body  # a line a line, no table row
    assert "|" not in note.body


def test_a_page_whose_markup_swallows_the_article_falls_back_to_the_text_it_states():
    import json

    sections = [f"Section {i}. " + f"Models of kind {i} learn from data in their own way, step by step. " * 6
                for i in range(1, 7)]
    ld = json.dumps({"@type": "BlogPosting", "headline": "Deep learning", "articleBody": "\n".join(sections)})
    # a figure never closed: what follows it is read as part of the figure, and the extractor drops it
    page = (f'<html><head><title>Deep learning</title><script type="application/ld+json">{ld}</script></head>'
            f"<body><article><h1>Deep learning</h1><p>{sections[0]}</p><figure><img src='a.png'>"
            + "".join(f"<p>{s}</p>" for s in sections[1:]) + "<footer>About</footer></body></html>")
    _, [note] = parse(page, "dl.html")
    assert all(f"Section {i}." in note.body for i in range(1, 7))


def test_lyrics_with_line_times():
    lrc = "[ti:雨天]\n[ar:某歌手]\n[00:17.20]雨淋湿了天空\n[00:22.30][01:10.00]你说你不懂\n[00:26.43]我晒干了沉默\n"
    fmt, [note] = parse(lrc, "rain.lrc")
    assert fmt == "lrc" and note.title == "雨天 — 某歌手"
    assert note.body.split("\n") == ["雨淋湿了天空", "你说你不懂", "我晒干了沉默", "你说你不懂"]
    assert note.chunks[0].locator.start_s == 17.2


def test_whisper_tsv():
    tsv = "start\tend\ttext\n0\t2500\tHello there.\n2500\t6000\tThis is a test.\nx\t1\tbad\n"
    bad: list[str] = []
    fmt, [note] = parse_bytes(tsv.encode(), "talk.tsv", bad_rows=bad)
    assert fmt == "tsv" and note.body == "Hello there.\nThis is a test."
    assert note.chunks[0].locator.label() == "00:00:00–00:00:06"
    assert bad == ["talk.tsv: line 4: not 'start<TAB>end<TAB>text' in milliseconds; segment left out"]
