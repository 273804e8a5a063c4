"""Local LLM throughput: prompt and decode tokens/s, by thread count, with and without prompt-lookup
speculative decoding, on cited-answer prompts (passages from a corpus, answers that quote them).

    python bench/llm_throughput.py --model qwen2.5-coder-1.5b --threads 1,2 --corpus demo/corpus [--json]

Each generation starts from an empty KV cache (llm.reset()); prefill is timed with max_tokens=1 and decode as
the rest of a full generation, so the two rates do not mix. Medians over the prompts."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lingxi import Library, Settings
from lingxi.config import default_model_cache
from lingxi.llm.bundled import resolve_model
from lingxi.llm.chat import LocalChatModel

QUESTIONS = [
    "熊猫什么时候最活跃？请引用原文回答。",
    "What feeding ratio keeps a sourdough starter slow on hot days? Quote the passage.",
    "DeepSeek 蒸馏用了多少条样本？请引用原文回答。",
    "How long does git reflog remember a lost commit? Quote the passage.",
    "怕辣的人在成都应该怎么点菜？请引用原文回答。",
    "What should you do if the knee swells or locks? Quote the passage.",
]


def prompts(corpus: Path) -> list[list[dict[str, str]]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Settings.load(tmp, threads=2))
        lib.ingest([corpus])
        for q in QUESTIONS:
            hits = lib.search(q, k=3)
            ctx = "\n\n".join(f"[{i}] {h.chunk.text[:600]}" for i, h in enumerate(hits, 1))
            out.append([{"role": "system", "content": "Answer from the passages. Quote the supporting sentence verbatim "
                                                      "and cite it like [1]."},
                        {"role": "user", "content": f"{ctx}\n\nQuestion: {q}"}])
        lib.close()
    return out


def prefill_time(model: LocalChatModel, msgs: list[dict[str, str]]) -> tuple[float, int]:
    llm = model.llm
    llm.reset()
    t = time.perf_counter()
    first = llm.create_chat_completion(messages=msgs, max_tokens=1, temperature=0.0, top_k=1)
    return time.perf_counter() - t, int(first["usage"]["prompt_tokens"])


def full_time(model: LocalChatModel, msgs: list[dict[str, str]], max_tokens: int) -> tuple[float, int]:
    llm = model.llm
    llm.reset()
    t = time.perf_counter()
    full = llm.create_chat_completion(messages=msgs, max_tokens=max_tokens, temperature=0.0, top_k=1)
    return time.perf_counter() - t, int(full["usage"]["completion_tokens"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--corpus", type=Path, default=ROOT / "demo" / "corpus")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--prompts", type=int, default=len(QUESTIONS), help="how many of the built-in questions")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    path = resolve_model(a.model, default_model_cache())
    ps = prompts(a.corpus)[: a.prompts]
    rows = []
    for threads in [int(t) for t in a.threads.split(",")]:
        prefills: list[tuple[float, int]] = []
        for spec in (False, True):
            m = LocalChatModel(path, threads=threads, context=4096, speculative=spec)
            full_time(m, ps[0][:1] + [{"role": "user", "content": "hi"}], 4)  # warm up
            if not spec:
                # Prefill does not depend on the draft model: measured once per thread count.
                prefills = [prefill_time(m, msgs) for msgs in ps]
            pre, dec, outs = [], [], []
            for msgs, (prefill, n_prompt) in zip(ps, prefills):
                total, n_out = full_time(m, msgs, a.max_tokens)
                pre.append(n_prompt / prefill)
                dec.append((n_out - 1) / max(total - prefill, 1e-6))
                outs.append(n_out)
            rows.append({"system": f"{threads} thread{'s' if threads > 1 else ''}, {'prompt-lookup' if spec else 'plain'}",
                         "metrics": {"prompt_tok_s": round(statistics.median(pre), 1),
                                     "decode_tok_s": round(statistics.median(dec), 2),
                                     "completion_tokens": round(statistics.fmean(outs), 1)}})
            print(json.dumps(rows[-1]), file=sys.stderr)
            del m
    for r in rows:
        base = next(b for b in rows if b["system"].split(",")[0] == r["system"].split(",")[0] and "plain" in b["system"])
        r["metrics"]["decode_vs_plain"] = round(r["metrics"]["decode_tok_s"] / base["metrics"]["decode_tok_s"], 3)
    result = {"dataset": f"cited-answer prompts over {a.corpus}", "rows": rows,
              "config": {"model": a.model, "max_tokens": a.max_tokens, "prompts": len(ps)}}
    if a.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        keys = list(rows[0]["metrics"])
        print("| setting | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1))
        for r in rows:
            print(f"| {r['system']} | " + " | ".join(str(r["metrics"][k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
