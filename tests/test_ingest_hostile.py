"""Hostile and odd inputs: each is refused with a reason naming it, or read, and never takes down the rest."""

from __future__ import annotations

import json
import time

import pytest

from lingxi.ingest.markdown import clean_markdown, parse


def test_front_matter_aliases_are_refused_not_expanded(lib, tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.md"
    bomb.write_text("---\n" + "\n".join(levels) + "\n---\nbody text\n", encoding="utf-8")
    (tmp_path / "fine.md").write_text("# Fine\n\nA plain post.\n", encoding="utf-8")
    reports = {r.path.rsplit("/", 1)[-1]: r for r in lib.ingest([tmp_path])}
    assert reports["bomb.md"].status == "failed"
    assert "aliases (*name) are not read in front matter" in reports["bomb.md"].reason
    assert reports["fine.md"].status == "ingested"


def test_a_date_not_on_the_calendar_is_kept_as_text():
    note = parse("---\ntitle: T\ndate: 2021-02-30\n---\n\nThe body survives.\n", "post.md")[0]
    assert note.meta["created_at"] == "2021-02-30" and "The body survives." in note.body


def test_unclosed_template_tags_and_comments_cost_linear_time():
    for opener in ("{% ", "<!-- ", "{{ ", "<script ", "{% comment "):
        start = time.perf_counter()
        clean_markdown("intro " + opener * 30000 + " end")
        assert time.perf_counter() - start < 2.0, opener  # the regexes took 30+ s on 120 KB
    assert clean_markdown("a {% raw %}x{% endraw %} b <!-- c --> d {{ e }} f <script>g</SCRIPT> h") == "a x b  d  f  h"


def test_a_file_name_that_is_not_utf8_fails_alone(lib, tmp_path):
    import os

    folder = tmp_path / "d"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as f:
        f.write(b"some text")
    (folder / "zz.txt").write_text("A note that must still be read.\n", encoding="utf-8")
    reports = lib.ingest([folder])
    assert [r.status for r in reports] == ["failed", "ingested"]
    assert "file name is not valid UTF-8" in reports[0].reason


def test_jsonl_rows_without_ids_from_two_files_do_not_collide(lib, tmp_path):
    (tmp_path / "mon.jsonl").write_text(json.dumps({"text": "Monday's note about tea."}) + "\n", encoding="utf-8")
    (tmp_path / "tue.jsonl").write_text(json.dumps({"text": "Tuesday's note about coffee."}) + "\n", encoding="utf-8")
    reports = lib.ingest([tmp_path])
    assert [r.status for r in reports] == ["ingested", "ingested"]
    assert len(lib.store.note_ids_for_file(str((tmp_path / "tue.jsonl").resolve()))) == 1


def test_uploaded_jsonl_ids_are_the_owners_own(lib):
    row = (json.dumps({"id": "r1", "text": "Alice's private row."}) + "\n").encode()
    assert lib.ingest_upload(row, "mon.jsonl", "alice").status == "ingested"
    bob = lib.ingest_upload(row.replace(b"Alice", b"Bob"), "other.jsonl", "bob")
    assert bob.status == "ingested"  # the same id in bob's file is bob's
    assert {lib.get_note("alice:r1").body, lib.get_note("bob:r1").body} == {"Alice's private row.", "Bob's private row."}
    again = lib.ingest_upload(row, "dup.jsonl", "alice")  # alice's own clash names her own file
    assert again.status == "failed" and "from upload:alice/mon.jsonl" in again.reason


def test_a_deeply_nested_jsonl_row_is_one_bad_row(lib, tmp_path):
    good = json.dumps({"id": "g1", "text": "A good row."})
    deep = '{"id": "d", "text": "x", "extra": ' + "[" * 100000 + "]" * 100000 + "}"
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([good, deep, json.dumps({"id": "g2", "text": "Another good row."})]) + "\n",
                    encoding="utf-8")
    report = lib.ingest([path])[0]
    assert report.status == "ingested" and report.notes == 2
    assert report.bad_rows and "line 2: JSON nested too deeply" in report.bad_rows[0]


