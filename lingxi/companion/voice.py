"""Speech in and out for a companion: the bundled Whisper hears the user, a persona's voice speaks the reply.

Recognition is the recognizer shared with voice-note ingest (``lingxi.media.asr``); synthesis is
``lingxi.media.tts``. ``round_trip`` times each stage, for the CLI's ``--json`` and the benchmark."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingxi.companion.persona import Persona
from lingxi.errors import BadInput
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
    """The Whisper recognizer of voice-note ingest (``lingxi.media.asr``: the same bundled weights, assembled once
    into the shared model cache and SHA-256 checked); one per thread count, loading its model on first use."""
    if threads not in _RECOGNIZERS:
        from lingxi.media.asr import WhisperRecognizer

        _RECOGNIZERS[threads] = WhisperRecognizer(threads=threads)
    return _RECOGNIZERS[threads]


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
    return Heard(text, "zh" if (tr.language or "").startswith("zh") else "en", float(tr.duration), time.perf_counter() - t0)


def say(text: str, lang: str, persona: Persona, out: Path) -> tts.Speech:
    """Speak ``text`` in the persona's voice for ``lang`` into a WAV file."""
    speech = tts.speak(text, lang, dict(persona.voices))
    speech.save(out)
    return speech
