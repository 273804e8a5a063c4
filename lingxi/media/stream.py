"""Audio decoded in windows, so a long recording never sits in memory whole.

PyAV (FFmpeg) demuxes any container (wav, mp3, m4a, ogg/opus, flac, mp4, webm) and resamples
its first audio track to 16 kHz mono float32. A window closes near ``window_s`` at the quietest
100 ms of its last ``CUT_SEARCH_S`` seconds, so a word is rarely cut in two; the rest carries over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lingxi.errors import BadInput

RATE = 16000
CUT_SEARCH_S = 6.0
FRAME_S = 0.1


def _open(path: Path, name: str) -> Any:
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{name}: not a readable audio or video file ({_reason(e)})") from e
    if not container.streams.audio:
        container.close()
        raise BadInput(f"{name}: has no audio track")
    return container


def _reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).strip() or type(e).__name__


def duration(path: Path, name: str = "") -> float:
    """The duration the container declares, in seconds (0.0 when it declares none)."""
    container = _open(path, name or str(path))
    try:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / 1_000_000
        return 0.0
    finally:
        container.close()


def _quiet_cut(buf: np.ndarray) -> int:
    """Index of the quietest 100 ms frame start within the last CUT_SEARCH_S seconds of buf."""
    frame = int(FRAME_S * RATE)
    lo = max(0, len(buf) - int(CUT_SEARCH_S * RATE))
    tail = buf[lo : lo + (len(buf) - lo) // frame * frame]
    if len(tail) < frame:
        return len(buf)
    energy = (tail.reshape(-1, frame) ** 2).mean(axis=1)
    return lo + int(np.argmin(energy)) * frame + frame // 2


def windows(path: Path, window_s: float = 120.0, name: str = "") -> Iterator[tuple[float, np.ndarray]]:
    """(offset in seconds, samples) for consecutive windows covering the whole recording."""
    import av

    name = name or str(path)
    container = _open(path, name)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    limit = int(window_s * RATE)
    pieces: list[np.ndarray] = []
    held = 0
    offset = 0
    decoded = False
    try:
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    pieces.append(arr)
                    held += len(arr)
                    decoded = True
                while held >= limit:
                    buf = np.concatenate(pieces)
                    cut = _quiet_cut(buf[:limit])
                    yield offset / RATE, buf[:cut]
                    offset += cut
                    rest = buf[cut:]
                    pieces, held = [rest], len(rest)
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        except (av.FFmpegError, ValueError) as e:
            if not decoded:
                raise BadInput(f"{name}: audio cannot be decoded ({_reason(e)})") from e
            raise BadInput(
                f"{name}: audio is damaged after {format(offset / RATE + held / RATE, '.1f')} s ({_reason(e)})"
            ) from e
    finally:
        container.close()
    if not decoded:
        raise BadInput(f"{name}: no audio could be decoded (empty or truncated file)")
    if pieces:
        buf = np.concatenate(pieces)
        if len(buf):
            yield offset / RATE, buf
