"""Milvus Lite: a reload that reads a segment's index file still being written is tried again, not an error."""

from __future__ import annotations

import pytest

from lingxi import Library, Settings
from lingxi.index.filters import Filters


def test_a_reload_that_fails_once_is_tried_again_and_the_note_is_found(tmp_path):
    pytest.importorskip("pymilvus", reason="pymilvus not installed: pip install 'lingxi[milvus]'")
    from pymilvus.exceptions import MilvusException

    lib = Library(Settings.load(tmp_path, threads=1, backend="milvus", embedder="none"))
    try:
        client = lib.milvus.client
        real, failed = client.load_collection, []

        def flaky(name, *a, **kw):  # the real Milvus Lite, with the race it shows on a loaded machine once
            if not failed:
                failed.append(name)
                raise MilvusException(1, "read error in data_000007.dense.hnsw.idx: 0 != 1 (Resource temporarily unavailable)")
            return real(name, *a, **kw)

        client.load_collection = flaky
        rep = lib.ingest_upload(b"# Okapi\n\nThe okapi is a striped forest giraffe.\n", "okapi.md", "alice")
        assert rep.status == "ingested" and failed
        hits = lib.search("striped forest okapi", k=3, mode="bm25", filters=Filters(viewer="alice"))
        assert hits and hits[0].title == "Okapi"
        client.load_collection = lambda *a, **kw: (_ for _ in ()).throw(MilvusException(1, "read error"))
        with pytest.raises(MilvusException):
            lib.milvus.refresh(tries=2)  # one that keeps failing stands after its tries
    finally:
        client.load_collection = real
        lib.close()