@pytest.mark.parametrize("text,codec", [
    ("Müller wohnt in der Großstraße 5 in München. Er trinkt gern Kaffee und liest jeden Morgen die Zeitung.", "latin-1"),
    ("これは日本語のテキストです。東京は日本の首都で、多くの人が住んでいます。", "shift_jis"),
    ("이것은 한국어 텍스트입니다. 서울은 한국의 수도입니다. 많은 사람들이 살고 있습니다.", "euc_kr"),
    ("這是一篇用繁體中文寫的筆記，講的是台北的美食和故宮博物院的參觀建議。", "big5"),
    ("这是一篇用中文写的笔记，讲的是成都的美食和熊猫基地的参观建议，上午去最好。", "gb18030"),
    ("你好", "gbk"),
])
def test_text_in_a_legacy_encoding_is_read_as_written_not_as_gb18030_mojibake(text, codec):
    from lingxi.ingest.text import decode

    assert decode(text.encode(codec), "note.txt") == text


def test_a_page_s_declared_charset_is_honoured_and_noise_bytes_are_refused():
    import random

    from lingxi.errors import BadInput
    from lingxi.ingest.text import decode

    page = '<html><head><meta charset="iso-8859-1"><title>Café</title></head><body>Le café crème.</body></html>'
    assert "Le café crème." in decode(page.encode("latin-1"), "p.html")
    rnd = random.Random(1)
    with pytest.raises(BadInput, match="unreadable encoding"):
        decode(bytes(rnd.randrange(1, 256) for _ in range(5000)), "noise.txt")


SRT = """1
00:00:01,000 --> 00:00:03,000
Falcons nest on cliffs.

2
00:00:0x,000 --> 00:00:05,000
Malformed cue about owls.

3
00:00:09,000 --> 00:00:07,000
A cue that ends before it starts.

4
00:00:04,000 --> 00:00:10,000
Swifts sleep on the wing.
"""


def test_a_malformed_cue_is_left_out_and_named_the_rest_kept(lib, tmp_path):
    path = tmp_path / "birds.srt"
    path.write_text(SRT, encoding="utf-8")
    report = lib.ingest([path])[0]
    assert report.status == "ingested"
    assert [m.split(": ", 1)[1].split(":")[0] for m in report.bad_rows] == ["line 6", "line 10"]
    note = lib.get_note(lib.store.note_ids_for_file(str(path.resolve()))[0])
    assert "Falcons" in note.body and "Swifts" in note.body and "owls" not in note.body and "ends before" not in note.body
    assert note.meta["duration_s"] == 10.0 and "skipped" not in note.meta
    strict = tmp_path / "strict"
    strict.mkdir()
    (strict / "birds.srt").write_text(SRT, encoding="utf-8")
    failed = lib.ingest([strict], strict=True)[0]
    assert failed.status == "failed" and "line 6: not a cue timing" in failed.reason


def test_a_whisper_line_whose_times_do_not_read_is_named():
    from lingxi.ingest.formats import parse_bytes

    lines = ["[00:00.000 --> 00:04.000] the first segment", "[00:04.000 --> 00:0x.000] a broken one",
             "[00:08.000 --> 00:06.000] backwards", "[00:09.000 --> 00:12.000] the last segment",
             "[00:12.000 --> 00:15.000] and one more"]
    bad: list[str] = []
    fmt, notes = parse_bytes("\n".join(lines).encode(), "talk.txt", bad_rows=bad)
    assert fmt == "transcript" and "broken" not in notes[0].body and "the last segment" in notes[0].body
    assert [m.split(": ")[1] for m in bad] == ["line 2", "line 3"]


def test_overlapping_cues_give_a_passage_their_whole_time():
    from lingxi.ingest.subtitles import parse

    srt = ("1\n00:00:01,000 --> 00:00:10,000\nA long cue that runs on.\n\n"
           "2\n00:00:01,200 --> 00:00:01,500\nA short one inside it.\n")
    note = parse(srt, "o.srt")[0]
    assert note.chunks[0].locator.start_s == 1.0 and note.chunks[0].locator.end_s == 10.0
    assert note.meta["duration_s"] == 10.0


def test_a_file_that_fails_on_bad_rows_lists_every_one(lib, tmp_path):
    rows = ['{"id": "a"}', "not json", '{"id": "b", "text": "fine"}', "[1, 2]"]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    strict = lib.ingest([path], strict=True)[0]
    assert strict.status == "failed" and [m.split(": ")[1] for m in strict.bad_rows] == ["line 1", "line 2", "line 4"]
    assert "and 2 more bad rows" in strict.reason
    (tmp_path / "all_bad.jsonl").write_text("nope\n[]\n", encoding="utf-8")
    report = lib.ingest([tmp_path / "all_bad.jsonl"])[0]
    assert report.status == "failed" and len(report.bad_rows) == 2
