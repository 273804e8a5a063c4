"""The CLI at its edges: a store that cannot be opened, JSON without NaN, a reader that goes away, defaults that fit
a store opened with embeddings off."""

from __future__ import annotations

import json
import subprocess
import sys

from lingxi.cli.main import main
from lingxi.cli.output import emit_json


def test_a_home_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    home = tmp_path / "afile"
    home.write_text("x")
    assert main(["--home", str(home), "notes", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lingxi: error: cannot open the store") and "Traceback" not in err


def test_json_output_has_no_nan_or_infinity(capsys):
    emit_json({"duration_s": float("inf"), "rows": [float("nan"), 1.5]})
    out = capsys.readouterr().out
    assert json.loads(out) == {"duration_s": None, "rows": [None, 1.5]}


def test_search_without_embeddings_defaults_to_bm25_and_an_empty_filter_is_not_an_empty_store(tmp_path, capsys,
                                                                                             monkeypatch):
    monkeypatch.setenv("LINGXI_EMBEDDER", "none")
    (tmp_path / "n.md").write_text("# Tea\n\nGreen tea is steamed, black tea is oxidised.\n", encoding="utf-8")
    home = str(tmp_path / "home")
    assert main(["--home", home, "ingest", str(tmp_path / "n.md")]) == 0
    capsys.readouterr()
    assert main(["--home", home, "search", "oxidised", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "bm25" and out["hits"]
    assert main(["--home", home, "notes", "list", "--kind", "srt"]) == 0
    assert capsys.readouterr().out.strip() == "no notes match kind 'srt'"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps({"id": f"r{i}", "text": f"note number {i} about tea"}) + "\n"
                             for i in range(3000)), encoding="utf-8")
    env_cmd = [sys.executable, "-m", "lingxi", "--home", str(tmp_path / "home")]
    import os

    env = {**os.environ, "LINGXI_EMBEDDER": "none"}
    subprocess.run([*env_cmd, "ingest", str(notes)], check=True, capture_output=True, env=env)
    proc = subprocess.Popen([*env_cmd, "notes", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait(timeout=60)
    assert "Traceback" not in err


def test_an_event_time_outside_what_a_date_can_write_is_refused():
    import pytest

    from lingxi.rec.events import parse_time

    assert parse_time("2026-12-06T10:00:00Z") == 1796551200.0 and parse_time(0) == 0.0
    for bad in (1e308, -1e14, float("nan"), "10000-01-01", True):
        with pytest.raises(ValueError):
            parse_time(bad)
