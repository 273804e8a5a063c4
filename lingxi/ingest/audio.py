"""Voice notes, recordings and videos: speech recognised into timed passages, located like SRT cues.

Whisper's segments are merged into passages by the same rules as subtitle cues, so a voice note
is searched, read and cited down to ``00:01:23`` like any transcript. The recording's language,
detected once per file, is kept in the note's meta."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lingxi.errors import NoContent
from lingxi.ingest.base import make_note, stem
from lingxi.ingest.subtitles import Cue, merge_cues
from lingxi.media.asr import SpeechRecognizer
from lingxi.types import Chunk, Locator, Note

AUDIO = (".wav", ".mp3", ".m4a", ".ogg", ".opus", ".flac")
VIDEO = (".mp4", ".webm")
EXTENSIONS = AUDIO + VIDEO


def parse(path: Path, name: str, asr: SpeechRecognizer,
          progress: Callable[[str, float, float], None] | None = None) -> list[Note]:
    transcript = asr.transcribe(path, name, (lambda done, total: progress(name, done, total)) if progress else None)
    cues = [Cue(s.start, s.end, s.text) for s in transcript.segments]
    if not cues:
        raise NoContent(f"{name}: no speech found ({transcript.duration:.1f} s of audio)")
    parts: list[str] = []
    chunks: list[Chunk] = []
    pos = 0
    for start, end, passage in merge_cues(cues):
        chunks.append(Chunk(text=passage,
                            locator=Locator(start_s=start, end_s=end, char_start=pos, char_end=pos + len(passage))))
        parts.append(passage)
        pos += len(passage) + 2
    kind = "video" if Path(name).suffix.lower() in VIDEO else "audio"
    meta = {
        "language": transcript.language,
        "language_probability": round(transcript.language_probability, 3),
        "duration_s": round(transcript.duration, 2),
        "segments": len(cues),
    }
    return [make_note("", stem(name), kind, "\n\n".join(parts), chunks, meta)]
