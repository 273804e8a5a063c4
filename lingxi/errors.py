"""Typed errors. Everything lingxi raises on purpose derives from LingxiError."""

from __future__ import annotations


class LingxiError(Exception):
    """Base of every error lingxi raises deliberately."""


class BadInput(LingxiError):
    """Input (a file, a query, an option) that lingxi cannot accept; the message says what and why."""


class BadRows(BadInput):
    """A file none of whose rows (or, with --strict, not all of whose rows or lines) could be read: ``rows`` names
    each bad one (``NAME: line N: reason``)."""

    def __init__(self, message: str, rows: list[str]) -> None:
        super().__init__(message)
        self.rows = tuple(rows)


class NotFound(LingxiError):
    """A note, chunk or other object asked for by id does not exist."""


class PermissionDenied(LingxiError):
    """The caller may see the object but not change it (another user's note)."""


class Busy(LingxiError):
    """A bounded resource (the local LLM's queue) is full; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelOutputError(LingxiError):
    """A model reply that does not parse or does not satisfy its schema."""


class BackendUnavailable(LingxiError):
    """A configured backend (LLM server, vector engine) cannot be reached."""


class NoContent(LingxiError):
    """A readable media file with no text or speech in it: reported as ``empty``, neither a failure nor a note."""
