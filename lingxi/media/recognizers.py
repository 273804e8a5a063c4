"""The OCR engine and speech recogniser a library uses, each made on first use."""

from __future__ import annotations

from collections.abc import Callable

from lingxi.media.asr import SpeechRecognizer, WhisperRecognizer
from lingxi.media.ocr import OcrEngine, RapidOcrEngine


class Recognizers:
    def __init__(self, threads: int = 1, languages: tuple[str, ...] = ("zh", "en"),
                 ocr: OcrEngine | None = None, asr: SpeechRecognizer | None = None) -> None:
        self.threads = threads
        self.languages = languages
        self._ocr = ocr
        self._asr = asr
        # Called with (file name, seconds done, seconds in all) while a recording is transcribed.
        self.progress: Callable[[str, float, float], None] | None = None

    @property
    def ocr(self) -> OcrEngine:
        if self._ocr is None:
            self._ocr = RapidOcrEngine(self.threads)
        return self._ocr

    @property
    def asr(self) -> SpeechRecognizer:
        if self._asr is None:
            self._asr = WhisperRecognizer(self.threads, self.languages)
        return self._asr
