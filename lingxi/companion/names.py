"""The user's own name, caught the moment they introduce themselves.

A companion that calls the user by the wrong name (or by its own) fails at the one thing people notice first, and
the small bundled model, reading a whole session at once, often files "Hi! I'm Sam." as a greeting. So a plain
self-introduction — "my name is …", "call me …", "I'm …" followed by a capitalised word that ends the clause,
"我叫…", "我的名字是…", "叫我…" — is stored as the user's name before the reply is written. Anything less plain
is left to extraction. Switch: ``CompanionConfig.name_capture``."""

from __future__ import annotations

import re

_EN_NAME = r"([A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)"
_EN_PLAIN = re.compile(rf"\b(?:[Mm]y name is|[Mm]y name's|[Cc]all me)\s+{_EN_NAME}\b")
# "I'm X" is a name only when X ends the clause ("I'm Sam." / "I'm Sam, ...") and is not a common adjective
# or nationality written with a capital.
_EN_IM = re.compile(rf"(?:^|[.!?,;]\s*|\b(?:[Hh]i|[Hh]ello|[Hh]ey)\W+)(?:I'm|I’m|I am|Im)\s+{_EN_NAME}(?=\s*(?:[.!?,;~]|$))")
_NOT_NAMES = {
    "fine", "good", "ok", "okay", "back", "home", "here", "there", "sorry", "happy", "sad", "tired", "done", "ready",
    "sure", "new", "well", "busy", "bored", "hungry", "late", "alone", "excited", "nervous", "american", "british",
    "english", "chinese", "french", "german", "japanese", "korean", "indian", "canadian", "australian", "italian",
    "spanish", "mexican", "russian", "irish", "scottish", "dutch", "swedish", "brazilian", "vegan", "vegetarian",
}
_HAN = "\u4e00-\u9fff"
_ZH = re.compile(rf"(?:^|[，,。！!？?；;～~\s]|嗨|你好|哈喽)(?:我叫|我的名字(?:是|叫)|叫我)([{_HAN}]{{1,4}}?)"
                 rf"(?=[，,。！!？?；;～~\s]|就[行好可]|吧|哦|呀|啊|$)")
# characters a name does not start with (我叫了外卖, 叫我起床)
_ZH_NOT_FIRST = set("了过着你他她它们的车人外醒起来去别不一")


def introduced_name(message: str) -> str | None:
    """The name the user gives as their own in ``message``, or None."""
    text = message.strip()
    m = _ZH.search(text)
    if m and m.group(1)[0] not in _ZH_NOT_FIRST:
        return m.group(1)
    for rx in (_EN_PLAIN, _EN_IM):
        m = rx.search(text)
        if m and m.group(1).lower() not in _NOT_NAMES:
            return m.group(1)
    return None
