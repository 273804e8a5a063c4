"""Agent vs single-shot RAG from `lingxi eval agent --trace` files: mean F1 of each, the ratio of the means with a
paired bootstrap interval (questions resampled with both systems' scores together), and the median of the
per-question wall-time ratios. Several trace files (slices of one split run at different times) are pooled by
question id; a question in two files counts once, from the later file.

    python bench/paired_bootstrap.py /tmp/hot111.jsonl /tmp/hot131.jsonl [--a agent --b rag] [--level 0.9] [--tsv OUT]

`--tsv` writes one line per question (id, each system's F1 and seconds): small enough to keep beside the write-up,
so a later run can be pooled with this one after the traces are gone (pass the TSV again as an input).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path


def load(paths: list[Path]) -> dict[str, dict[str, tuple[float, float]]]:
    """question id → system → (F1, seconds)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            if p.suffix == ".tsv":
                qid, system, f1, secs = line.split("\t")
                out.setdefault(qid, {})[system] = (float(f1), float(secs))
                continue
            rec = json.loads(line)
            if "system" in rec and "f1" in rec:
                out.setdefault(str(rec["id"]), {})[rec["system"]] = (float(rec["f1"]), float(rec.get("seconds", 0.0)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", type=Path, nargs="+", help="trace JSONL files or TSV files written by --tsv")
    ap.add_argument("--a", default="agent")
    ap.add_argument("--b", default="rag")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tsv", type=Path)
    args = ap.parse_args()
    data = load(args.inputs)
    # the trace names the single-shot row "rag" or "single-shot RAG" depending on the version: match loosely
    def pick(sys_scores: dict[str, tuple[float, float]], name: str) -> tuple[float, float] | None:
        return next((v for k, v in sys_scores.items() if k == name or k.lower().replace(" ", "-").endswith(name)), None)

    pairs = [(qid, pick(s, args.a), pick(s, args.b)) for qid, s in data.items()]
    both = [(q, a, b) for q, a, b in pairs if a is not None and b is not None]
    if not both:
        raise SystemExit(f"no question has both {args.a!r} and {args.b!r} rows (systems seen: "
                         f"{sorted({k for s in data.values() for k in s})})")
    fa = [a[0] for _, a, _ in both]
    fb = [b[0] for _, _, b in both]
    rng = random.Random(args.seed)
    ratios = []
    for _ in range(args.samples):
        idx = [rng.randrange(len(both)) for _ in both]
        sb = sum(fb[i] for i in idx)
        if sb > 0:
            ratios.append(sum(fa[i] for i in idx) / sb)
    ratios.sort()
    lo = ratios[int((1 - args.level) / 2 * len(ratios))] if ratios else float("nan")
    hi = ratios[int((1 + args.level) / 2 * len(ratios)) - 1] if ratios else float("nan")
    times = [a[1] / b[1] for _, a, b in both if b[1] > 0]
    print(json.dumps({
        "questions": len(both), args.a: round(statistics.fmean(fa), 4), args.b: round(statistics.fmean(fb), 4),
        "ratio": round(statistics.fmean(fa) / statistics.fmean(fb), 3) if sum(fb) else None,
        f"interval_{args.level:g}": [round(lo, 2), round(hi, 2)],
        "better": sum(a > b for a, b in zip(fa, fb)), "worse": sum(a < b for a, b in zip(fa, fb)),
        "time_ratio_median": round(statistics.median(times), 2) if times else None}))
    if args.tsv:
        args.tsv.write_text("".join(f"{q}\t{args.a}\t{a[0]}\t{a[1]}\n{q}\t{args.b}\t{b[0]}\t{b[1]}\n"
                                    for q, a, b in both), encoding="utf-8")


if __name__ == "__main__":
    main()
