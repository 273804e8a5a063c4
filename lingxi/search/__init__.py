"""Hybrid retrieval: lexical + dense, fused by reciprocal rank, filtered, optionally reranked."""

from lingxi.search.hybrid import MODES, Reranker, Searcher, rrf

__all__ = ["MODES", "Reranker", "Searcher", "rrf"]
