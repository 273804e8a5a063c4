"""The library facade: one object that ingests files into the store, indexes them and searches them.

The CLI and the API are thin layers over this class.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from lingxi.agent import AgentConfig, SearchAgent
from lingxi.config import Settings, limit_native_threads
from lingxi.errors import BadInput, LingxiError, NoContent, NotFound, PermissionDenied
from lingxi.index.embedded import EmbeddedIndex, cached_vectors, index_text
from lingxi.index.filters import Filters
from lingxi.index.store import NoteStore, note_id_for
from lingxi.ingest import PARSER_VERSION, parse_bytes
from lingxi.ingest.formats import EXTENSIONS, MEDIA_EXTENSIONS, TEXT_EXTENSIONS, check_format, media_format, parse_media
from lingxi.llm.bundled import resolve_model
from lingxi.llm.chat import ChatModel, LocalChatModel, OpenAIChatModel
from lingxi.llm.embedder import E5Embedder, Embedder, OpenAIEmbedder
from lingxi.media import Recognizers
from lingxi.search.hybrid import FusionWeights, Reranker, Searcher
from lingxi.search.results import Results
from lingxi.types import Answer, FileReport, Hit, Note, Step
from lingxi.users import Users

Progress = Callable[[int, int, FileReport], None]

MAX_FILE_BYTES = 200 * 1024 * 1024
# Images and recordings are streamed from disk (hashed in blocks, decoded in windows), so they may be larger.
MAX_MEDIA_BYTES = 8 * 1024 * 1024 * 1024
# passages of one note a search of the agent returns (a long note's second-best passage may be the one asked for)
AGENT_PER_NOTE = 2


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def walk(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[Path, bool]]:
    """Files under the given paths, recursively, sorted; hidden files and folders skipped.

    Yields (path, named) where named means the user named this file directly."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if not f.startswith("."):
                        yield Path(root) / f, False
        else:
            yield p, True


def make_chat(settings: Settings, progress: Callable[[int, int], None] | None = None,
              model: str | None = None) -> ChatModel:
    """The configured chat model: the bundled local model (assembled on first use) or an OpenAI-compatible server
    (``model``: another model of the same backend, e.g. the agent's planner)."""
    if settings.llm == "openai":
        return OpenAIChatModel(settings.llm_url, model or settings.llm_model, api_key=settings.llm_api_key or None,
                               context=settings.llm_context)
    path = resolve_model(model or settings.llm_model, settings.model_cache, progress)
    return LocalChatModel(path, threads=settings.threads, context=settings.llm_context, speculative=settings.speculative,
                          jump_forward=settings.jump_forward, greedy_loop=settings.greedy_loop,
                          state_dir=settings.cache_dir / "llm-state" if settings.llm_state else None)


_PLANNERS: dict[tuple[object, ...], ChatModel] = {}
_PLANNERS_LOCK = threading.Lock()


def make_embedder(settings: Settings) -> Embedder | None:
    if settings.embedder == "none":
        return None
    if settings.embedder == "openai":
        return OpenAIEmbedder(settings.embed_url, settings.embed_model, settings.embed_dim,
                              api_key=settings.embed_api_key or None, role_field=settings.embed_role_field or None)
    return E5Embedder(threads=settings.threads)


def rows_left_out(data: bytes, name: str) -> list[str]:
    """The bad-row messages of a JSONL file (re-parsed: parsing is cheap next to embedding)."""
    from lingxi.ingest import jsonl
    from lingxi.ingest.text import decode

    return jsonl.parse_rows(decode(data, name), name)[1]


