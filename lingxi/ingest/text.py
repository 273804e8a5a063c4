"""Decoding and passage packing shared by the parsers.

Passages are character spans ``(start, end)`` of a note body, so every chunk keeps
exact offsets back into the text it came from.
"""

from __future__ import annotations

import re
import unicodedata

from lingxi.errors import BadInput
from lingxi.text import is_cjk

SENTENCE_END = "。！？!?…；;"
CLAUSE_END = "，,、：:"
CLOSERS = "”’」』）)】》\"'"

# Target passage sizes, in characters. 400 characters is a long paragraph of
# Chinese or ~70 English words: small enough to cite precisely, big enough to carry a fact.
TARGET_CHARS = 400
MIN_CHARS = 160
MAX_CHARS = 600


def decode(data: bytes, name: str) -> str:
    """Bytes → text. UTF-8 (with or without BOM), UTF-16 with BOM, then GB18030 for legacy Chinese files."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadInput(f"{name}: binary file (contains NUL bytes), not text")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return normalize_newlines(data.decode("utf-16"))
        except UnicodeDecodeError as e:
            raise BadInput(f"{name}: unreadable encoding (UTF-16 BOM but invalid data: {e.reason})") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _legacy(data, name)
    if not looks_like_text(text):
        raise BadInput(f"{name}: not a text file (too many control characters)")
    return normalize_newlines(text)


_DECLARED = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})|<\?xml[^>]{0,100}?encoding\s*=\s*["']([A-Za-z0-9_.:-]{2,40})""", re.I)


def common_chinese(text: str) -> float:
    """The share of a text's CJK ideographs among GB2312's 3,755 most common ones (1.0 without any): ~0.9 and
    more in Chinese prose; bytes of another encoding read as GB18030 give rare characters (``M黮ler``)."""
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not cjk:
        return 1.0
    common = 0
    for ch in cjk:
        try:
            common += 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            pass
    return common / len(cjk)


_GB = ("gb18030", "gbk", "gb2312", "hz")


def _legacy(data: bytes, name: str) -> str:
    """Bytes that are not UTF-8: the charset a page declares; else, for a short text (too little to tell encodings
    apart), GB18030 when it reads as Chinese; else the encoding charset-normalizer finds (GB18030, Big5, Shift-JIS,
    EUC-KR, Latin-1, ...) — never a reading full of rare characters (``M黮ler``: Latin-1 read as GB18030)."""
    import codecs

    from charset_normalizer import from_bytes

    tried = []
    m = _DECLARED.search(data[:4096])
    declared = (m.group(1) or m.group(2)).decode("ascii").lower() if m else ""
    if declared:
        try:
            codec = codecs.lookup(declared).name
            if codec not in ("utf-8", "utf-16", "utf-32"):
                return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            tried.append(f"declared {declared}")

    def as_gb() -> str | None:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return None
        return text if looks_like_text(text) and common_chinese(text) >= 0.7 else None

    if sum(b >= 0x80 for b in data[:65536]) < 40 and (text := as_gb()) is not None:
        return text
    best = from_bytes(data).best()
    if best is not None:
        if best.encoding in _GB:
            text = as_gb()
            if text is not None:
                return text
        else:
            text = str(best)
            if looks_like_text(text):
                return text
        tried.append(best.encoding)
    elif (text := as_gb()) is not None:
        return text
    tried.append("GB18030")
    raise BadInput(f"{name}: unreadable encoding (not UTF-8; tried {', '.join(dict.fromkeys(tried))}); "
                   "save it as UTF-8")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # C0 controls but tab, newline and form feed; DEL


def normalize_newlines(text: str) -> str:
    """Line ends as ``\n``; control characters a file carries (an escape sequence pasted from a terminal, a
    backspace) dropped: nobody reads them and they break what shows the text."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def looks_like_text(text: str) -> bool:
    if not text:
        return True
    sample = text[:20000]
    bad = 0
    for ch in sample:
        cat = unicodedata.category(ch)
        if (cat == "Cc" and ch not in "\n\r\t\f\v") or cat in ("Co", "Cn", "Cs"):
            bad += 1
    return bad / len(sample) < 0.02


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Spans of blank-line separated paragraphs (trimmed, non-empty)."""
    spans = []
    for m in re.finditer(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\s*\Z)", text, flags=re.S):
        spans.append((m.start(), m.end()))
    return spans


