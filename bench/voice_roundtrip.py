"""Voice round trip: each TTS engine speaks a set of sentences, the bundled Whisper hears them back.

    LINGXI_THREADS=1 python bench/voice_roundtrip.py bench/data/voice_sentences.json [--reply --home DIR]

Per engine and language: synthesis real-time factor (synthesis time / audio time), recognition real-time factor,
and the character error rate of what Whisper heard against what was said (an intelligibility check that needs
no listener). With ``--reply``, also the companion's full round trip for the first sentence of each language:
speech in → Whisper → reply from the bundled chat model → speech out, in seconds per stage."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from lingxi.companion.voice import hear
from lingxi.media import tts
from lingxi.text import written_in


def _norm(s: str) -> list[str]:
    s = unicodedata.normalize("NFKC", s).lower()
    return [c for c in s if c.isalnum()]


def cer(ref: str, hyp: str) -> float:
    """Character error rate over letters and digits (edit distance / reference length)."""
    a, b = _norm(ref), _norm(hyp)
    if not a:
        return float(bool(b))
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1] / len(a)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sentences", type=Path, help='JSON: {"en": [...], "zh": [...]}')
    ap.add_argument("--voices", default="piper:en_US-joe-medium=en,espeak:en-us=en,espeak:cmn-latn-pinyin=zh")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reply", action="store_true", help="also time the companion's full round trip")
    ap.add_argument("--home", help="LINGXI_HOME for --reply")
    ap.add_argument("--known-language", action="store_true",
                    help="tell Whisper the language instead of letting it detect zh/en (intelligibility alone)")
    args = ap.parse_args()
    data = json.loads(args.sentences.read_text(encoding="utf-8"))
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="lingxi-voice-"))
    for item in args.voices.split(","):
        spec, _, lang = item.partition("=")
        v = tts.voice(spec)
        v.synthesize("warm up")  # model load is not synthesis time
        syn, rec, errs, audio = [], [], [], 0.0
        engine = None
        if args.known_language:
            import importlib

            engine = importlib.import_module("lingxi.media.asr").WhisperRecognizer(threads=args.threads,
                                                                                   languages=(lang,))
        for i, text in enumerate(data[lang]):
            speech = v.synthesize(tts.speakable(text))
            path = speech.save(tmp / f"{spec.replace(':', '_')}-{i}.wav")
            heard = hear(path, args.threads, engine)
            syn.append(speech.rtf)
            rec.append(heard.rtf)
            audio += speech.duration
            errs.append(cer(text, heard.text))
            print(f"{spec} {lang} #{i}: tts rtf {speech.rtf:.3f}, asr rtf {heard.rtf:.3f}, "
                  f"cer {errs[-1]:.3f}: {heard.text}", file=sys.stderr)
        rows.append({"voice": spec, "lang": lang, "sentences": len(errs), "audio_s": round(audio, 1),
                     "tts_rtf_median": round(statistics.median(syn), 3),
                     "asr_rtf_median": round(statistics.median(rec), 3),
                     "cer_median": round(statistics.median(errs), 3), "cer_mean": round(statistics.fmean(errs), 3)})
    out: dict[str, object] = {"rows": rows, "threads": args.threads, "known_language": args.known_language}
    if args.reply:
        out["round_trip"] = round_trip(data, args, tmp)
    print(json.dumps(out, ensure_ascii=False, indent=2))


def round_trip(data: dict[str, list[str]], args: argparse.Namespace, tmp: Path) -> list[dict[str, object]]:
    from datetime import datetime

    from lingxi import Library, Settings
    from lingxi.companion import persona
    from lingxi.companion.chat import Companion, CompanionConfig
    from lingxi.library import make_chat

    lib = Library(Settings.load(args.home, args.threads))
    pet = persona.load("pet")
    comp = Companion(lib, make_chat(lib.settings), pet, CompanionConfig(max_reply_tokens=80, temperature=0.0))
    out = []
    for lang in ("en", "zh"):
        question = tts.speak(data[lang][0], lang, dict(pet.voices)).save(tmp / f"in-{lang}.wav")
        t0 = time.perf_counter()
        heard = hear(question, args.threads)
        t1 = time.perf_counter()
        r = comp.respond("voice-bench", heard.text, datetime(2026, 12, 1, 20))
        t2 = time.perf_counter()
        speech = tts.speak(r["reply"], written_in(r["reply"]), dict(pet.voices))
        speech.save(tmp / f"out-{lang}.wav")
        t3 = time.perf_counter()
        out.append({"lang": lang, "heard": heard.text, "reply": r["reply"], "asr_s": round(t1 - t0, 2),
                    "reply_s": round(t2 - t1, 2), "tts_s": round(t3 - t2, 2), "round_trip_s": round(t3 - t0, 2),
                    "reply_audio_s": round(speech.duration, 2), "voice": speech.voice})
    comp.flush()
    return out


if __name__ == "__main__":
    main()
