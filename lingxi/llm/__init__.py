"""Model seams: embedders (and, later, chat models). Knows nothing of notes."""

from lingxi.llm.embedder import E5Embedder, Embedder, OpenAIEmbedder

__all__ = ["E5Embedder", "Embedder", "OpenAIEmbedder"]
