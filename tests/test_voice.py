"""Speech out (Piper, espeak-ng with pinyin) and in (the bundled Whisper): real engines, short sentences."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from lingxi.companion import persona
from lingxi.companion.voice import hear, say
from lingxi.errors import BadInput
from lingxi.media import tts

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make sysdeps)")


def test_text_is_made_speakable_and_pinyin() -> None:
    assert tts.speakable("*蹭蹭你的手* 咕噜～ 南瓜 [1] 好可爱 😺") == "咕噜～ 南瓜 好可爱"
    assert tts.to_pinyin("南瓜，你好！") == "nan2 gua1, ni3 hao3 !"
    assert tts.to_pinyin("银行行长") == "yin2 hang2 hang2 zhang3"  # polyphones read by word


def test_bad_voices_and_files(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="engine:voice"):
        tts.voice("festival:kal")
    with pytest.raises(BadInput, match="not bundled"):
        tts.voice("piper:de_DE-thorsten")
    with pytest.raises(BadInput, match="nothing to say"):
        tts.speak("*摇尾巴* 😺", "zh")
    with pytest.raises(BadInput, match="no such audio"):
        hear(tmp_path / "missing.wav")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(BadInput, match="not an audio file"):
        hear(tmp_path / "notes.txt")


@needs_espeak
def test_persona_voice_per_language(tmp_path: Path) -> None:
    pet = persona.load("pet")
    zh = say("*蹭蹭你* 你还记得南瓜吗？", "zh", pet, tmp_path / "zh.wav")
    assert zh.voice == "espeak:cmn-latn-pinyin" and zh.duration > 0.8
    en = say("Welcome back! How was your trip?", "en", pet, tmp_path / "en.wav")
    assert en.voice == "piper:en_US-joe-medium" and en.duration > 0.8
    with wave.open(str(tmp_path / "en.wav")) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 22050
    with pytest.raises(BadInput, match="only .wav"):
        en.save(tmp_path / "en.mp3")
    assert not (tmp_path / "en.mp3").exists()


@pytest.mark.model
@needs_espeak
def test_round_trip_through_whisper(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed")
    speech = tts.voice("espeak:en-us").synthesize("Please remind me to water the plants on Saturday.")
    heard = hear(speech.save(tmp_path / "q.wav"))
    assert heard.lang == "en" and "plants" in heard.text.lower() and "saturday" in heard.text.lower()
    assert heard.audio_seconds == pytest.approx(speech.duration, abs=0.5)
