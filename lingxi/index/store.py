"""The note store: SQLite in WAL mode holding files, notes, chunks and their provenance.

Every write of one source file is one transaction, so a crash or a failure leaves
either the old notes of that file or the new ones, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lingxi.errors import BadInput, NotFound
from lingxi.types import Chunk, Locator, Note

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    format TEXT NOT NULL,
    parser_version TEXT NOT NULL,
    size INTEGER NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE TABLE IF NOT EXISTS notes (
    id TEXT PRIMARY KEY,
    file_path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    meta TEXT NOT NULL,
    created_at TEXT
);
CREATE INDEX IF NOT EXISTS notes_file ON notes(file_path);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    note_id TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    start_s REAL,
    end_s REAL,
    char_start INTEGER,
    char_end INTEGER,
    meta TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    image TEXT,
    box TEXT
);
CREATE INDEX IF NOT EXISTS chunks_note ON chunks(note_id, ord);
"""

# Additive migrations, applied in order to a store that lacks the column (a store of any earlier version opens).
# owner: the user who uploaded the note (NULL for notes the operator ingested with the CLI);
# visibility: 'private' (the owner only) or 'public' (every user). The operator's notes are public.
MIGRATIONS = (
    ("notes", "owner", "ALTER TABLE notes ADD COLUMN owner TEXT"),
    ("notes", "visibility", "ALTER TABLE notes ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'"),
)
POST_MIGRATION = "CREATE INDEX IF NOT EXISTS notes_owner ON notes(owner, visibility);"


def migrate(conn: sqlite3.Connection) -> None:
    """Add the columns later versions need; nothing is rewritten or dropped."""
    for table, column, ddl in MIGRATIONS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(ddl)
    conn.executescript(POST_MIGRATION)


def note_id_for(path: str, key: str, kind: str) -> str:
    """Store-wide note id. A JSONL row keeps the id it gives — an uploaded file's prefixed by its owner
    (``alice:row1``), so one user's ids never take another's; other notes, and rows that give no id (their key
    starts with ``#``), get a stable hash of file and key."""
    if kind == "jsonl" and not key.startswith("#"):
        return f"{path[len('upload:'):].split('/', 1)[0]}:{key}" if path.startswith("upload:") else key
    return "n" + hashlib.sha1(f"{path}#{key}".encode()).hexdigest()[:11]


def chunk_id(note_id: str, ord_: int) -> str:
    """A chunk's store id: its note's id and its position in the note."""
    return f"{note_id}:{ord_}"