class _EmbeddedBackend:
    """Binds the embedded index to the store's connection for the Searcher."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib

    def lexical_ids(self, tokens: list[str], k: int, filters: Filters) -> list[tuple[str, float]]:
        return self.lib.index.lexical(self.lib.conn, tokens, k, filters)

    def dense_ids(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[str, float]]:
        return self.lib.index.dense(self.lib.conn, vector, k, filters)

    def vectors_of(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        return self.lib.index.vectors_of(self.lib.conn, chunk_ids)

    def phonetic_ids(self, tokens: list[str], k: int, filters: Filters) -> list[tuple[str, float]]:
        return self.lib.index.phonetic(self.lib.conn, tokens, k, filters)


class Library:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, reranker: Reranker | None = None) -> None:
        self.settings = settings
        limit_native_threads(settings.threads)
        self.store = NoteStore(settings.db_path)
        self._embedder = embedder
        self._embedder_made = embedder is not None
        self.reranker = reranker
        dim = embedder.dim if embedder is not None else (settings.embed_dim or 384)
        self.index = EmbeddedIndex(settings.home, dim, settings.exact_threshold, threads=settings.threads,
                                   budget=settings.bm25_budget, prune_from=settings.bm25_prune_from,
                                   phonetic_kinds=settings.phonetic_kinds)
        self._schema_ready = False
        self._milvus: Any = None
        self._users: Users | None = None
        # Called with (done, total) while a file's chunks are embedded; the CLI shows it for big files.
        self.embed_progress: Callable[[int, int], None] | None = None
        # OCR and speech recognition for images and recordings (and images that notes reference); lazy.
        self.recognizers = Recognizers(settings.threads, settings.asr_languages)
        # Background threads that write to this store (companions' memory workers): stopped before it closes.
        self._before_close: weakref.WeakSet[Any] = weakref.WeakSet()

    @property
    def conn(self) -> sqlite3.Connection:
        conn = self.store.conn
        if not self._schema_ready:
            EmbeddedIndex.ensure_schema(conn)
            self._schema_ready = True
        return conn

    @property
    def embedder(self) -> Embedder | None:
        if not self._embedder_made:
            self._embedder = make_embedder(self.settings)
            self._embedder_made = True
        return self._embedder

    @property
    def milvus(self) -> Any:
        if self.settings.backend != "milvus":
            return None
        if self._milvus is None:
            from lingxi.index.milvus import MilvusIndex

            uri = self.settings.milvus_uri or str(self.settings.home / "milvus.db")
            dim = self.embedder.dim if self.embedder is not None else 0
            self._milvus = MilvusIndex(uri, self.settings.milvus_collection, dim, self.settings.milvus_token)
        return self._milvus

    def users(self) -> Users:
        """The HTTP API's users and keys, in this store."""
        if self._users is None:
            with self.store._lock:  # its schema is created while no other thread is mid-transaction
                self._users = Users(self.conn, self.store.transaction)
        return self._users

    def on_close(self, worker: Any) -> None:
        """``worker.close()`` is called (and waited for) before the store closes, so no background job is left
        writing to a closed connection. Held weakly."""
        self._before_close.add(worker)

    def close(self) -> None:
        for worker in list(self._before_close):
            worker.close()
        if self._milvus is not None:
            self._milvus.close()
        self.store.close()

    # --- ingest ------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        fmt: str | None = None,
        progress: Progress | None = None,
        strict: bool = False,
    ) -> list[FileReport]:
        """Ingest files and folders. A JSONL file with bad rows stores its good rows and lists the bad ones in
        its report's ``bad_rows``; with ``strict`` such a file fails whole and the store keeps what it had."""
        if fmt is not None:
            check_format(fmt)
        files = list(walk(paths))
        reports = []
        for i, (path, named) in enumerate(files, start=1):
            report = self.ingest_file(path, fmt, named=named, strict=strict)
            reports.append(report)
            if progress:
                progress(i, len(files), report)
        return reports

    def ingest_file(self, path: Path, fmt: str | None = None, named: bool = True, strict: bool = False) -> FileReport:
        shown = str(path)
        try:
            shown.encode("utf-8")
        except UnicodeEncodeError:  # a name in another encoding than the system's: it cannot be stored or shown
            shown = shown.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return FileReport(shown, "failed", fmt or "", reason=f"{shown}: the file name is not valid UTF-8; "
                                                                  "rename the file")
        suffix = path.suffix.lower()
        known = suffix in EXTENSIONS or suffix in TEXT_EXTENSIONS or suffix in MEDIA_EXTENSIONS
        if not named and fmt is None and not known:
            return FileReport(shown, "skipped", reason=f"extension {path.suffix!r} is not a known format")
        media = media_format(shown, fmt)
        try:
            key = str(path.resolve())
            if not path.exists():
                raise BadInput(f"{shown}: no such file or directory")
            if not path.is_file():
                raise BadInput(f"{shown}: not a regular file")
            size = path.stat().st_size
            limit = MAX_MEDIA_BYTES if media else MAX_FILE_BYTES
            if size > limit:
                raise BadInput(f"{shown}: file is {size} bytes, over the {limit}-byte limit")
            data = b""
            try:
                if media:
                    sha = file_sha256(path)
                else:
                    data = path.read_bytes()
                    sha = hashlib.sha256(data).hexdigest()
            except OSError as e:
                raise BadInput(f"{shown}: cannot read ({e.strerror})") from e
            if not media:
                return self._ingest_data(key, shown, data, fmt, strict=strict, refs=True)
            # a recording or an image is read from the file as a stream, never whole into memory
            state = self._unchanged_state(key, sha, fmt)
            if state:
                return FileReport(shown, "unchanged", state["format"], len(self.store.note_ids_for_file(key)))
            notes = parse_media(path, shown, media, self.recognizers)
            stored = self._write(key, sha, media, size, notes)
            return FileReport(shown, "ingested", media, len(stored), sum(len(n.chunks) for n in stored))
        except NoContent as e:
            return FileReport(shown, "empty", media or fmt or "", reason=str(e))
        except LingxiError as e:
            return FileReport(shown, "failed", fmt or "", reason=str(e), bad_rows=getattr(e, "rows", ()))

    def ingest_upload(self, data: bytes, name: str, owner: str, visibility: str = "private",
                      fmt: str | None = None) -> FileReport:
        """Ingest one uploaded file for ``owner``. Its notes are stored under ``upload:OWNER/NAME`` (uploading the
        same name again replaces them) with the given visibility. A file that fails leaves the store as it was."""
        from lingxi.index.filters import VISIBILITIES

        shown = name
        try:
            if visibility not in VISIBILITIES:
                raise BadInput(f"visibility {visibility!r} is not one of: {', '.join(VISIBILITIES)}")
            if fmt is not None:
                check_format(fmt)
            if len(data) > MAX_FILE_BYTES:
                raise BadInput(f"{name}: file is {len(data)} bytes, over the {MAX_FILE_BYTES}-byte limit")
            return self._ingest_data(f"upload:{owner}/{name}", shown, data, fmt, owner, visibility)
        except NoContent as e:
            return FileReport(shown, "empty", media_format(name, fmt) or fmt or "", reason=str(e))
        except LingxiError as e:
            return FileReport(shown, "failed", fmt or "", reason=str(e), bad_rows=getattr(e, "rows", ()))

    def _unchanged_state(self, key: str, sha: str, fmt: str | None) -> dict[str, Any] | None:
        """The stored state of ``key`` when it holds these bytes, parsed by this parser version (and format)."""
        _ = self.conn
        state = self.store.file_state(key)
        if state and state["sha256"] == sha and state["parser_version"] == PARSER_VERSION and (
                fmt is None or fmt == state["format"]):
            return dict(state)
        return None

    def _ingest_data(self, key: str, shown: str, data: bytes, fmt: str | None, owner: str | None = None,
                     visibility: str = "public", strict: bool = False, refs: bool = False) -> FileReport:
        """Parse and store one file's bytes under ``key``. ``refs``: also read the images a note references, relative
        to the file (only for files of this machine: an upload's references would name the server's own files)."""
        sha = hashlib.sha256(data).hexdigest()
        state = self._unchanged_state(key, sha, fmt)
        if state:
            with self.store.transaction() as conn:  # the same file uploaded again may change only who sees it
                conn.execute("UPDATE notes SET visibility=? WHERE file_path=? AND visibility<>?", (visibility, key, visibility))
            # an unchanged JSONL file still has the bad rows it had: say so again rather than report success
            left_out = rows_left_out(data, shown) if state["format"] == "jsonl" else []
            return FileReport(shown, "unchanged", state["format"], len(self.store.note_ids_for_file(key)),
                              bad_rows=tuple(left_out))
        bad: list[str] = []
        media = media_format(shown, fmt)
        if media:  # an uploaded image or recording: the recognisers read files
            with tempfile.TemporaryDirectory(prefix="lingxi-upload-") as tmp:
                path = Path(tmp) / ("upload" + PurePath(shown).suffix.lower())
                path.write_bytes(data)
                chosen, notes = media, parse_media(path, shown, media, self.recognizers)
        else:
            chosen, notes = parse_bytes(data, shown, fmt, bad_rows=None if strict else bad,
                                        media=self.recognizers if refs else None)
        stored = self._write(key, sha, chosen, len(data), notes, owner, visibility)
        return FileReport(shown, "ingested", chosen, len(stored), sum(len(n.chunks) for n in stored),
                          bad_rows=tuple(bad))

    def _embed_notes(self, path: str, notes: list[Note]) -> tuple[dict[str, np.ndarray] | None, dict[str, np.ndarray]]:
        emb = self.embedder
        if emb is None:
            return None, {}
        texts = {}
        for note in notes:
            nid = note_id_for(path, note.id, note.kind)
            for c in note.chunks:
                texts[f"{nid}:{c.ord}"] = index_text(note, c.text)
        return cached_vectors(self.conn, emb.name, texts, lambda t: emb.embed(t, "passage", self.embed_progress), emb.dim)

    def _write(self, key: str, sha: str, fmt: str, size: int, notes: list[Note], owner: str | None = None,
               visibility: str = "public") -> list[Note]:
        vectors, fresh = self._embed_notes(key, notes)
        old_ids = self.store.note_ids_for_file(key)
        with self.store.transaction() as conn:
            stored = self.store.write_file(conn, key, sha, fmt, PARSER_VERSION, size, notes, owner, visibility)
            self.index.add(conn, stored, vectors)
            self._cache(conn, fresh)
        if self.milvus is not None:
            self.milvus.replace(old_ids, stored, vectors or {})
        return stored

    def _cache(self, conn: sqlite3.Connection, fresh: dict[str, np.ndarray]) -> None:
        emb = self.embedder
        if emb is not None and fresh:
            conn.executemany("INSERT OR IGNORE INTO embed_cache(hash, model, vec) VALUES (?,?,?)",
                             [(h, emb.name, v.tobytes()) for h, v in fresh.items()])

    def remove(self, paths: Iterable[str | os.PathLike[str]]) -> list[FileReport]:
        """Delete the notes ingested from these files (or from files under these folders)."""
        reports = []
        for raw in paths:
            key = str(Path(raw).resolve())
            _ = self.conn
            rows = self.conn.execute(
                "SELECT path FROM files WHERE path = ? OR path LIKE ? ORDER BY path", (key, key.rstrip("/") + "/%")
            ).fetchall()
            if not rows:
                reports.append(FileReport(str(raw), "failed", reason=f"{raw}: nothing ingested from this path"))
                continue
            for (path,) in rows:
                with self.store.transaction() as conn:
                    ids = self.store.delete_file(conn, path)
                if self.milvus is not None:
                    self.milvus.replace(ids, [], {})
                reports.append(FileReport(path, "removed", notes=len(ids)))
        return reports

    def rebuild_index(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Re-tokenize every chunk and re-create the vector index (embeddings come from the cache when present)."""
        conn = self.conn
        files = [r[0] for r in conn.execute("SELECT path FROM files ORDER BY path")]
        with self.store.transaction() as c:
            self.index.clear(c)
        if self.milvus is not None:
            self.milvus.drop()
        chunks = 0
        for i, path in enumerate(files, 1):
            notes = [self.store.get_note(nid) for nid in self.store.note_ids_for_file(path)]
            vectors, fresh = self._embed_notes(path, notes)
            with self.store.transaction() as c:
                self.index.add(c, notes, vectors)
                self._cache(c, fresh)
            if self.milvus is not None:
                self.milvus.replace([], notes, vectors or {})
            chunks += sum(len(n.chunks) for n in notes)
            if progress:
                progress(i, len(files))
        if self.embedder is not None:
            self.index.vectors.sync(conn)
        return {"files": len(files), "chunks": chunks}

    # --- search ------------------------------------------------------------
    def searcher(self) -> Searcher:
        backend: Any = self.milvus if self.milvus is not None else _EmbeddedBackend(self)
        emb = self.embedder
        return Searcher(
            backend,
            self._resolve,
            emb.embed_query if emb is not None else None,
            FusionWeights(self.settings.lexical_weight, self.settings.dense_weight, method=self.settings.fusion,
                          feedback=self.settings.feedback_weight, phonetic=self.settings.phonetic_weight),
            self.reranker,
        )

    def search(
        self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | list[str] | None = None, per_note: int = 1
    ) -> list[Hit]:
        f = filters if isinstance(filters, Filters) else Filters.parse(filters)
        if f.viewer is not None and self.milvus is not None:
            _ = self.conn
            f = dataclasses.replace(f, viewer=None, hidden_notes=f.hidden_notes + tuple(self.store.hidden_from(f.viewer)))
        return self.searcher().search(query, k=k, mode=mode, filters=f, per_note=per_note)

    def search_results(
        self, query: str, k: int = 10, mode: str = "hybrid", filters: Filters | list[str] | None = None, per_note: int = 1
    ) -> Results:
        """Like ``search``, with the passages grouped by note and a count of what the per-note limit folded away."""
        f = filters if isinstance(filters, Filters) else Filters.parse(filters)
        if f.viewer is not None and self.milvus is not None:
            _ = self.conn
            f = dataclasses.replace(f, viewer=None, hidden_notes=f.hidden_notes + tuple(self.store.hidden_from(f.viewer)))
        return self.searcher().results(query, k=k, mode=mode, filters=f, per_note=per_note)

    def agent(self, chat: ChatModel, config: AgentConfig | None = None, filters: Filters | None = None) -> SearchAgent:
        """A search agent over this library; it reads up to two chunks per note per search, and only notes that
        pass ``filters`` (a viewer's filters keep it to what that user may see: it can neither read nor cite
        anything else)."""
        mode = self.default_mode()
        def search(q: str, k: int) -> list[Hit]:
            return self.search(q, k=k, mode=mode, per_note=AGENT_PER_NOTE, filters=filters)

        return SearchAgent(chat, search, config, planner=self.planner(chat), around=self.store.around)

    def planner(self, chat: ChatModel) -> ChatModel | None:
        """The model that writes the agent's plans (``LINGXI_AGENT_PLANNER``): by default a second context of
        ``chat`` (the local model over the same mapped weights; other backends have none), ``off`` none (``chat``
        plans in its own context), or a named model, made once per process and configuration. A planner of its own
        keeps the plan's instructions in its context from one question to the next."""
        s = self.settings
        if s.planner_model in ("off", "none"):
            return None
        if not s.planner_model:
            forked = chat.fork()
            return None if forked is chat else forked
        key = (s.llm, s.planner_model, s.llm_url, str(s.model_cache), s.threads, s.llm_context)
        with _PLANNERS_LOCK:
            if key not in _PLANNERS:
                _PLANNERS[key] = make_chat(s, model=s.planner_model)
            return _PLANNERS[key]

    def default_mode(self) -> str:
        """Hybrid search, or BM25 alone in a store opened with embeddings off."""
        return "bm25" if self.settings.embedder == "none" else "hybrid"

    def ask(self, question: str, chat: ChatModel, config: AgentConfig | None = None,
            on_step: Callable[[Step], None] | None = None, filters: Filters | None = None) -> Answer:
        return self.agent(chat, config, filters).ask(question, on_step)

    def _resolve(self, chunk_ids: list[str]) -> list[Hit]:
        chunks = self.store.get_chunks(chunk_ids)
        if not chunks:
            return []
        note_ids = list(dict.fromkeys(c.note_id for c in chunks))
        meta = {
            r[0]: r[1:]
            for r in self.conn.execute(
                f"SELECT n.id, n.title, n.file_path, n.kind FROM notes n WHERE n.id IN ({','.join('?' * len(note_ids))})",
                note_ids,
            )
        }
        return [Hit(chunk=c, title=meta[c.note_id][0], source=meta[c.note_id][1], kind=meta[c.note_id][2], score=0.0)
                for c in chunks if c.note_id in meta]

    # --- reads -------------------------------------------------------------
    def list_notes(self, kind: str | None = None, limit: int | None = None, offset: int = 0,
                   viewer: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        _ = self.conn
        return self.store.list_notes(kind=kind, limit=limit, offset=offset, viewer=viewer, owner=owner)

    def get_note(self, note_id: str, viewer: str | None = None) -> Note:
        """A note by id; with a ``viewer``, another user's private note is as missing as one that never was."""
        _ = self.conn
        if viewer is not None:
            owner, visibility = self.store.access(note_id)
            if visibility != "public" and owner != viewer:
                raise NotFound(f"no note with id {note_id!r}")
        return self.store.get_note(note_id)

    def delete_note(self, note_id: str, owner: str | None = None) -> None:
        """Delete one note; with ``owner``, only a note that user uploaded (PermissionDenied otherwise, NotFound
        when the user may not even see it)."""
        _ = self.conn
        if owner is not None:
            who, visibility = self.store.access(note_id)
            if who != owner:
                if visibility != "public":
                    raise NotFound(f"no note with id {note_id!r}")
                raise PermissionDenied(f"note {note_id!r} belongs to {who or 'the operator'}; only its owner may delete it")
        with self.store.transaction() as conn:
            self.store.delete_note(conn, note_id)
        if self.milvus is not None:
            self.milvus.replace([note_id], [], {})

    def stats(self) -> dict[str, Any]:
        _ = self.conn
        s = self.store.stats()
        s["vectors"] = self.conn.execute("SELECT COUNT(*) FROM chunk_vectors").fetchone()[0]
        s["backend"] = self.settings.backend
        s["embedder"] = self.settings.embedder
        return s
