"""The library facade: one object that ingests files into the store and reads them back.

The CLI and the API are thin layers over this class.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from lingxi.config import Settings
from lingxi.errors import BadInput, LingxiError
from lingxi.index.store import NoteStore
from lingxi.ingest import PARSER_VERSION, parse_bytes
from lingxi.ingest.formats import EXTENSIONS, TEXT_EXTENSIONS, check_format
from lingxi.types import FileReport, Note

Progress = Callable[[int, int, FileReport], None]

MAX_FILE_BYTES = 200 * 1024 * 1024


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


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = NoteStore(settings.db_path)

    def close(self) -> None:
        self.store.close()

    # --- ingest ------------------------------------------------------------
    def ingest(
        self, paths: Iterable[str | os.PathLike[str]], fmt: str | None = None, progress: Progress | None = None
    ) -> list[FileReport]:
        if fmt is not None:
            check_format(fmt)
        files = list(walk(paths))
        reports = []
        for i, (path, named) in enumerate(files, start=1):
            report = self.ingest_file(path, fmt, named=named)
            reports.append(report)
            if progress:
                progress(i, len(files), report)
        return reports

    def ingest_file(self, path: Path, fmt: str | None = None, named: bool = True) -> FileReport:
        shown = str(path)
        if (
            not named
            and fmt is None
            and path.suffix.lower() not in EXTENSIONS
            and path.suffix.lower() not in TEXT_EXTENSIONS
        ):
            return FileReport(shown, "skipped", reason=f"extension {path.suffix!r} is not a known format")
        try:
            key = str(path.resolve())
            if not path.exists():
                raise BadInput(f"{shown}: no such file or directory")
            if not path.is_file():
                raise BadInput(f"{shown}: not a regular file")
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise BadInput(f"{shown}: file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
            try:
                data = path.read_bytes()
            except OSError as e:
                raise BadInput(f"{shown}: cannot read ({e.strerror})") from e
            sha = hashlib.sha256(data).hexdigest()
            state = self.store.file_state(key)
            if (
                state
                and state["sha256"] == sha
                and state["parser_version"] == PARSER_VERSION
                and (fmt is None or fmt == state["format"])
            ):
                notes = self.store.note_ids_for_file(key)
                return FileReport(shown, "unchanged", state["format"], len(notes))
            chosen, notes = parse_bytes(data, shown, fmt)
            with self.store.transaction() as conn:
                stored = self.write(conn, key, sha, chosen, len(data), notes)
            return FileReport(shown, "ingested", chosen, len(stored), sum(len(n.chunks) for n in stored))
        except LingxiError as e:
            return FileReport(shown, "failed", fmt or "", reason=str(e))

    def write(self, conn: Any, key: str, sha: str, fmt: str, size: int, notes: list[Note]) -> list[Note]:
        """Write one file's notes inside an open transaction (indexes hook in here)."""
        return self.store.write_file(conn, key, sha, fmt, PARSER_VERSION, size, notes)

    # --- reads -------------------------------------------------------------
    def list_notes(self, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self.store.list_notes(kind=kind, limit=limit)

    def get_note(self, note_id: str) -> Note:
        return self.store.get_note(note_id)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()
