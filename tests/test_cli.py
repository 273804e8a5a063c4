"""The CLI as a user runs it: a real subprocess for one path, main() for the rest."""

from __future__ import annotations

import json
import subprocess
import sys

from lingxi.cli.main import main

from conftest import DATA


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_list_show_stats_json(tmp_path, capsys):
    home = str(tmp_path / "h")
    code, out, err = run(capsys, "--home", home, "ingest", str(DATA / "two-episodes.txt"), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["summary"] == {"ingested": 1, "unchanged": 0, "failed": 0, "skipped": 0, "empty": 0}
    code, out, _ = run(capsys, "--home", home, "notes", "list", "--json")
    rows = json.loads(out)
    assert [r["title"] for r in rows] == ["EP58 | 大模型的推理成本还能降多少", "EP59 | 一个人的公司"]
    assert set(rows[0]) == {"id", "title", "source", "kind", "created_at", "chunk_count", "owner", "visibility"}
    assert (rows[0]["owner"], rows[0]["visibility"]) == (None, "public")  # the operator's notes are everyone's
    code, out, _ = run(capsys, "--home", home, "notes", "show", rows[0]["id"], "--json")
    note = json.loads(out)
    assert note["chunks"][4]["locator"]["label"] == "00:27:31–00:41:08"
    code, out, _ = run(capsys, "--home", home, "notes", "show", rows[0]["id"])
    assert "[4] 00:27:31–00:41:08\n    投机解码是怎么加速的" in out
    code, out, _ = run(capsys, "--home", home, "stats", "--json")
    assert json.loads(out)["chunks"] == 14


def test_bad_inputs_one_line_errors_others_ingest(tmp_path, capsys):
    home = str(tmp_path / "h")
    bad = tmp_path / "broken.txt"
    bad.write_bytes(bytes(range(128, 256)) * 8)
    good = tmp_path / "ok.md"
    good.write_text("# ok\n\nfine", encoding="utf-8")
    code, out, err = run(capsys, "--home", home, "ingest", str(tmp_path / "nope.md"), str(bad), str(tmp_path / "x.pdf"), str(good))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0] == f"lingxi: error: {tmp_path / 'nope.md'}: no such file or directory"
    assert lines[1].startswith(f"lingxi: error: {bad}: unreadable encoding")
    assert lines[2].startswith(f"lingxi: error: {tmp_path / 'x.pdf'}: no such file")
    assert "1 ingested, 0 unchanged, 3 failed" in out


def test_show_missing_note_exits_nonzero(tmp_path, capsys):
    code, out, err = run(capsys, "--home", str(tmp_path), "notes", "show", "zzz")
    assert code == 1 and err == "lingxi: error: no note with id 'zzz'\n"


def test_console_script_and_lingxi_home_env(tmp_path):
    env = {"LINGXI_HOME": str(tmp_path / "envhome"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "lingxi", "ingest", str(DATA / "liquid-post.md")],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "envhome" / "lingxi.db").exists()
    r = subprocess.run([sys.executable, "-m", "lingxi", "ingest", "--format", "pdf", "x"],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 2 and "invalid choice: 'pdf'" in r.stderr


def test_show_steps_says_what_each_decision_does(capsys):
    from lingxi.agent.steps import Answer, Fix, Read, Search, Token
    from lingxi.cli.ask import StepPrinter

    show_step = StepPrinter()
    show_step(Search(query="Front Row keyboard", hits=({"title": "Front Row (software)", "locator": "chars 0–90"},)))
    show_step(Fix(name="number_answer", reason="the question asks for a number", change="Who directed X?"))
    show_step(Read(question="Who directed X?", answer="Jane Doe", found=True, verified=True, chunk_ids=("a", "b")))
    for piece in ("Jane", " Doe", " [3]"):
        show_step(Token(text=piece))
    show_step(Answer(answer="Jane Doe [1]", short_answer="Jane Doe", citations=1))
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("search: Front Row keyboard → Front Row (software) chars 0–90")
    assert err[1].endswith("repair number_answer: the question asks for a number (Who directed X?)")
    assert err[2].endswith("read 2 passages for 'Who directed X?': 'Jane Doe' (verified)")
    assert err[3] == "  · writing: Jane Doe [3]"  # the draft as it is written, on one line
    assert err[4].endswith("answer: 'Jane Doe' (1 citation(s))")
