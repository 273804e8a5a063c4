"""Ingest into the store: idempotent, transactional per file, per-file reports."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from lingxi.errors import NotFound

from conftest import DATA, DEMO


def test_demo_corpus_ingests_then_unchanged(lib, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(DEMO, corpus)
    first = lib.ingest([corpus])
    assert [r.status for r in first] == ["ingested"] * 10
    stats = lib.stats()
    assert (stats["files"], stats["notes"], stats["chunks"]) == (10, 15, 47)
    second = lib.ingest([corpus])
    assert [r.status for r in second] == ["unchanged"] * 10
    assert lib.stats()["chunks"] == 47


def test_changed_file_replaces_its_chunks(lib, tmp_path):
    f = tmp_path / "note.md"
    f.write_text("---\ntitle: v1\n---\nfirst version paragraph.\n\nsecond paragraph.", encoding="utf-8")
    [r] = lib.ingest([f])
    assert (r.status, r.notes, r.chunks) == ("ingested", 1, 1)
    nid = lib.list_notes()[0]["id"]
    f.write_text("---\ntitle: v2\n---\nonly the new text.", encoding="utf-8")
    [r] = lib.ingest([f])
    assert r.status == "ingested"
    note = lib.get_note(nid)  # same file, same id
    assert note.title == "v2"
    assert [c.text for c in note.chunks] == ["only the new text."]
    assert lib.stats()["chunks"] == 1


def test_failed_file_leaves_old_version_and_others_ingest(lib, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"id":"g1","text":"hello"}\n', encoding="utf-8")
    [r] = lib.ingest([good])
    assert r.status == "ingested"
    good.write_text('{"id":"g1","text":"hello again"}\n{"id":"g2"}\n', encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text("Just a plain note.", encoding="utf-8")
    missing = tmp_path / "missing.md"
    # strict: a JSONL file with a bad row is all-or-nothing (without it the good row would be stored, see below)
    reports = lib.ingest([good, other, missing], strict=True)
    assert [r.status for r in reports] == ["failed", "ingested", "failed"]
    assert reports[0].reason.endswith("good.jsonl: line 2: field 'text' must be a non-empty string")
    assert reports[2].reason.endswith("missing.md: no such file or directory")
    # the failed re-ingest left the previous version whole
    assert [c.text for c in lib.get_note("g1").chunks] == ["hello"]
    [r] = lib.ingest([good])
    assert (r.status, r.notes) == ("ingested", 1)
    assert [m.split(": ", 1)[1] for m in r.bad_rows] == ["line 2: field 'text' must be a non-empty string"]
    assert [c.text for c in lib.get_note("g1").chunks] == ["hello again"]


def test_duplicate_jsonl_id_across_files_rejected_whole(lib, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id":"same","text":"from a"}\n', encoding="utf-8")
    b.write_text('{"id":"new","text":"from b"}\n{"id":"same","text":"from b"}\n', encoding="utf-8")
    ra, rb = lib.ingest([a, b])
    assert ra.status == "ingested" and rb.status == "failed"
    assert "note id 'same' already exists" in rb.reason
    with pytest.raises(NotFound):
        lib.get_note("new")  # nothing of b was written
    assert lib.get_note("same").chunks[0].text == "from a"


def test_folder_walk_skips_unknown_and_hidden(lib, tmp_path):
    (tmp_path / "d" / ".git").mkdir(parents=True)
    (tmp_path / "d" / ".git" / "x.md").write_text("# hidden", encoding="utf-8")
    (tmp_path / "d" / "model.pdb").write_bytes(b"\x89PDB")
    (tmp_path / "d" / "a.md").write_text("# A\n\ntext", encoding="utf-8")
    reports = lib.ingest([tmp_path / "d"])
    assert [(r.path.rsplit("/", 1)[-1], r.status) for r in reports] == [("a.md", "ingested"), ("model.pdb", "skipped")]


def test_forced_format(lib, tmp_path):
    f = tmp_path / "talk.txt"
    f.write_text("Hello. This has punctuation, lots of it.\n\nSecond paragraph.", encoding="utf-8")
    [r] = lib.ingest([f], fmt="transcript")
    assert (r.status, r.format) == ("ingested", "transcript")
    [r] = lib.ingest([f], fmt="text")  # a different forced format re-parses
    assert (r.status, r.format) == ("ingested", "text")
    [r] = lib.ingest([f], fmt="text")
    assert r.status == "unchanged"


def test_store_is_wal_and_notes_show(lib):
    lib.ingest([DATA / "two-episodes.txt"])
    conn = sqlite3.connect(lib.settings.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = lib.list_notes()
    assert [r["chunk_count"] for r in rows] == [7, 7]
    note = lib.get_note(rows[0]["id"])
    assert note.chunks[4].locator.label() == "00:27:31–00:41:08"
    assert note.chunks[4].id == f"{note.id}:4"
    with pytest.raises(NotFound, match="no note with id 'nope'"):
        lib.get_note("nope")
