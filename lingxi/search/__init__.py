"""Hybrid retrieval: lexical + dense, fused at chunk level, grouped by note for display, optionally reranked."""

from lingxi.search.fusion import FUSION_FUNCTIONS, adaptive, convex, rrf
from lingxi.search.hybrid import MODES, Reranker, Searcher
from lingxi.search.results import NoteGroup, Results

__all__ = ["FUSION_FUNCTIONS", "MODES", "NoteGroup", "Reranker", "Results", "Searcher", "adaptive", "convex", "rrf"]
