"""Parsers turning source files into notes with provenance-carrying chunks."""

from lingxi.ingest.formats import FORMATS, PARSER_VERSION, detect_format, parse_bytes

__all__ = ["FORMATS", "PARSER_VERSION", "detect_format", "parse_bytes"]
