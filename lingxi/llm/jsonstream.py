"""One string field of a JSON object read while the object is still being generated, so a reply's text can be shown
as it is written. The model's reply is constrained to a schema, so the field is a JSON string; this decodes its
escapes as they arrive and never shows half an escape."""

from __future__ import annotations

import json
import re

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class FieldText:
    """``feed(piece)`` returns the text of field ``key`` that the new piece completed ("" when none)."""

    def __init__(self, key: str) -> None:
        self._start = re.compile(r'[{,]\s*' + re.escape(json.dumps(key)) + r'\s*:\s*"')
        self._at: int | None = None  # where in ``raw`` the field's undecoded text starts, once its key was read
        self.raw = ""
        self.text = ""  # the field's text decoded so far
        self.done = False  # the field's closing quote was read

    def feed(self, piece: str) -> str:
        self.raw += piece
        if self.done:
            return ""
        if self._at is None:
            m = self._start.search(self.raw)
            if m is None:
                return ""
            self._at = m.end()
        new, self._at, self.done = _decode(self.raw, self._at)
        self.text += new
        return new


def _decode(raw: str, i: int) -> tuple[str, int, bool]:
    """The JSON string text from ``raw[i]`` on, as far as it is complete: the text, where decoding stopped, and
    whether the closing quote was reached."""
    out: list[str] = []
    while i < len(raw):
        c = raw[i]
        if c == '"':
            return "".join(out), i + 1, True
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(raw):
            break  # half an escape: wait for the rest
        e = raw[i + 1]
        if e == "u":
            if i + 6 > len(raw):
                break
            code = _hex(raw[i + 2: i + 6])
            if code is not None and 0xD800 <= code < 0xDC00:  # a surrogate pair: both halves or nothing
                if i + 12 > len(raw):
                    break
                low = _hex(raw[i + 8: i + 12])
                if raw[i + 6: i + 8] == "\\u" and low is not None and 0xDC00 <= low < 0xE000:
                    out.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                    i += 12
                    continue
            out.append(raw[i: i + 6] if code is None or 0xD800 <= code < 0xE000 else chr(code))
            i += 6
            continue
        out.append(_ESCAPES.get(e, e))
        i += 2
    return "".join(out), i, False


def _hex(digits: str) -> int | None:
    try:
        return int(digits, 16) if len(digits) == 4 else None
    except ValueError:
        return None
