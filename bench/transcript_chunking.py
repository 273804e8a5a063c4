"""Do transcript chunks end where a thought ends? Chunk boundaries against sentence ends, per chunking mode and size.

    python bench/transcript_chunking.py --corpus ../shared/data/realworld [--sizes 200,300,500]

Real recogniser output that *has* punctuation gives the gold: the Whisper lines of
``transcripts/pythonhunter-avocado-toast-crossover-whisper.txt`` (Chinese, punctuated) and the word timings of
``transcripts/3b1b-harvey-mudd-speech.en.word_timings.json`` (English). Each is chunked twice: with the
punctuation stripped (what an unpunctuated recogniser gives, the case the chunker is built for) and as
recognised. A chunk boundary "keeps the thought" when the text before it ended a sentence (。？！.?!) in the
original.

Every mode cuts only between segments, so the baseline is the share of segment boundaries that are sentence
ends: what a cut at a random segment boundary would score. Reported per mode: that share among chunk boundaries
(higher is better), the number of chunks and their median length in characters.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingxi.ingest import asrjson, transcript

ENDS = "。？！?!."
_PUNCT = re.compile(r"[，,。？！?!.；;：:、]")

Piece = tuple[float, float, str]


def whisper_lines(path: Path, strip: bool = True) -> tuple[list[Piece], list[bool]]:
    pieces, ends = [], []
    for ln in path.read_text(encoding="utf-8").split("\n"):
        m = transcript.SEGMENT_LINE.match(ln)
        if m and m.group(3).strip():
            t = m.group(3).strip()
            ends.append(t[-1] in ENDS)
            stripped = _PUNCT.sub(" ", t).strip() if strip else t
            pieces.append((transcript._seconds(m.group(1)), transcript._seconds(m.group(2)), stripped or t))
    return pieces, ends


def word_timings(path: Path, strip: bool = True) -> tuple[list[Piece], list[bool]]:
    words = asrjson._words(json.loads(path.read_text(encoding="utf-8")), path.name)
    ends_at = {i for i, (_, _, w) in enumerate(words) if w.rstrip()[-1:] in ENDS}
    bare = [(a, b, _PUNCT.sub("", w)) for a, b, w in words] if strip else words
    pieces, ends, k = [], [], 0
    # segments as the recogniser JSON path builds them, but from unpunctuated words: pauses only
    for seg in asrjson.segments_from_words(bare):
        n = len(seg[2].split())
        k += n
        pieces.append(seg)
        ends.append((k - 1) in ends_at)
    return pieces, ends


def measure(pieces: list[Piece], ends: list[bool], pol: transcript.Policy) -> dict[str, float]:
    token = transcript.CHUNKING.set(pol)
    try:
        note = transcript.timed_note(pieces, "x.txt")
    finally:
        transcript.CHUNKING.reset(token)
    # map each chunk's end back to its last segment
    seg_end_chars, pos = [], 0
    for _, _, t in pieces:
        pos += len(t)
        seg_end_chars.append(pos)
        pos += 1
    index = {c: i for i, c in enumerate(seg_end_chars)}
    cuts = [index[c.locator.char_end] for c in note.chunks[:-1] if c.locator.char_end in index]
    return {
        "at_sentence_end": 100 * sum(ends[i] for i in cuts) / max(1, len(cuts)),
        "chunks": len(note.chunks),
        "median_chars": statistics.median(len(c.text) for c in note.chunks),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--sizes", default="200,300,500")
    args = ap.parse_args()
    files = {
        "zh whisper (avocado-toast)": (args.corpus / "transcripts/pythonhunter-avocado-toast-crossover-whisper.txt",
                                       whisper_lines),
        "en word timings (harvey-mudd)": (args.corpus / "transcripts/3b1b-harvey-mudd-speech.en.word_timings.json",
                                          word_timings),
    }
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| transcript | baseline | " + " | ".join(f"{m} @{s}" for s in sizes for m in transcript.MODES) + " |")
    print("|---|---|" + "---|" * (len(sizes) * len(transcript.MODES)))
    for (label, (path, load)), strip in [(f, s) for s in (True, False) for f in files.items()]:
        if not path.exists():
            sys.exit(f"{path}: not found; pass the realworld corpus (../shared/data/realworld)")
        pieces, ends = load(path, strip)
        label += ", punctuation stripped" if strip else ", as recognised"
        base = 100 * sum(ends[:-1]) / max(1, len(ends) - 1)
        cells = []
        for s in sizes:
            for m in transcript.MODES:
                r = measure(pieces, ends, transcript.Policy(m, s))
                cells.append(f"{r['at_sentence_end']:.0f}% ({r['chunks']}, {r['median_chars']:.0f})")
        print(f"| {label} | {base:.0f}% | " + " | ".join(cells) + " |")
    print("\ncells: chunk boundaries at a sentence end (chunks, median chars)")


if __name__ == "__main__":
    main()
