"""bench/boilerplate_snippets.py on a two-page corpus written here: the split is frozen by URL, snippets are
matched on letters and digits, and the HTML path's rows are scored as trafilatura's evaluation scores them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "boilerplate_snippets.py"
sys.path.insert(0, str(BENCH.parent))

import boilerplate_snippets as bs  # noqa: E402

PROSE = ("The harbour town rebuilt its old stone pier this spring, and the fishermen say the new moorings hold even "
         "in the autumn storms that used to break the wooden posts. ")


def page(title: str, body: str) -> str:
    return (f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a> | <a href='/n'>News</a> | "
            f"<a href='/c'>Contact</a></nav><article><h1>{title}</h1><p>{PROSE * 2}</p><p>{body}</p></article>"
            "<footer>Impressum | Datenschutz | Cookie settings</footer></body></html>")


def test_counts_match_letters_and_digits_only() -> None:
    c = bs.counts("The Pier, rebuilt: 2024!", {"with": ["the pier rebuilt 2024"], "without": ["Impressum"]})
    assert c == {"tp": 1, "fn": 0, "fp": 0, "tn": 1, "empty": 0}
    s = bs.summary({"tp": 3, "fn": 1, "fp": 1, "tn": 3, "empty": 0})
    assert s["kept"] == 0.75 and s["dropped"] == 0.75 and s["precision"] == 0.75 and s["f1"] == 0.75


def test_split_is_frozen_by_url_hash() -> None:
    urls = [f"https://example.org/{i}" for i in range(200)]
    dev = [u for u in urls if bs.split_of(u) == "dev"]
    assert 70 < len(dev) < 130 and all(bs.split_of(u) == "dev" for u in dev)


def test_html_rows_on_a_written_corpus(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    evaldata = {}
    for i, ending in enumerate(["The ferry now docks at the new pier every hour.", "Tickets cost less this year."]):
        (pages / f"p{i}.html").write_text(page(f"Pier story {i}", ending), encoding="utf-8")
        evaldata[f"https://example.org/story/{i}"] = {"file": f"p{i}.html", "with": [ending, "rebuilt its old stone"],
                                                      "without": ["Cookie settings", "Datenschutz"]}
    ed = tmp_path / "evaldata.json"
    ed.write_text(json.dumps(evaldata), encoding="utf-8")
    out = tmp_path / "rows.json"
    run = subprocess.run([sys.executable, str(BENCH), "--evaldata", str(ed), "--pages", str(pages), "--split", "all",
                          "--paths", "html", "--json", str(out)], capture_output=True, text=True, check=True)
    assert "| html: lingxi |" in run.stdout
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert rows["pages"] == 2 and set(rows["rows"]) == {"html: trafilatura alone", "html: lingxi",
                                                        "html: lingxi, edge trim on"}
    assert rows["rows"]["html: lingxi"]["kept"] == 1.0 and rows["rows"]["html: lingxi"]["dropped"] == 1.0
    bad = subprocess.run([sys.executable, str(BENCH), "--evaldata", str(tmp_path / "missing.json"), "--pages",
                          str(pages)], capture_output=True, text=True)
    assert bad.returncode != 0 and "missing.json not found" in bad.stderr
