"""Make OCR and speech test sets from text: images rendered with Pillow and a CJK font, speech with espeak-ng.

    python bench/media_synth.py ocr --text demo/corpus --out /tmp/ocr-set --n 120 --seed 1
    python bench/media_synth.py asr --text demo/corpus --out /tmp/asr-set --n 24 --seed 1
    python bench/media_synth.py demo --out demo/media      # the image and voice note `make demo` ingests

Each set gets a ``truth.jsonl`` (file, text, lang, style). Sentences come from the notes under ``--text``,
read by lingxi's own parsers. Image styles cycle through clean, noisy (speckle + blur + JPEG),
rotated (±4–12°) and two-column; speech is English (``en-us``) or Mandarin read from tone-numbered
pinyin (``cmn-latn-pinyin``). The same functions make the test fixtures (tests/test_media*.py)."""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
STYLES = ("clean", "noisy", "rotated", "two-column")


SC_FACE = 2  # in Noto's .ttc files faces are JP, KR, SC, TC, HK: the JP default draws 门 and 关 the Japanese way


def font_path() -> str:
    for f in FONTS:
        if Path(f).exists():
            return f
    raise SystemExit("no CJK font: install fonts-noto-cjk (make sysdeps)")


def is_zh(text: str) -> bool:
    return sum("\u4e00" <= c <= "\u9fff" for c in text) > len(text) / 3


def wrap(text: str, font: Any, width: int) -> list[str]:
    """Greedy wrap to a pixel width: by characters for Chinese, by words otherwise."""
    units = list(text) if is_zh(text) else text.split(" ")
    sep = "" if is_zh(text) else " "
    lines, cur = [], ""
    for u in units:
        trial = cur + sep + u if cur else u
        if font.getlength(trial) > width and cur:
            lines.append(cur)
            cur = u
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def render(paragraphs: list[str], style: str = "clean", seed: int = 0, width: int = 900, size: int = 30,
           font_file: str | None = None) -> Any:
    """A card with the paragraphs (two-column: halves side by side under a spanning title line)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    font = ImageFont.truetype(font_file or font_path(), size, index=SC_FACE)
    margin, lh = 40, int(size * 1.6)
    columns: list[list[str]]
    title: list[str] = []
    if style == "two-column" and len(paragraphs) >= 3:
        title = wrap(paragraphs[0], font, width - 2 * margin)
        rest = paragraphs[1:]
        half = (len(rest) + 1) // 2
        colw = (width - 3 * margin) // 2
        columns = [[ln for p in rest[:half] for ln in [*wrap(p, font, colw), ""]],
                   [ln for p in rest[half:] for ln in [*wrap(p, font, colw), ""]]]
    else:
        columns = [[ln for p in paragraphs for ln in [*wrap(p, font, width - 2 * margin), ""]]]
    height = margin * 2 + lh * (len(title) + 1 + max(len(c) for c in columns))
    bg = (255, 255, 255) if style == "clean" else (rng.randint(225, 255), rng.randint(220, 250), rng.randint(200, 240))
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    y = margin
    for ln in title:
        draw.text((margin, y), ln, font=font, fill=(20, 20, 20))
        y += lh
    if title:
        y += lh // 2
    colw = (width - 3 * margin) // 2
    for i, col in enumerate(columns):
        x = margin + i * (colw + margin)
        for j, ln in enumerate(col):
            draw.text((x, y + j * lh), ln, font=font, fill=(20, 20, 20))
    if style == "noisy":
        import numpy as np

        a = np.asarray(img).astype(np.int16)
        a += np.random.default_rng(seed).normal(0, 18, a.shape).astype(np.int16)
        img = Image.fromarray(a.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    if style == "rotated":
        angle = rng.choice((-1, 1)) * rng.uniform(4, 12)
        img = img.rotate(angle, expand=True, fillcolor=bg, resample=Image.Resampling.BICUBIC)
    return img


def pinyin(text: str) -> str:
    """Chinese text as tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice (punctuation → pauses)."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda chars: [chars])
    said = " ".join(s.strip() for s in syllables if s.strip())
    return re.sub(r"\s*[，。！？、；：,.!?;:]+\s*", ", ", said).strip(", ")


