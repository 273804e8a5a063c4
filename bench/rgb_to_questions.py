"""Convert an RGB file into lingxi's generic QA format: questions.jsonl ({"id","q","gold"}) + corpus/passages.jsonl.

    python bench/rgb_to_questions.py ../shared/data/rgb/zh_int.json bench/out/rgb_zh_int [--skip N] [--limit N]

Every question's positive and negative passages go into one pooled corpus (deduplicated).
An answer entry that lists alternative forms stays a list (any form counts)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("rgb", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N questions (e.g. ones used while tuning)")
    ap.add_argument("--limit", type=int)
    a = ap.parse_args()
    rows = [json.loads(line) for line in a.rgb.open(encoding="utf-8") if line.strip()][a.skip :][: a.limit]
    (a.out / "corpus").mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    flat = lambda xs: [x for p in xs for x in (p if isinstance(p, list) else [p])]  # noqa: E731
    with (a.out / "questions.jsonl").open("w", encoding="utf-8") as q, \
            (a.out / "corpus" / "passages.jsonl").open("w", encoding="utf-8") as c:
        for r in rows:
            gold = r["answer"]  # a fact listed as several forms stays a list: any of them counts
            q.write(json.dumps({"id": str(r["id"]), "q": r["query"], "gold": gold}, ensure_ascii=False) + "\n")
            for text in flat(r["positive"]) + flat(r["negative"]):
                text = " ".join(str(text).split())
                if text and text not in seen:
                    seen[text] = f"rgb{len(seen)}"
                    c.write(json.dumps({"id": seen[text], "title": text[:24], "text": text}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} questions, {len(seen)} passages → {a.out}")


if __name__ == "__main__":
    main()
