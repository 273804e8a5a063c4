"""lingxi (灵犀): search agent, recommendation and companions over a notes community — offline by default."""

from lingxi.config import Settings
from lingxi.errors import BackendUnavailable, BadInput, LingxiError, ModelOutputError, NotFound
from lingxi.library import Library
from lingxi.types import Chunk, FileReport, Locator, Note

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "BadInput",
    "Chunk",
    "FileReport",
    "Library",
    "LingxiError",
    "Locator",
    "ModelOutputError",
    "NotFound",
    "Note",
    "Settings",
    "__version__",
]
