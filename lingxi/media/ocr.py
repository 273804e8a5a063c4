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
        result = self._load()(image)
        if result.boxes is None or result.txts is None:
            return []
        lines = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores or ()):
            text = str(text).strip()
            if text:
                pts = tuple((float(x), float(y)) for x, y in quad)
                lines.append(OcrLine(text, float(score), pts))
        return lines
