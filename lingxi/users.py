"""Users of the HTTP API and their keys, in the lingxi store.

A key is shown once, when it is made; the store keeps only its SHA-256. Keys are 32 random bytes, so a plain
hash is enough (no password stretching: nothing about a key can be guessed). Revoking a user revokes every key."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from lingxi.errors import BadInput, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys(user);
"""

KEY_PREFIX = "lx_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    created_at: str
    revoked: bool
    keys: int

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.name, "created_at": self.created_at, "revoked": self.revoked, "keys": self.keys}


class Users:
    """Users and keys over a store connection; writes go through the store's transaction."""

    def __init__(self, conn: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]):
        self.conn = conn
        self.transaction = transaction
        conn.executescript(SCHEMA)

    def add(self, name: str) -> str:
        """Create user ``name`` (or re-open a revoked one) and return a new key, the only time it is shown."""
        if not isinstance(name, str) or not NAME.match(name):
            raise BadInput(f"user name {name!r} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter"
                           " or digit")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.transaction() as c:
            row = c.execute("SELECT revoked_at FROM users WHERE name=?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise BadInput(f"user {name!r} already exists (revoke it first to issue a new key)")
            if row is None:
                c.execute("INSERT INTO users(name) VALUES (?)", (name,))
            else:
                c.execute("UPDATE users SET revoked_at=NULL WHERE name=?", (name,))
            c.execute("INSERT INTO api_keys(hash, user, prefix) VALUES (?,?,?)", (key_hash(key), name, key[:7]))
        return key

    def revoke(self, name: str) -> int:
        """Revoke a user and every key of theirs; returns how many keys were still active."""
        with self.transaction() as c:
            row = c.execute("SELECT revoked_at FROM users WHERE name=?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no user {name!r}")
            n = c.execute("UPDATE api_keys SET revoked_at=strftime('%Y-%m-%dT%H:%M:%SZ','now')"
                          " WHERE user=? AND revoked_at IS NULL", (name,)).rowcount
            c.execute("UPDATE users SET revoked_at=strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE name=?", (name,))
        return int(n)

    def list(self) -> list[User]:
        rows = self.conn.execute(
            "SELECT u.name, u.created_at, u.revoked_at IS NOT NULL,"
            " (SELECT COUNT(*) FROM api_keys k WHERE k.user=u.name AND k.revoked_at IS NULL)"
            " FROM users u ORDER BY u.name")
        return [User(r[0], r[1], bool(r[2]), int(r[3])) for r in rows]

    def authenticate(self, key: str) -> str | None:
        """The user an active key belongs to, or None."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        row = self.conn.execute(
            "SELECT k.user FROM api_keys k JOIN users u ON u.name = k.user"
            " WHERE k.hash=? AND k.revoked_at IS NULL AND u.revoked_at IS NULL", (key_hash(key),)).fetchone()
        return None if row is None else str(row[0])
