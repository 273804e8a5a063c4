"""Images (photos of recipe cards, itineraries, screenshots, posters): OCR lines in reading order → chunks.

Every chunk's locator names the image and the pixel box (x0, y0, x1, y1) around its lines. Lines the
recogniser is unsure of are kept and listed on their chunk under ``low_confidence``. The same reader
serves images referenced by Markdown posts (``![](photo.jpg)``) and JSONL rows (``"images": [...]``):
their text joins the note, located in the image."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from lingxi.errors import BadInput, LingxiError, NoContent
from lingxi.ingest.base import make_note, stem
from lingxi.ingest.text import pack_spans
from lingxi.media.layout import paragraphs
from lingxi.media.ocr import LOW_CONFIDENCE, OcrEngine, OcrLine
from lingxi.types import Chunk, Locator, Note

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_PIXELS = 60_000_000
_REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def load(path: Path, name: str) -> Any:
    """The image as RGB (EXIF rotation applied); BadInput naming the file when it is not a whole image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise BadInput(f"{name}: image is {img.width}×{img.height} pixels, over the {MAX_PIXELS} limit")
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except UnidentifiedImageError as e:
        raise BadInput(f"{name}: not an image Pillow can read (unknown or damaged header)") from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadInput(f"{name}: damaged or truncated image ({e})") from e


def _union(lines: list[OcrLine]) -> tuple[int, int, int, int]:
    boxes = [ln.box for ln in lines]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def read_text(path: Path, name: str, image_ref: str, ocr: OcrEngine, offset: int = 0) -> tuple[str, list[Chunk]]:
    """The image's text (paragraphs in reading order) and its chunks; char offsets start at ``offset``."""
    lines = ocr.read(load(path, name))
    paras = paragraphs(lines)
    body = "\n\n".join(p.text for p in paras)
    spans, pos = [], 0
    for p in paras:
        spans.append((pos, pos + len(p.text)))
        pos += len(p.text) + 2
    chunks = []
    for s, e in pack_spans(body, spans):
        inside = [ln for p, (ps, pe) in zip(paras, spans) if s <= ps and pe <= e for ln in p.lines]
        meta: dict[str, Any] = {"ocr_score": round(min(ln.score for ln in inside), 3)}
        low = [ln.text for ln in inside if ln.score < LOW_CONFIDENCE]
        if low:
            meta["low_confidence"] = low
        loc = Locator(char_start=offset + s, char_end=offset + e, image=image_ref, box=_union(inside))
        chunks.append(Chunk(text=body[s:e], locator=loc, meta=meta))
    return body, chunks


def parse(path: Path, name: str, ocr: OcrEngine) -> list[Note]:
    body, chunks = read_text(path, name, Path(name).name, ocr)
    if not chunks:
        raise NoContent(f"{name}: no text found in the image")
    low = sum(len(c.meta.get("low_confidence", [])) for c in chunks)
    meta = {"image": Path(name).name, "low_confidence_lines": low}
    return [make_note("", stem(name), "image", body, chunks, meta)]


def references(note: Note) -> list[str]:
    """Images a note refers to: Markdown's recorded ``images``, or a JSONL row's ``images`` / ``image`` field."""
    refs: Any = note.meta.get("images")
    if refs is None:
        extra = note.meta.get("extra") or {}
        refs = extra.get("images", extra.get("image"))
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list):
        return []
    return list(dict.fromkeys(str(r) for r in refs if isinstance(r, str) and r.strip()))


def attach(notes: list[Note], base: Path, ocr: OcrEngine) -> list[Note]:
    """Append the text of each local image a note references to that note, with image locators.

    A reference that cannot be read (missing, remote, damaged) is listed in the note's
    ``image_errors`` instead: the note's own text still ingests."""
    out = []
    for note in notes:
        refs = [r for r in references(note) if Path(r.split("#")[0].split("?")[0]).suffix.lower() in EXTENSIONS]
        if not refs:
            out.append(note)
            continue
        body, chunks = note.body, list(note.chunks)
        errors, read = [], []
        for ref in refs:
            local = ref.split("#")[0].split("?")[0]
            if _REMOTE.match(local) or local.startswith("//"):
                errors.append(f"{ref}: remote image not fetched")
                continue
            path = (base / local.lstrip("/")) if not Path(local).is_absolute() else Path(local)
            if not path.is_file():
                errors.append(f"{ref}: no such image beside the note")
                continue
            offset = len(body) + 2 if body else 0
            try:
                text, extra = read_text(path, ref, ref, ocr, offset)
            except LingxiError as e:
                errors.append(str(e))
                continue
            if not extra:
                errors.append(f"{ref}: no text found in the image")
                continue
            body = body + "\n\n" + text if body else text
            chunks += extra
            read.append(ref)
        meta = dict(note.meta)
        if read:
            meta["images_read"] = read
        if errors:
            meta["image_errors"] = errors
        fresh = make_note(note.id, note.title, note.kind, body, chunks, meta)
        out.append(dataclasses.replace(fresh, source=note.source))
    return out
