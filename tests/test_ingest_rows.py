"""Partial JSONL imports: good rows stored, bad rows reported with line and reason, --strict stores nothing."""

from __future__ import annotations

import json

from lingxi.cli.main import main

ROWS = (
    '{"id":"a","text":"第一条笔记：多肉植物浇水要见干见湿。"}\n'
    '{"id":"b","title":"no closing brace"\n'
    '{"id":"c","text":"Third row is fine."}\n'
    '{"id":"d","text":""}\n'
)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bad_rows_reported_good_rows_stored(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROWS, encoding="utf-8")
    home = str(tmp_path / "h")
    code, out, err = run(capsys, "--home", home, "ingest", str(rows))
    assert code == 1
    assert "[jsonl] 2 notes" in out and "2 bad rows" in out
    assert f"lingxi: error: {rows}: line 2: not valid JSON (Expecting ',' delimiter) (row skipped)" in err
    assert f"lingxi: error: {rows}: line 4: field 'text' must be a non-empty string (row skipped)" in err
    code, out, _ = run(capsys, "--home", home, "notes", "list", "--json")
    assert sorted(r["title"] for r in json.loads(out)) == ["Third row is fine.", "第一条笔记：多肉植物浇水要见干见湿。"]
    # run again on the same file: nothing to store, but the bad rows are still there and still reported
    code, out, err = run(capsys, "--home", home, "ingest", str(rows))
    assert code == 1 and "unchanged" in out and "line 2: not valid JSON" in err


def test_bad_rows_json_report(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROWS, encoding="utf-8")
    code, out, _ = run(capsys, "--home", str(tmp_path / "h"), "ingest", str(rows), "--json")
    report = json.loads(out)
    assert code == 1
    assert report["summary"]["bad_rows"] == 2
    assert [m.split(": ", 1)[1] for m in report["files"][0]["bad_rows"]] == [
        "line 2: not valid JSON (Expecting ',' delimiter)",
        "line 4: field 'text' must be a non-empty string",
    ]


def test_strict_stores_nothing(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROWS, encoding="utf-8")
    home = str(tmp_path / "h")
    code, _, err = run(capsys, "--home", home, "ingest", str(rows), "--strict")
    assert code == 1
    assert "line 2: not valid JSON" in err
    code, out, _ = run(capsys, "--home", home, "notes", "list", "--json")
    assert json.loads(out) == []


def test_every_row_bad_fails_the_file(tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"x":1}\n[1]\n', encoding="utf-8")
    code, _, err = run(capsys, "--home", str(tmp_path / "h"), "ingest", str(rows))
    assert code == 1
    assert "line 1: field 'text' must be a non-empty string (and every other row: 2 bad, none good)" in err
