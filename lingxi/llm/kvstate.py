"""A local model's context after a fixed prefix of messages (a system prompt, a planner's instructions and
examples), kept on disk and read back by a later process instead of evaluating the prefix again.

A file holds the prefix's tokens and llama.cpp's state after them (the key/value cache of those positions, a few
hundred kB per 10 tokens for the bundled 1.5B). It is named by a hash of the model file, the context size, the
llama.cpp binding's version and the tokens, and read back only when its tokens are the ones wanted; one that does
not read back whole is removed, and the prefix is evaluated as if there were none. The state read back is the one
the evaluation wrote, so a reply after it is the reply after an evaluation."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import struct
from pathlib import Path
from typing import Any

MAGIC = b"LXKV1\n"
KEEP = 32  # files kept in the folder; older ones are removed when a new one is written


def state_path(folder: Path, model_path: Path, context: int, tokens: tuple[int, ...]) -> Path:
    import llama_cpp

    st = model_path.stat()
    h = hashlib.sha256(f"{model_path.name}:{st.st_size}:{llama_cpp.__version__}:{context}:".encode())
    h.update(struct.pack(f"<{len(tokens)}i", *tokens))
    return folder / f"{h.hexdigest()[:32]}.kv"


def save(llm: Any, path: Path, tokens: tuple[int, ...]) -> None:
    """The context's state, which must hold exactly ``tokens``, written to ``path`` (atomically)."""
    import llama_cpp

    size = int(llama_cpp.llama_state_get_size(llm._ctx.ctx))
    buf = (ctypes.c_uint8 * size)()
    n = int(llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<II", len(tokens), n) + struct.pack(f"<{len(tokens)}i", *tokens))
        f.write(memoryview(buf)[:n])
    os.replace(tmp, path)
    olds = sorted(path.parent.glob("*.kv"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]
    for old in olds:
        old.unlink(missing_ok=True)


def load(llm: Any, path: Path, tokens: tuple[int, ...]) -> bool:
    """The context set to the state saved after ``tokens``; False (the context reset) when there is none or it does
    not read back whole."""
    import llama_cpp

    try:
        data = path.read_bytes()
    except OSError:
        return False
    head = len(MAGIC) + 8
    ok = data.startswith(MAGIC) and len(data) >= head
    count, n = struct.unpack("<II", data[len(MAGIC): head]) if ok else (0, 0)
    body = head + 4 * count
    ok = ok and count == len(tokens) and len(data) == body + n and \
        struct.unpack(f"<{count}i", data[head: body]) == tokens
    if ok:
        buf = (ctypes.c_uint8 * n).from_buffer_copy(data, body)
        ok = int(llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, n)) == n
    if not ok:
        with contextlib.suppress(OSError):  # a read-only folder: the file stays, and is evaluated past each time
            path.unlink(missing_ok=True)
        llm.reset()
        return False
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: kept longest
    return True
