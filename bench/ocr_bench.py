"""OCR benchmark: character error rate, throughput and peak memory, lingxi's OCR against tesseract side by side.

    python bench/media_synth.py ocr --text ../shared/data/realworld --out /tmp/ocr-test --n 120 --seed 1
    LINGXI_THREADS=1 python bench/ocr_bench.py --set /tmp/ocr-test --speed-n 30

lingxi = RapidOCR PP-OCRv6 + lingxi.media.layout (reading order, paragraphs): the text a note gets.
tesseract = Debian's tesseract-ocr 5 with ``-l chi_sim+eng --psm 3``. CER is over characters after NFKC
with whitespace removed, micro-averaged per language × style. Each engine runs in its own process
(peak RSS is that process's). Recall@5: each item's first sentence, written correctly, searched over
the recognised texts (and over the true texts, the ceiling)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from media_common import chars, child, peak_rss_mb, rate, recall

HERE = Path(__file__).resolve()


def load_truth(folder: Path) -> list[dict[str, str]]:
    return [json.loads(ln) for ln in (folder / "truth.jsonl").read_text().splitlines() if ln.strip()]


def worker(engine: str, folder: Path, threads: int, limit: int) -> None:
    items = load_truth(folder)[:limit]
    preds = {}
    if engine == "lingxi":
        from lingxi.ingest.image import read_text
        from lingxi.media.ocr import RapidOcrEngine

        ocr = RapidOcrEngine(threads)
        read_text(folder / items[0]["file"], "warmup", "warmup", ocr)  # session creation is not throughput
        t = time.perf_counter()
        for it in items:
            preds[it["file"]], _ = read_text(folder / it["file"], it["file"], it["file"], ocr)
    else:
        env = {**os.environ, "OMP_THREAD_LIMIT": str(threads)}
        t = time.perf_counter()
        for it in items:
            out = subprocess.run(["tesseract", str(folder / it["file"]), "stdout", "-l", "chi_sim+eng", "--psm", "3"],
                                 capture_output=True, text=True, env=env, check=True)
            preds[it["file"]] = out.stdout
    seconds = time.perf_counter() - t
    print(json.dumps({"preds": preds, "seconds": seconds, "images": len(items), "peak_rss_mb": peak_rss_mb()},
                     ensure_ascii=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, required=True, help="folder made by media_synth.py ocr")
    ap.add_argument("--engines", default="lingxi,tesseract")
    ap.add_argument("--speed-n", type=int, default=30, help="images timed on 2 threads")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--no-recall", action="store_true")
    ap.add_argument("--worker", choices=["lingxi", "tesseract"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, default=10**9)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.set, a.threads, a.limit)
        return
    truth = load_truth(a.set)
    by_file = {it["file"]: it for it in truth}
    groups = sorted({(it["lang"], it["style"]) for it in truth})
    print(f"{len(truth)} images from {a.set}")
    print("| engine | threads | " + " | ".join(f"CER {lang} {style}" for lang, style in groups)
          + " | CER zh | CER en | CER all | images/s | peak RSS MB |")
    print("|---|---|" + "---|" * (len(groups) + 5))
    full: dict[str, dict[str, str]] = {}
    for engine in a.engines.split(","):
        for threads in (1, 2):
            res = child(HERE, ["--set", str(a.set), "--worker", engine, "--threads", str(threads),
                               "--limit", str(len(truth) if threads == 1 else a.speed_n)])
            preds = res["preds"]
            speed = res["images"] / res["seconds"]
            if threads == 1:
                full[engine] = preds

                def cer(keep):
                    return rate([(chars(by_file[f]["text"]), chars(p)) for f, p in preds.items() if keep(by_file[f])])

                cells = [cer(lambda it, g=g: (it["lang"], it["style"]) == g) for g in groups]
                zh, en = cer(lambda it: it["lang"] == "zh"), cer(lambda it: it["lang"] == "en")
                overall = cer(lambda it: True)
                print(f"| {engine} | 1 | " + " | ".join(f"{c:.4f}" for c in cells)
                      + f" | {zh:.4f} | {en:.4f} | {overall:.4f} | {speed:.2f} | {res['peak_rss_mb']:.0f} |", flush=True)
            else:
                print(f"| {engine} | 2 (first {res['images']}) | " + " | ".join("" for _ in groups)
                      + f" | | | | {speed:.2f} | {res['peak_rss_mb']:.0f} |", flush=True)
    if a.no_recall:
        return
    queries = [(it["text"].split("\n")[0], {f for f, o in by_file.items() if it["text"].split("\n")[0] in o["text"]})
               for it in truth]
    threads = int(os.environ.get("LINGXI_THREADS", "1"))
    print(f"\nrecall@{a.k}: first sentence of each image, written correctly, searched over the texts")
    print("| texts | bm25 | dense | hybrid |\n|---|---|---|---|")
    for name, texts in [("true text (ceiling)", {f: it["text"] for f, it in by_file.items()}),
                        *[(f"{e} OCR", full[e]) for e in full]]:
        r = recall(texts, queries, a.k, threads)
        print(f"| {name} | {r['bm25']:.4f} | {r['dense']:.4f} | {r['hybrid']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
