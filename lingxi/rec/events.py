"""Users' engagement events: import from CSV/JSONL, stored beside the notes.

A row is ``user, note, action, timestamp``. Bad rows are reported with their line
number and reason; the good rows of the same file are kept (one transaction), and
importing the same file twice adds nothing (events are unique on all four fields)."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lingxi.errors import BadInput

# How much each action says about interest (a share says more than a view).
ACTIONS: dict[str, float] = {"view": 1.0, "click": 1.0, "like": 2.0, "collect": 3.0, "comment": 3.0, "share": 4.0}

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    note_id TEXT NOT NULL,
    action TEXT NOT NULL,
    ts REAL NOT NULL,
    UNIQUE(user, note_id, action, ts)
);
CREATE INDEX IF NOT EXISTS events_user ON events(user, ts);
CREATE INDEX IF NOT EXISTS events_note ON events(note_id);
"""

FIELDS = ("user", "note", "action", "timestamp")


@dataclass(frozen=True)
class Event:
    user: str
    note: str
    action: str
    ts: float

    @property
    def weight(self) -> float:
        return ACTIONS[self.action]


@dataclass
class ImportReport:
    path: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "imported": self.imported, "duplicates": self.duplicates,
                "errors": [{"line": n, "reason": r} for n, r in self.errors]}


MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z, the last time an ISO-8601 date can write


def parse_time(raw: Any) -> float:
    """Unix seconds (int/float or digits) or an ISO-8601 date/time (UTC when no zone is given)."""
    if isinstance(raw, bool):
        raise ValueError(f"timestamp {raw!r} is not a time")
    if isinstance(raw, (int, float)):
        v = float(raw)
    else:
        s = str(raw).strip()
        if not s:
            raise ValueError("timestamp is empty")
        try:
            v = float(s)
        except ValueError:
            try:
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError as e:
                raise ValueError(f"timestamp {s!r} is neither unix seconds nor ISO-8601") from e
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            v = dt.timestamp()
    if not math.isfinite(v) or not 0 <= v <= MAX_TIMESTAMP:
        raise ValueError(f"timestamp {raw!r} is out of range (1970 to the year 9999)")
    return v


def _row_event(row: dict[str, Any]) -> Event:
    missing = [f for f in FIELDS if row.get(f) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    action = str(row["action"]).strip().lower()
    if action not in ACTIONS:
        raise ValueError(f"action {row['action']!r} is not one of {'|'.join(ACTIONS)}")
    return Event(str(row["user"]).strip(), str(row["note"]).strip(), action, parse_time(row["timestamp"]))


def read_events(data: bytes, name: str) -> tuple[list[tuple[int, Event]], list[tuple[int, str]], int]:
    """Parse CSV (with a header row) or JSONL; returns (good (line, event), bad (line, reason), row count)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"{name}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    good: list[tuple[int, Event]] = []
    bad: list[tuple[int, str]] = []
    rows = 0
    is_jsonl = name.lower().endswith((".jsonl", ".ndjson", ".json")) or text.lstrip().startswith("{")
    if is_jsonl:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            rows += 1
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("row is not a JSON object")
                good.append((n, _row_event(obj)))
            except (ValueError, json.JSONDecodeError) as e:
                bad.append((n, str(e)))
        return good, bad, rows
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    absent = [f for f in FIELDS if f not in header]
    if absent:
        raise BadInput(f"{name}: CSV header must name {', '.join(FIELDS)}; missing {', '.join(absent)}")
    reader.fieldnames = header
    for row in reader:
        rows += 1
        n = reader.line_num
        try:
            if None in row:
                raise ValueError("more fields than the header names")
            good.append((n, _row_event(row)))
        except ValueError as e:
            bad.append((n, str(e)))
    return good, bad, rows


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def import_events(conn: sqlite3.Connection, path: Path, known_notes: set[str] | None = None) -> ImportReport:
    """Import one file inside a single transaction; unknown notes are bad rows when ``known_notes`` is given."""
    shown = str(path)
    if not path.is_file():
        raise BadInput(f"{shown}: no such file")
    good, bad, rows = read_events(path.read_bytes(), shown)
    report = ImportReport(shown, rows=rows, errors=bad)
    keep = []
    for n, ev in good:
        if known_notes is not None and ev.note not in known_notes:
            report.errors.append((n, f"note {ev.note!r} is not in the store"))
        else:
            keep.append(ev)
    report.errors.sort()
    before = conn.total_changes
    conn.executemany("INSERT OR IGNORE INTO events(user, note_id, action, ts) VALUES (?,?,?,?)",
                     [(e.user, e.note, e.action, e.ts) for e in keep])
    report.imported = conn.total_changes - before
    report.duplicates = len(keep) - report.imported
    return report


def load_events(conn: sqlite3.Connection, user: str | None = None) -> list[Event]:
    sql = "SELECT user, note_id, action, ts FROM events"
    args: tuple[Any, ...] = ()
    if user is not None:
        sql += " WHERE user=?"
        args = (user,)
    return [Event(r[0], r[1], r[2], r[3]) for r in conn.execute(sql + " ORDER BY ts, id", args)]
