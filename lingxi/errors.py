"""Typed errors. Everything lingxi raises on purpose derives from LingxiError."""

from __future__ import annotations


class LingxiError(Exception):
    """Base of every error lingxi raises deliberately."""


class BadInput(LingxiError):
    """Input (a file, a query, an option) that lingxi cannot accept; the message says what and why."""


class NotFound(LingxiError):
    """A note, chunk or other object asked for by id does not exist."""


class ModelOutputError(LingxiError):
    """A model reply that does not parse or does not satisfy its schema."""


class BackendUnavailable(LingxiError):
    """A configured backend (LLM server, vector engine) cannot be reached."""


class NoContent(LingxiError):
    """A readable media file with no text or speech in it: reported as ``empty``, neither a failure nor a note."""
