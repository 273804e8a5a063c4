"""Output helpers shared by the command modules."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def finite(obj: Any) -> Any:
    """``obj`` with every float that is not finite (a recogniser's NaN or infinite duration) as None: JSON has no
    NaN or Infinity, and parsers of it refuse them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    try:
        text = json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False)
    except ValueError:
        text = json.dumps(finite(obj), ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")


def table(rows: list[list[str]], headers: list[str]) -> str:
    from lingxi.ingest.webtext import visual_len

    cols = [headers] + rows
    widths = [max(visual_len(str(r[i])) for r in cols) for i in range(len(headers))]
    lines = []
    for r in cols:
        cells = [str(c) + " " * (widths[i] - visual_len(str(c))) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def emit_fields(obj: dict[str, Any], as_json: bool) -> None:
    """One JSON object with --json, else one aligned `key: value` line per field."""
    if as_json:
        emit_json(obj)
        return
    for k, v in obj.items():
        print(f"{k:>16}: {v}")