def line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for line in text.split("\n"):
        s, e = trim_span(text, pos, pos + len(line))
        if e > s:
            spans.append((s, e))
        pos += len(line) + 1
    return spans


def boundary_scores(text: str, start: int, end: int) -> dict[int, int]:
    """Candidate cut positions inside text[start:end] and how good a cut each is.

    Works without punctuation: ASR output marks pauses with spaces, and
    discourse markers (然后, 所以, so, and then) begin new thoughts.
    """
    scores: dict[int, int] = {}
    for i in range(start + 1, end):
        prev, ch = text[i - 1], text[i]
        if prev == "\n":
            scores[i] = 6 if i >= 2 and text[i - 2] == "\n" else 5
        elif prev in SENTENCE_END or (prev in CLOSERS and i >= 2 and text[i - 2] in SENTENCE_END):
            scores[i] = 5
        elif prev == "." and (ch.isspace() or is_cjk(ch)):
            scores[i] = 5
        elif prev in CLAUSE_END:
            scores[i] = 3
        elif prev.isspace() and not ch.isspace():
            # a space between two CJK characters is an ASR pause; between words it is only a word gap
            before = text[i - 2] if i >= 2 else ""
            scores[i] = 3 if (is_cjk(before) or is_cjk(ch)) else 1
    for m in _MARKERS.finditer(text, start, end):
        if m.start() > start:
            scores[m.start()] = max(scores.get(m.start(), 0), 2)
    return scores


_MARKERS = re.compile(
    r"(?:然后|所以|但是|不过|那么|接下来|其实|因为|另外|首先|其次|最后|我们|大家|对吧|"
    r"(?<![A-Za-z])(?:so|and then|but|because|now|okay|anyway)(?![A-Za-z]))",
    re.I,
)


def pack_spans(
    text: str,
    spans: list[tuple[int, int]],
    target: int = TARGET_CHARS,
    max_chars: int = MAX_CHARS,
    min_chars: int = MIN_CHARS,
) -> list[tuple[int, int]]:
    """Merge consecutive small spans up to ``target`` characters; split spans longer than ``max_chars``."""
    pieces: list[tuple[int, int]] = []
    for s, e in spans:
        if e - s > max_chars:
            pieces.extend(split_long(text, s, e, target, max_chars, min_chars))
        else:
            pieces.append((s, e))
    out: list[tuple[int, int]] = []
    for s, e in pieces:
        if out and (e - out[-1][0] <= target or (out[-1][1] - out[-1][0] < min_chars and e - out[-1][0] <= max_chars)):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def split_long(
    text: str, start: int, end: int, target: int = TARGET_CHARS, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS
) -> list[tuple[int, int]]:
    """Split one long span at the best boundaries; never cuts inside an ASCII word unless a word is absurdly long."""
    out = []
    pos = start
    scores = boundary_scores(text, start, end)
    while end - pos > max_chars:
        lo, hi = pos + min_chars, min(pos + max_chars, end - min_chars // 2)
        best, best_key = -1, (-1, 0)
        for i in range(lo, hi + 1):
            sc = scores.get(i)
            if sc:
                key = (sc, -abs(i - (pos + target)))
                if key > best_key:
                    best, best_key = i, key
        if best < 0:
            best = pos + max_chars
            back = best
            while back > pos + min_chars and text[back - 1].isalnum() and text[back].isalnum() and text[back].isascii():
                back -= 1
            if back > pos + min_chars:
                best = back
        s, e = trim_span(text, pos, best)
        if e > s:
            out.append((s, e))
        pos = best
    s, e = trim_span(text, pos, end)
    if e > s:
        out.append((s, e))
    return out


_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?|\n")


def sentence_spans(text: str, max_chars: int = 240) -> list[tuple[int, int]]:
    """The sentences of ``text`` as spans (Chinese and English ends; one over ``max_chars`` split at its best
    boundaries)."""
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = trim_span(text, m.start(), m.end())
        for part in re.finditer(r".+?(?:\.(?=\s)|$)", text[s:e], flags=re.S):  # English ". "
            ps, pe = trim_span(text, s + part.start(), s + part.end())
            if pe > ps:
                spans.extend(split_long(text, ps, pe, target=max_chars // 2, max_chars=max_chars, min_chars=20)
                             if pe - ps > max_chars else [(ps, pe)])
    return spans
