"""SIGKILL in the middle of ingesting a folder: the store stays whole and a re-run finishes the job."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from lingxi import Library, Settings


def make_corpus(folder, files: int) -> None:
    folder.mkdir()
    for i in range(files):
        paras = "\n\n".join(f"第{i}篇笔记的第{j}段。" + "这里是一些正文内容，用来让每篇笔记有好几个分块。" * 12 for j in range(6))
        (folder / f"post-{i:04d}.md").write_text(f"---\ntitle: 笔记 {i}\ntags: [t{i % 7}]\n---\n{paras}\n", encoding="utf-8")


@pytest.mark.slow
def test_sigkill_mid_ingest_leaves_only_whole_notes(tmp_path):
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 1500)
    home = tmp_path / "home"
    # Embeddings off: this test is about the store's transactions, and 1500 files must ingest in seconds.
    env = {**os.environ, "LINGXI_EMBEDDER": "none"}
    proc = subprocess.Popen([sys.executable, "-m", "lingxi", "--home", str(home), "ingest", str(corpus)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    db = home / "lingxi.db"
    deadline = time.time() + 60
    seen = 0
    while time.time() < deadline:
        if db.exists():
            try:
                seen = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1).execute("SELECT COUNT(*) FROM notes").fetchone()[0]
            except sqlite3.OperationalError:
                seen = 0
            if seen >= 100:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be killed; make the corpus bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    files = conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    notes = conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
    assert 100 <= files < 1500 and notes == files
    # every stored note has all of its chunks: the count a fresh parse gives
    lib = Library(Settings.load(tmp_path / "fresh", embedder="none"))
    for path, n_chunks in conn.execute(
        "SELECT n.file_path, COUNT(c.id) FROM notes n JOIN chunks c ON c.note_id=n.id GROUP BY n.id"
    ):
        [r] = lib.ingest([path])
        assert r.chunks == n_chunks, path
    lib.close()
    conn.close()

    out = subprocess.run([sys.executable, "-m", "lingxi", "--home", str(home), "ingest", str(corpus), "--json"],
                         capture_output=True, text=True, check=True, env=env).stdout
    summary = json.loads(out)["summary"]
    assert summary == {"ingested": 1500 - files, "unchanged": files, "failed": 0, "skipped": 0, "empty": 0}
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT file_path) FROM notes").fetchone() == (1500, 1500)
    dup = conn.execute("SELECT COUNT(*) FROM (SELECT note_id, ord FROM chunks GROUP BY note_id, ord HAVING COUNT(*) > 1)")
    assert dup.fetchone()[0] == 0