def speak(text: str, out: Path, lang: str = "en", speed: int = 150) -> Path:
    """A WAV of the text spoken by espeak-ng (Mandarin through pinyin)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed (make sysdeps)")
    voice, said = ("cmn-latn-pinyin", pinyin(text)) if lang == "zh" else ("en-us", text)
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(out), said], check=True, capture_output=True)
    return out


def sentences(folder: Path) -> tuple[list[str], list[str]]:
    """Chinese and English sentences of the notes under folder, read with lingxi's parsers."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from lingxi.errors import LingxiError
    from lingxi.ingest import parse_bytes

    zh: list[str] = []
    en: list[str] = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        try:
            _, notes = parse_bytes(p.read_bytes(), str(p))
        except LingxiError:
            continue
        for n in notes:
            for s in re.split(r"(?<=[。！？!?])|(?<=\.)\s+|\n+", n.body):
                s = re.sub(r"[#*`>|\[\]]", "", s)
                s = re.sub(r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?|-->|--", " ", s)  # subtitle times
                s = re.sub(r"\s+", " ", s).strip(" -")
                if is_zh(s) and 8 <= len(s) <= 40 and not re.search(r"[A-Za-z]", s):
                    zh.append(s)
                elif not is_zh(s) and re.fullmatch(r"[A-Za-z0-9 ,.;:'’()?!-]+", s) and 5 <= len(s.split()) <= 22:
                    en.append(s)
    return list(dict.fromkeys(zh)), list(dict.fromkeys(en))


def make_ocr(text: Path, out: Path, n: int, seed: int) -> None:
    zh, en = sentences(text)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "truth.jsonl").open("w") as f:
        for i in range(n):
            lang = "zh" if i % 2 == 0 else "en"
            pool = zh if lang == "zh" else en
            style = STYLES[(i // 2) % len(STYLES)]
            paras = [rng.choice(pool) for _ in range(4 if style == "two-column" else rng.randint(1, 3))]
            name = f"{i:04d}-{lang}-{style}.png"
            render(paras, style, seed * 100000 + i, font_file=FONTS[i % 3 == 2 and Path(FONTS[1]).exists()]) \
                .save(out / name)
            f.write(json.dumps({"file": name, "text": "\n".join(paras), "lang": lang, "style": style},
                               ensure_ascii=False) + "\n")


def make_asr(text: Path, out: Path, n: int, seed: int) -> None:
    zh, en = sentences(text)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "truth.jsonl").open("w") as f:
        for i in range(n):
            lang = "zh" if i % 2 == 0 else "en"
            pool = zh if lang == "zh" else en
            said = " ".join(rng.sample(pool, 2)) if lang == "en" else "".join(rng.sample(pool, 2))
            name = f"{i:04d}-{lang}.wav"
            speak(said, out / name, lang)
            f.write(json.dumps({"file": name, "text": said, "lang": lang}, ensure_ascii=False) + "\n")


DEMO_CARD = ["东门周末市集｜路线卡", "东门市集每周六早上七点开门，九点以后人最多。", "糖油果子五元一串，冰粉八元一碗。",
             "Bring cash: some stalls take no cards.", "The bus stop is beside the old bridge."]
DEMO_VOICE = ("Voice memo about Chengdu. The tea house on Kuanzhai Alley opens at nine in the morning. "
              "A pot of jasmine tea costs thirty yuan, and the ear cleaning is extra.")


def to_opus(wav: Path, out: Path) -> Path:
    """Re-encode a WAV as Ogg/Opus with PyAV (a voice note as phones save them)."""
    import av

    with av.open(str(wav)) as src, av.open(str(out), "w", format="ogg") as dst:
        stream = dst.add_stream("libopus", rate=48000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in src.decode(audio=0):
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out


def make_demo(out: Path) -> None:
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    render(DEMO_CARD, "two-column", seed=7).save(out / "market-card.png", optimize=True)
    with tempfile.TemporaryDirectory() as tmp:
        to_opus(speak(DEMO_VOICE, Path(tmp) / "memo.wav", "en"), out / "tea-house-memo.opus")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["ocr", "asr", "demo"])
    ap.add_argument("--text", type=Path, help="folder of notes to take sentences from")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1, help="0 = dev split, 1 = test split")
    a = ap.parse_args()
    if a.kind == "demo":
        make_demo(a.out)
        print(f"wrote the demo image and voice note to {a.out}")
        return
    if a.text is None:
        ap.error("--text is required for ocr and asr sets")
    (make_ocr if a.kind == "ocr" else make_asr)(a.text, a.out, a.n, a.seed)
    print(f"wrote {a.n} {a.kind} items to {a.out}")


if __name__ == "__main__":
    main()
