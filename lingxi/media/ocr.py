"""Optical character recognition: one protocol, one bundled engine (RapidOCR, PP-OCRv6 on onnxruntime).

The engine's detection, orientation and recognition models ship inside the ``rapidocr`` wheel,
so nothing is downloaded; the session is created on the first ``read``."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from lingxi.errors import BackendUnavailable

# A line the recogniser scores below this is kept but marked low-confidence on its chunk.
LOW_CONFIDENCE = 0.8
# The detector joins text across a narrow column gutter into one line; a gap between two of a line's
# characters or words wider than this many line heights splits it again (None: never split).
SPLIT_GAP: float | None = 1.0


@dataclass(frozen=True)
class OcrLine:
    """One recognised line: its text, score in [0, 1], and its quadrilateral in image pixels (4 × (x, y))."""

    text: str
    score: float
    quad: tuple[tuple[float, float], ...]

    @property
    def box(self) -> tuple[int, int, int, int]:
        xs = [p[0] for p in self.quad]
        ys = [p[1] for p in self.quad]
        return int(min(xs)), int(min(ys)), int(round(max(xs))), int(round(max(ys)))


class OcrEngine(Protocol):
    """Reads the text lines of an RGB image (a PIL image), in no particular order."""

    def read(self, image: Any) -> list[OcrLine]: ...


class RapidOcrEngine:
    """PP-OCRv6 small detection + recognition (Chinese and English in one model) through RapidOCR."""

    name = "rapidocr-3.10.0/PP-OCRv6-small"

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    from rapidocr import RapidOCR
                except ImportError as e:
                    raise BackendUnavailable("OCR needs the package rapidocr==3.10.0 (run `make setup`)") from e
                self._engine = RapidOCR(params={
                    "Global.log_level": "error",
                    "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                })
                logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            return self._engine

    def read(self, image: Any) -> list[OcrLine]:
        result = self._load()(image, return_word_box=SPLIT_GAP is not None)
        if result.boxes is None or result.txts is None:
            return []
        lines = []
        words = result.word_results if SPLIT_GAP is not None else [None] * len(result.txts)
        for quad, text, score, pieces in zip(result.boxes, result.txts, result.scores or (), words):
            text = str(text).strip()
            if text:
                pts = tuple((float(x), float(y)) for x, y in quad)
                lines.extend(split_line(OcrLine(text, float(score), pts), pieces or ()))
        return lines


def split_line(line: OcrLine, pieces: Any) -> list[OcrLine]:
    """A line cut where the gap between consecutive recognised pieces (characters or words) exceeds SPLIT_GAP."""
    boxes = []
    for piece in pieces:
        if len(piece) < 3 or piece[2] is None or not str(piece[0]).strip():
            return [line]
        xs = [float(p[0]) for p in piece[2]]
        ys = [float(p[1]) for p in piece[2]]
        boxes.append((str(piece[0]), min(xs), min(ys), max(xs), max(ys)))
    if SPLIT_GAP is None or len(boxes) < 2 or "".join(b[0] for b in boxes).replace(" ", "") != line.text.replace(" ", ""):
        return [line]
    height = line.box[3] - line.box[1]
    groups: list[list[tuple[str, float, float, float, float]]] = [[boxes[0]]]
    for prev, cur in zip(boxes, boxes[1:]):
        if cur[1] - prev[3] > SPLIT_GAP * height:
            groups.append([])
        groups[-1].append(cur)
    if len(groups) == 1:
        return [line]
    out, pos = [], 0
    for g in groups:
        want = len("".join(b[0] for b in g).replace(" ", ""))
        start = pos
        while pos < len(line.text) and want:
            want -= not line.text[pos].isspace()
            pos += 1
        x0, y0, x1, y1 = min(b[1] for b in g), min(b[2] for b in g), max(b[3] for b in g), max(b[4] for b in g)
        out.append(OcrLine(line.text[start:pos].strip(), line.score, ((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
    return [ln for ln in out if ln.text]
