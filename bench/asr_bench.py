"""Speech benchmark: WER (English) and CER (Chinese) on synthesised speech, throughput, and memory on long files.

    python bench/media_synth.py asr --text ../shared/data/realworld --out /tmp/asr-test --n 30 --seed 1
    LINGXI_THREADS=1 python bench/asr_bench.py --set /tmp/asr-test --speed-n 6

Speech is espeak-ng (English ``en-us``; Mandarin from tone-numbered pinyin, ``cmn-latn-pinyin``): robotic,
so these are error rates on hard, clean-channel audio, not on people. WER: lower-cased words, punctuation
dropped (so "7" vs "seven" counts as an error). CER: Chinese characters and digits only; Whisper's
traditional characters count as errors against simplified references. Language: share of files whose
detected language (restricted to LINGXI_ASR_LANGUAGES, default zh,en) is right. Memory: peak RSS of
one process transcribing a 1-minute and a 20-minute file (speech at the start, then room noise) through
lingxi's windowed decoding, and the 20-minute one the way faster-whisper decodes by default (whole file)."""

from __future__ import annotations

import argparse
import json
import os
import time
import wave
from pathlib import Path

import numpy as np
from media_common import child, han, peak_rss_mb, rate, recall, words

HERE = Path(__file__).resolve()


def load_truth(folder: Path) -> list[dict[str, str]]:
    return [json.loads(ln) for ln in (folder / "truth.jsonl").read_text().splitlines() if ln.strip()]


def worker(folder: Path, threads: int, limit: int) -> None:
    from lingxi.media.asr import WhisperRecognizer

    items = load_truth(folder)[:limit]
    asr = WhisperRecognizer(threads)
    asr.transcribe(folder / items[0]["file"], "warmup")  # model load is not throughput
    out, audio_s = {}, 0.0
    t = time.perf_counter()
    for it in items:
        tr = asr.transcribe(folder / it["file"], it["file"])
        out[it["file"]] = {"text": " ".join(s.text for s in tr.segments), "language": tr.language}
        audio_s += tr.duration
    seconds = time.perf_counter() - t
    print(json.dumps({"preds": out, "seconds": seconds, "audio_s": audio_s, "peak_rss_mb": peak_rss_mb()},
                     ensure_ascii=False))


def long_file(speech: Path, out: Path, minutes: float) -> Path:
    """The speech clip, then low room noise up to ``minutes``."""
    with wave.open(str(speech)) as w:
        rate_hz, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    rest = int(minutes * 60 * rate_hz) - len(data)
    noise = np.random.default_rng(0).normal(0, 40, max(0, rest)).astype("<i2")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(data.tobytes())
        for i in range(0, len(noise), rate_hz * 60):
            w.writeframes(noise[i : i + rate_hz * 60].tobytes())
    return out


def memory_worker(path: Path, threads: int, whole: bool) -> None:
    from lingxi.media.asr import WhisperRecognizer

    t = time.perf_counter()
    if whole:
        from faster_whisper import WhisperModel

        from lingxi.media import weights

        model = WhisperModel(str(weights.assemble()), device="cpu", compute_type="int8", cpu_threads=threads)
        segs, info = model.transcribe(str(path), vad_filter=True)
        n, duration = len(list(segs)), info.duration
    else:
        tr = WhisperRecognizer(threads).transcribe(path, path.name)
        n, duration = len(tr.segments), tr.duration
    print(json.dumps({"segments": n, "duration": duration, "seconds": time.perf_counter() - t,
                      "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, required=True, help="folder made by media_synth.py asr")
    ap.add_argument("--speed-n", type=int, default=6, help="files timed on 2 threads")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--long-minutes", type=float, default=20.0)
    ap.add_argument("--no-recall", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--memory", type=Path)
    ap.add_argument("--whole", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=10**9)
    a = ap.parse_args()
    if a.worker:
        worker(a.set, a.threads, a.limit)
        return
    if a.memory:
        memory_worker(a.memory, a.threads, a.whole)
        return
    truth = load_truth(a.set)
    by_file = {it["file"]: it for it in truth}
    print(f"{len(truth)} recordings from {a.set}")
    print("| threads | files | WER en | CER zh | language right en | language right zh | audio s per s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    full = {}
    for threads in (1, 2):
        res = child(HERE, ["--set", str(a.set), "--worker", "--threads", str(threads),
                           "--limit", str(len(truth) if threads == 1 else a.speed_n)])
        preds = res["preds"]
        speed = res["audio_s"] / res["seconds"]
        if threads == 1:
            full = preds
            en = [f for f in preds if by_file[f]["lang"] == "en"]
            zh = [f for f in preds if by_file[f]["lang"] == "zh"]
            wer = rate([(words(by_file[f]["text"]), words(preds[f]["text"])) for f in en])
            cer = rate([(han(by_file[f]["text"]), han(preds[f]["text"])) for f in zh])
            lang_en = sum(preds[f]["language"] == "en" for f in en) / max(1, len(en))
            lang_zh = sum(preds[f]["language"] == "zh" for f in zh) / max(1, len(zh))
            print(f"| 1 | {len(preds)} | {wer:.4f} | {cer:.4f} | {lang_en:.2f} | {lang_zh:.2f} | {speed:.2f} | "
                  f"{res['peak_rss_mb']:.0f} |", flush=True)
        else:
            print(f"| 2 | first {len(preds)} | | | | | {speed:.2f} | {res['peak_rss_mb']:.0f} |", flush=True)
    if not a.no_recall:
        queries = []
        for it in truth:
            first = it["text"].split(". ")[0] if it["lang"] == "en" else it["text"].split("。")[0]
            queries.append((first, {f for f, o in by_file.items() if first in o["text"]}))
        threads = int(os.environ.get("LINGXI_THREADS", "1"))
        print(f"\nrecall@{a.k}: first sentence of each recording, written correctly, searched over the texts")
        print("(hybrid with the phonetic list: the texts indexed as recognised speech is, pinyin syllable pairs fused"
              " as a third list; without: LINGXI_PHONETIC=0)")
        print("| texts | bm25 | dense | hybrid without phonetic | hybrid with phonetic |\n|---|---|---|---|---|")
        for name, texts in [("true text (ceiling)", {f: it["text"] for f, it in by_file.items()}),
                            ("Whisper transcripts", {f: p["text"] for f, p in full.items()})]:
            off = recall(texts, queries, a.k, threads, phonetic=0.0)
            on = recall(texts, queries, a.k, threads, phonetic=1.0)
            print(f"| {name} | {off['bm25']:.4f} | {off['dense']:.4f} | {off['hybrid']:.4f} | {on['hybrid']:.4f} |",
                  flush=True)
    if not a.no_memory:
        import tempfile

        speech = a.set / next(it["file"] for it in truth if it["lang"] == "en")
        print("\n| file | decoding | segments | seconds | peak RSS MB |\n|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp:
            for minutes, whole in ((1.0, False), (a.long_minutes, False), (a.long_minutes, True)):
                path = long_file(speech, Path(tmp) / f"long-{minutes:g}.wav", minutes)
                res = child(HERE, ["--set", str(a.set), "--memory", str(path), "--threads", "1"]
                            + (["--whole"] if whole else []))
                how = "whole file (faster-whisper default)" if whole else "windows of 120 s (lingxi)"
                print(f"| {minutes:g} min | {how} | {res['segments']} | {res['seconds']:.1f} | "
                      f"{res['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
