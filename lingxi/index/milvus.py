"""Scale-out retrieval backend: Milvus (a server/cluster URI, or Milvus Lite in a local file for CI).

One collection holds every chunk: a jieba-analyzed text field with a BM25 function
feeding a sparse vector, and the dense vector. The SQLite note store remains the
system of record for notes; this index is written after each file's transaction
commits and `lingxi index rebuild` re-syncs it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from lingxi.errors import BackendUnavailable
from lingxi.index.embedded import index_text
from lingxi.index.filters import Filters
from lingxi.index.tokenize import tokenize
from lingxi.types import Note


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def milvus_expr(f: Filters) -> str:
    """The same filters as Filters.sql, as a Milvus boolean expression."""
    if f.viewer is not None:
        # The collection does not record owners: the library turns a viewer into ``hidden_notes`` first. A viewer
        # that reaches here was not resolved, and fails closed rather than show private notes.
        raise BackendUnavailable("milvus filters need the viewer resolved to hidden note ids (Library.search does)")
    parts = []
    if f.hidden_notes:
        parts.append(f"not (note_id in [{', '.join(_quote(n) for n in f.hidden_notes)}])")
    if f.kinds:
        parts.append(f"kind in [{', '.join(_quote(k) for k in f.kinds)}]")
    if f.authors:
        parts.append(f"author in [{', '.join(_quote(a) for a in f.authors)}]")
    if f.tags:
        parts.append(f"array_contains_any(tags, [{', '.join(_quote(t) for t in f.tags)}])")
    if f.after:
        parts.append(f"created_at >= {_quote(f.after)}")
    if f.before:
        # "2024-12" must admit "2024-12-31": '~' sorts after every digit and '-'.
        parts.append(f'created_at != "" and created_at <= {_quote(f.before + "~")}')
    return " and ".join(parts)


class MilvusIndex:
    name = "milvus"

    def __init__(self, uri: str, collection: str, dim: int, token: str = "") -> None:
        self.uri = uri
        self.token = token
        self.collection = collection
        self.dim = dim
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from pymilvus import MilvusClient

                self._client = MilvusClient(self.uri, token=self.token) if self.token else MilvusClient(self.uri)
            except ImportError as e:
                raise BackendUnavailable("backend 'milvus' needs pymilvus: pip install 'lingxi[milvus]'") from e
            except Exception as e:  # pymilvus raises its own MilvusException and grpc errors
                raise BackendUnavailable(f"cannot connect to Milvus at {self.uri}: {e}") from e
            if not self._client.has_collection(self.collection):
                self._create()
            self._client.load_collection(self.collection)
        return self._client

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self._client
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("note_id", DataType.VARCHAR, max_length=256)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("author", DataType.VARCHAR, max_length=256)
        schema.add_field("created_at", DataType.VARCHAR, max_length=64)
        schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=128)
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "jieba"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=max(self.dim, 2))
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        idx = c.prepare_index_params()
        idx.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        idx.add_index(field_name="dense", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
        c.create_collection(self.collection, schema=schema, index_params=idx)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def drop(self) -> None:
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)
        self._create()
        self.client.load_collection(self.collection)

    def replace(self, old_note_ids: list[str], notes: list[Note], vectors: dict[str, np.ndarray],
                refresh: bool = True) -> None:
        """Delete the old notes' chunks and insert the new ones. ``refresh=False`` defers the reload for bulk loads
        (call ``refresh()`` once at the end)."""
        c = self.client
        if old_note_ids:
            c.delete(self.collection, filter=f"note_id in [{', '.join(_quote(i) for i in old_note_ids)}]")
        rows = []
        for note in notes:
            for ch in note.chunks:
                vec = vectors.get(ch.id)
                rows.append({
                    "chunk_id": ch.id,
                    "note_id": note.id,
                    "kind": note.kind,
                    "author": str(note.meta.get("author") or ""),
                    "created_at": str(note.meta.get("created_at") or ""),
                    "tags": [str(t)[:128] for t in note.meta.get("tags", [])][:64],
                    # Pre-tokenized with the same tokenizer as the embedded backend, so both rank the same terms.
                    "text": " ".join(tokenize(index_text(note, ch.text)))[:65535] or "-",
                    "dense": (vec if vec is not None else np.zeros(max(self.dim, 2), dtype=np.float32)).tolist(),
                })
        if rows:
            c.insert(self.collection, rows)
        if refresh and (rows or old_note_ids):
            self.refresh()

    def refresh(self, tries: int = 5) -> None:
        """Rows inserted after load are not in the HNSW index until the collection is reloaded. Milvus Lite may
        still be writing a new segment's index file when the reload reads it ("read error ... Resource temporarily
        unavailable", seen on a loaded machine): the reload is tried again after a short wait, ``tries`` times in
        all, before the error stands."""
        from pymilvus.exceptions import MilvusException

        c = self.client
        c.flush(self.collection)
        for attempt in range(1, tries + 1):
            c.release_collection(self.collection)
            try:
                c.load_collection(self.collection)
                return
            except MilvusException:
                if attempt == tries:
                    raise
                time.sleep(0.25 * attempt)

    def lexical_ids(self, tokens: list[str], k: int, filters: Filters) -> list[tuple[str, float]]:
        if not tokens:
            return []
        res = self.client.search(self.collection, data=[" ".join(tokens)], anns_field="sparse", limit=k,
                                 filter=milvus_expr(filters), output_fields=["chunk_id"],
                                 search_params={"metric_type": "BM25"})
        return sorted(((h["entity"]["chunk_id"], float(h["distance"])) for h in res[0]), key=lambda x: (-x[1], x[0]))

    def dense_ids(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[str, float]]:
        res = self.client.search(self.collection, data=[vector.astype(np.float32).tolist()], anns_field="dense",
                                 limit=k, filter=milvus_expr(filters), output_fields=["chunk_id"],
                                 search_params={"metric_type": "IP", "params": {"ef": max(64, k)}})
        return [(h["entity"]["chunk_id"], float(h["distance"])) for h in res[0]]

    def vectors_of(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        rows = self.client.query(self.collection, filter=f"chunk_id in [{', '.join(_quote(i) for i in chunk_ids)}]",
                                 output_fields=["chunk_id", "dense"])
        return {r["chunk_id"]: np.asarray(r["dense"], dtype=np.float32)[: self.dim] for r in rows}

    def count(self) -> int:
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])