def note_of_chunk(cid: str) -> str:
    """The note id of a chunk id (a JSONL note may keep an id with ':' in it, so only the last one separates)."""
    return cid.rsplit(":", 1)[0]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class NoteStore:
    """SQLite note store. The connection opens on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:  # a home that is a file, or a folder this user cannot write
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
            except (OSError, sqlite3.OperationalError) as e:
                raise BadInput(f"cannot open the store {self.path}: {e}") from e
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
            migrate(conn)
            # Stores made before image locators: add the two nullable columns.
            have = {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
            for col in ("image", "box"):
                if col not in have:
                    conn.execute(f"ALTER TABLE chunks ADD COLUMN {col} TEXT")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT; rolled back on any exception."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- files -------------------------------------------------------------
    def file_state(self, path: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT sha256, format, parser_version FROM files WHERE path=?", (path,)).fetchone()
        return None if row is None else {"sha256": row[0], "format": row[1], "parser_version": row[2]}

    def write_file(
        self,
        conn: sqlite3.Connection,
        path: str,
        sha256: str,
        fmt: str,
        parser_version: str,
        size: int,
        notes: list[Note],
        owner: str | None = None,
        visibility: str = "public",
    ) -> list[Note]:
        """Replace everything stored for ``path`` by ``notes``, inside the caller's transaction.

        ``owner`` and ``visibility`` apply to every note of the file. Returns the notes as stored (with final ids and chunk ids)."""
        from lingxi.index.filters import VISIBILITIES

        if visibility not in VISIBILITIES:
            raise BadInput(f"visibility {visibility!r} is not one of: {', '.join(VISIBILITIES)}")
        conn.execute("DELETE FROM files WHERE path=?", (path,))
        conn.execute(
            "INSERT INTO files(path, sha256, format, parser_version, size) VALUES (?,?,?,?,?)",
            (path, sha256, fmt, parser_version, size),
        )
        stored = []
        for i, note in enumerate(notes):
            nid = note_id_for(path, note.id, note.kind)
            clash = conn.execute("SELECT file_path FROM notes WHERE id=?", (nid,)).fetchone()
            if clash is not None:  # another user's file is not named to this one
                mine = not path.startswith("upload:") or clash[0].startswith(path.split("/", 1)[0] + "/")
                raise BadInput(f"{path}: note id {nid!r} already exists" + (f", from {clash[0]}" if mine else ""))
            conn.execute(
                "INSERT INTO notes(id, file_path, ord, title, kind, body, meta, created_at, owner, visibility)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    nid,
                    path,
                    i,
                    note.title,
                    note.kind,
                    note.body,
                    json.dumps(note.meta, ensure_ascii=False),
                    note.meta.get("created_at"),
                    owner,
                    visibility,
                ),
            )
            chunks = []
            for c in note.chunks:
                cid = chunk_id(nid, c.ord)
                loc = c.locator
                conn.execute(
                    "INSERT INTO chunks(id, note_id, ord, text, start_s, end_s, char_start, char_end, meta, content_hash,"
                    " image, box) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        cid,
                        nid,
                        c.ord,
                        c.text,
                        loc.start_s,
                        loc.end_s,
                        loc.char_start,
                        loc.char_end,
                        json.dumps(c.meta, ensure_ascii=False),
                        content_hash(c.text),
                        loc.image,
                        json.dumps(list(loc.box)) if loc.box else None,
                    ),
                )
                chunks.append(Chunk(text=c.text, locator=loc, meta=c.meta, ord=c.ord, id=cid, note_id=nid))
            stored.append(
                Note(
                    id=nid,
                    title=note.title,
                    kind=note.kind,
                    source=path,
                    body=note.body,
                    chunks=tuple(chunks),
                    meta=note.meta,
                )
            )
        return stored

    def delete_file(self, conn: sqlite3.Connection, path: str) -> list[str]:
        """Delete a source file's notes inside the caller's transaction; returns the deleted note ids."""
        ids = [r[0] for r in conn.execute("SELECT id FROM notes WHERE file_path=?", (path,))]
        conn.execute("DELETE FROM files WHERE path=?", (path,))
        return ids

    def delete_note(self, conn: sqlite3.Connection, note_id: str) -> None:
        """Delete one note (its chunks and index rows cascade) inside the caller's transaction; its file's record
        goes with its last note."""
        row = conn.execute("SELECT file_path FROM notes WHERE id=?", (note_id,)).fetchone()
        if row is None:
            raise NotFound(f"no note with id {note_id!r}")
        conn.execute("DELETE FROM notes WHERE id=?", (note_id,))
        if conn.execute("SELECT 1 FROM notes WHERE file_path=? LIMIT 1", (row[0],)).fetchone() is None:
            conn.execute("DELETE FROM files WHERE path=?", (row[0],))

    def access(self, note_id: str) -> tuple[str | None, str]:
        """(owner, visibility) of a note."""
        row = self.conn.execute("SELECT owner, visibility FROM notes WHERE id=?", (note_id,)).fetchone()
        if row is None:
            raise NotFound(f"no note with id {note_id!r}")
        return row[0], row[1]

    def hidden_from(self, viewer: str) -> list[str]:
        """Ids of the notes ``viewer`` may not see: other users' private notes."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM notes WHERE visibility <> 'public' AND (owner IS NULL OR owner <> ?)", (viewer,))]

    def note_ids_for_file(self, path: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM notes WHERE file_path=? ORDER BY ord", (path,))]

    # --- reads -------------------------------------------------------------
    def list_notes(self, kind: str | None = None, limit: int | None = None, offset: int = 0,
                   viewer: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        """Notes in file order; ``viewer`` keeps those the user may see, ``owner`` those the user uploaded."""
        sql = (
            "SELECT n.id, n.title, n.file_path, n.kind, n.created_at,"
            " (SELECT COUNT(*) FROM chunks c WHERE c.note_id = n.id), n.owner, n.visibility FROM notes n"
        )
        where: list[str] = []
        args: list[Any] = []
        if kind:
            where.append("n.kind=?")
            args.append(kind)
        if viewer is not None:
            where.append("(n.visibility = 'public' OR n.owner = ?)")
            args.append(viewer)
        if owner is not None:
            where.append("n.owner = ?")
            args.append(owner)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY n.file_path, n.ord LIMIT ? OFFSET ?"
        args += [-1 if limit is None else limit, offset]
        return [
            {"id": r[0], "title": r[1], "source": r[2], "kind": r[3], "created_at": r[4], "chunk_count": r[5],
             "owner": r[6], "visibility": r[7]}
            for r in self.conn.execute(sql, args)
        ]

    def get_note(self, note_id: str) -> Note:
        row = self.conn.execute(
            "SELECT id, title, kind, file_path, body, meta FROM notes WHERE id=?", (note_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no note with id {note_id!r}")
        chunks = tuple(self._chunks("WHERE note_id=? ORDER BY ord", (note_id,)))
        return Note(
            id=row[0], title=row[1], kind=row[2], source=row[3], body=row[4], chunks=chunks, meta=json.loads(row[5])
        )

    def get_chunks(self, chunk_ids: list[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        by_id = {c.id: c for c in self._chunks(f"WHERE id IN ({marks})", tuple(chunk_ids))}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def around(self, chunk: Chunk, span: int = 1) -> list[Chunk]:
        """The chunks of ``chunk``'s note up to ``span`` places before and after it, in the note's order."""
        return list(self._chunks("WHERE note_id=? AND ord BETWEEN ? AND ? AND ord<>? ORDER BY ord",
                                 (chunk.note_id, chunk.ord - span, chunk.ord + span, chunk.ord)))

    def _chunks(self, where: str, args: tuple[Any, ...]) -> Iterator[Chunk]:
        for r in self.conn.execute(
            f"SELECT id, note_id, ord, text, start_s, end_s, char_start, char_end, meta, image, box FROM chunks {where}",
            args,
        ):
            box = tuple(json.loads(r[10])) if r[10] else None
            yield Chunk(
                text=r[3],
                locator=Locator(start_s=r[4], end_s=r[5], char_start=r[6], char_end=r[7], image=r[9], box=box),
                meta=json.loads(r[8]),
                ord=r[2],
                id=r[0],
                note_id=r[1],
            )

    def stats(self) -> dict[str, Any]:
        c = self.conn
        kinds = {
            r[0]: {"notes": r[1], "chunks": r[2]}
            for r in c.execute(
                "SELECT n.kind, COUNT(DISTINCT n.id), COUNT(ch.id) FROM notes n LEFT JOIN chunks ch ON ch.note_id=n.id"
                " GROUP BY n.kind ORDER BY n.kind"
            )
        }
        return {
            "home": str(self.path.parent),
            "files": c.execute("SELECT COUNT(*) FROM files").fetchone()[0],
            "notes": c.execute("SELECT COUNT(*) FROM notes").fetchone()[0],
            "chunks": c.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            "characters": c.execute("SELECT COALESCE(SUM(LENGTH(text)),0) FROM chunks").fetchone()[0],
            "by_kind": kinds,
            "db_bytes": sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()),
        }
