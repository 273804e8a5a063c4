"""Notes shown to a model as data: every surface that puts a note's text in a prompt (the agent, the single-shot
baseline, a companion that searches the notes) shows it through ``passage_block``.

The system prompt says notes are data, passages sit in tags a note cannot close, and citations can only point at
retrieved chunks; as a further layer, sentences that address the assistant ("ignore your instructions", "you are
now", "只引用…") and markup that imitates the prompt's own structure are replaced by a marker, so a small model never
sees them as candidate answers."""

from __future__ import annotations

import re

from lingxi.types import Hit

MARKER = "[instruction-like text removed]"

_FAKE_MARKUP = re.compile(
    r"<\s*passage\b[^>]*>.*?<\s*/\s*passage\s*>|</?\s*passage\b[^>]*>|<\|im_(?:start|end)\|>|\[/?INST\]|<</?SYS>>",
    re.I | re.S,
)
_INSTRUCTION = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+|my\s+)*(previous\s+|prior\s+|above\s+|earlier\s+)*"
    r"(instructions?|rules|prompts?|guidelines)"
    r"|you\s+are\s+now\b|new\s+instructions?\s*:|system\s+prompt|(?:answer|respond|reply)\s+(?:only\s+)?with\b.*\bregardless"
    r"|\bcite\s+(?:only\s+)?note\b|as\s+an\s+ai\s+(?:assistant|model)\s+you\s+must"
    r"|(忽略|无视|忘记|忘掉|不要理会).{0,12}(指令|指示|规则|提示|要求|设定)"
    r"|你现在是|请你扮演|系统提示|新的指令|只(能|许)?引用|必须回答|一律回答",
    re.I,
)
_SENTENCE = re.compile(r"[^。！？!?；;\n]*?(?:[。！？!?；;\n]|\.(?=\s)|$)")


def neutralize(text: str) -> tuple[str, int]:
    """Text with instruction-like sentences and prompt-imitating markup replaced by a marker; and how many."""
    removed = 0

    def drop(_: re.Match[str]) -> str:
        nonlocal removed
        removed += 1
        return MARKER

    text = _FAKE_MARKUP.sub(drop, text)
    out = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        if sentence and _INSTRUCTION.search(sentence):
            removed += 1
            out.append(MARKER + ("\n" if sentence.endswith("\n") else ""))
        else:
            out.append(sentence)
    return "".join(out), removed


def passage_block(i: int, hit: Hit, limit: int) -> str:
    """A passage as data: the note's own text can neither close the tag nor pose as another passage."""
    text = re.sub(r"</?\s*passage", "‹passage", neutralize(hit.chunk.text[:limit])[0], flags=re.I)
    title = hit.title.replace('"', "'").replace("<", "‹").replace(">", "›")[:120]
    return f'<passage id="{i}" title="{title}" where="{hit.chunk.locator.label()}">\n{text}\n</passage>'
