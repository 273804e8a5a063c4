"""The long-document QA set over ../shared/data/realworld: schema, split rule, and every quote checked
against the real files (skipped, with a message, where that folder is absent)."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from lingxi.errors import BadInput
from lingxi.evals.qaset import KINDS, load_questions, verify

from conftest import SHARED

QA = Path(__file__).parent.parent / "bench" / "data" / "realworld_qa.jsonl"
FOLDERS = ("web", "markdown", "shownotes", "subtitles", "transcripts")


def realworld() -> Path:
    """The corpus: ../shared/data/realworld beside the repo, or $LINGXI_SHARED_DATA/realworld."""
    root = Path(os.environ.get("LINGXI_SHARED_DATA") or SHARED) / "realworld"
    if not root.is_dir():
        pytest.skip(f"realworld corpus {root} not present (expected beside the repo in ../shared/data/realworld,"
                    " or set LINGXI_SHARED_DATA); the evidence quotes are not checked")
    return root


def raw_rows() -> list[dict]:
    return [json.loads(line) for line in QA.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_schema_ids_and_mix():
    rows = raw_rows()
    qs = load_questions(QA)  # raises BadInput on any malformed row or repeated id
    assert len(qs) == len(rows) and 75 <= len(qs) <= 110
    assert [r["id"] for r in rows] == [f"rw-{i:03d}" for i in range(1, len(rows) + 1)]
    for r in rows:
        assert set(r) <= {"id", "split", "lang", "hops", "q", "gold", "all", "evidence", "alt_evidence", "kind"}, r["id"]
        assert r["q"] not in {e["quote"] for e in r["evidence"]}, f"{r['id']}: the question copies its evidence"
        for e in r["evidence"]:
            assert 6 <= len(e["quote"]) <= 80 and "\n" not in e["quote"], f"{r['id']}: quote length/shape"
            assert e["file"].split("/")[0] in FOLDERS
        if r["kind"] == "list":
            assert "all" in r, f"{r['id']}: a list answer names its items in 'all'"
        forms = [f for item in r.get("all") or [r["gold"]] for f in item]
        # an answer that only repeats the question must not score
        assert not [f for f in forms if f.lower() in r["q"].lower()], f"{r['id']}: the question holds its answer"
    kinds = Counter(q.kind for q in qs)
    assert set(kinds) == set(KINDS)
    assert sum(q.hops == 2 for q in qs) >= 12 and kinds["cross-lingual"] >= 8 and kinds["homophone"] >= 8
    langs = Counter(q.lang for q in qs)
    assert langs["zh"] > langs["en"] >= 15
    # cross-file two-hop questions exist, and each hop's file is named
    assert any(len({e.file for e in q.evidence}) == 2 for q in qs)


def test_split_is_by_file_and_covers_every_folder():
    qs = load_questions(QA)
    split_of: dict[str, set[str]] = {}
    for q in qs:
        for e in q.evidence:
            split_of.setdefault(e.file, set()).add(str(q.split))
    assert all(len(s) == 1 for s in split_of.values()), {f: s for f, s in split_of.items() if len(s) > 1}
    for folder in FOLDERS:
        assert {s for f, (s,) in split_of.items() if f.startswith(folder + "/")} == {"dev", "test"}, folder
    dev, test = load_questions(QA, "dev"), load_questions(QA, "test")
    assert len(dev) + len(test) == len(qs) and abs(len(dev) - len(test)) <= len(qs) // 5
    assert {q.split for q in dev} == {"dev"} and {q.split for q in test} == {"test"}


def test_every_quote_is_in_the_real_files_once_and_near_its_answer():
    root = realworld()
    qs = load_questions(QA)
    assert verify(qs, root) == []
    files = {p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_file()}
    cited = {e.file for q in qs for e in q.evidence}
    assert cited == files, f"files with no question: {sorted(files - cited)}"


def _corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "web").mkdir(parents=True)
    (root / "web" / "page.html").write_text(
        "<html><script>var doc = '董又霖现年24岁，是成龙的外甥';</script>"
        "<p>据悉，董又霖现年24岁，是成龙的外甥。</p><p>重复的一句。重复的一句。</p></html>", encoding="utf-8")
    (root / "web" / "other.md").write_text("这里什么答案也没有。" + "填充" * 400 + "答案是四十二。", encoding="utf-8")
    return root


def _row(i: int, quote: str, gold: list[str], file: str = "web/page.html", split: str = "dev") -> str:
    return json.dumps({"id": f"t-{i}", "split": split, "lang": "zh", "hops": 1, "q": "问题？", "gold": gold,
                       "evidence": [{"file": file, "quote": quote}], "kind": "fact"}, ensure_ascii=False)


def test_verify_finds_each_kind_of_problem(tmp_path):
    root = _corpus(tmp_path)
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join([
        _row(1, "董又霖现年24岁，是成龙的外甥", ["成龙"]),          # sound: the script copy does not count
        _row(2, "重复的一句", ["答案"]),                          # twice in the page
        _row(3, "这句话不在文件里", ["x"]),                       # absent
        _row(4, "这里什么答案也没有", ["四十二"], "web/other.md"),  # answer far from its quote
        _row(5, "答案是四十二", ["四十二"], "web/other.md", "test"),  # same file, other split
        _row(6, "随便一句", ["x"], "web/missing.md"),             # no such file
    ]) + "\n", encoding="utf-8")
    problems = verify(load_questions(qa), root)
    by_id = {p.split(":")[0] for p in problems}
    assert "t-1" not in by_id and by_id == {"t-2", "t-3", "t-4", "t-5", "t-6"}, problems
    assert any(re.search(r"t-2: .*occurs 2 times", p) for p in problems)
    assert any(re.search(r"t-4: none of \['四十二'\] is within 300", p) for p in problems)
    assert any(re.search(r"t-5: web/other.md is in split 'test' here but 'dev'", p) for p in problems)
    # a quote that only the page's script holds is called out as such
    qa.write_text(_row(7, "var doc", ["成龙"]) + "\n", encoding="utf-8")
    assert "only inside <script>" in verify(load_questions(qa), root)[0]


def test_loader_rejects_malformed_rows_and_unknown_splits(tmp_path):
    qa = tmp_path / "qa.jsonl"
    good = json.loads(_row(1, "董又霖现年24岁", ["成龙"]))
    for change, message in [({"kind": "guess"}, "'kind' is 'guess'"), ({"split": "train"}, "'split' is 'train'"),
                            ({"hops": 2}, "'hops' is 2"), ({"gold": []}, "'gold' must be"),
                            ({"evidence": [{"file": "/etc/passwd", "quote": "root"}]}, "relative to the corpus"),
                            ({"all": [["成龙"]]}, "'all' must list at least two")]:
        qa.write_text(json.dumps({**good, **change}, ensure_ascii=False) + "\n", encoding="utf-8")
        with pytest.raises(BadInput, match=re.escape(message)):
            load_questions(qa)
    qa.write_text(json.dumps(good, ensure_ascii=False) + "\n" + json.dumps(good, ensure_ascii=False) + "\n",
                  encoding="utf-8")
    with pytest.raises(BadInput, match="id 't-1' appears twice"):
        load_questions(qa)
    qa.write_text(json.dumps(good, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(BadInput, match="no split 'test'; the file has dev"):
        load_questions(qa, "test")
    qa.write_text('{"id": "1", "q": "x", "gold": ["y"]}\n', encoding="utf-8")
    with pytest.raises(BadInput, match="no \"split\" field"):
        load_questions(qa, "dev")


def test_gold_forms_become_one_fact_and_list_items_several(tmp_path):
    by_id = {q.id: q for q in load_questions(QA)}
    single = next(q for q in by_id.values() if q.kind == "homophone" and len(q.facts[0]) > 1)
    assert len(single.facts) == 1  # alternative forms of one answer: any one of them counts
    listed = next(q for q in by_id.values() if q.kind == "list")
    assert len(listed.facts) >= 2  # a list answer must name every item
    # the generic format keeps its meaning: each gold entry is a fact of its own
    qa = tmp_path / "generic.jsonl"
    qa.write_text('{"id": "1", "q": "x", "gold": ["a", ["b", "B"]]}\n', encoding="utf-8")
    assert load_questions(qa)[0].facts == (("a",), ("b", "B"))


def test_holds_survives_reflowing_but_not_other_text():
    from lingxi.evals.qaset import holds

    quote = "3 月 21 日-3 月 30 日 ，在阿那亚"
    assert holds("单立人喜剧节 3月21日—3月30日，在 阿那亚 举办", quote)  # spaces and punctuation reflowed
    assert holds("…有各种脱口秀专场表演，3 月 21 日-3 月 30 日 ，在阿", quote)  # a chunk boundary cut the end
    assert not holds("3 月 21 日是世界睡眠日", quote) and not holds("anything", "——")
    assert holds("Thank you President Nempahrd for that", "thank you president nempahrd")
