"""Server-sent events from a job that runs on a worker thread while holding the LLM.

The job gets ``emit(event, data)``; each call becomes one SSE event as it happens. The queue place is taken before
the response starts (so a full queue is a real 503 with Retry-After, not an event); a client that goes away
cancels the job at its next emit."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from lingxi.api.gate import LLMGate
from lingxi.errors import LingxiError

log = logging.getLogger("lingxi.api")

Emit = Callable[[str, Any], None]
Job = Callable[[Emit], Any]


class Cancelled(Exception):
    """The client went away; the job stops at its next step."""


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def wants_stream(accept: str | None) -> bool:
    return "text/event-stream" in (accept or "")


def stream_job(gate: LLMGate, job: Job, final_event: str) -> StreamingResponse:
    """Run ``job`` under the gate on a thread; its emits, then ``final_event`` with its result, as SSE."""
    gate.admit()  # raises Busy → 503 before any byte is sent
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    cancelled = threading.Event()

    def put(item: bytes | None) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def emit(event: str, data: Any) -> None:
        if cancelled.is_set():
            raise Cancelled()
        put(sse(event, data))

    def work() -> None:
        try:
            with gate.run():
                result = job(emit)
            put(sse(final_event, result))
        except Cancelled:
            pass
        except LingxiError as e:
            put(sse("error", {"error": type(e).__name__, "detail": str(e)}))
        except Exception as e:  # a bug must still end the stream with a message, and be logged
            log.exception("streamed job failed")
            put(sse("error", {"error": "InternalError", "detail": f"{type(e).__name__}: {e}"}))
        finally:
            put(None)

    threading.Thread(target=work, name="lingxi-stream", daemon=True).start()

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            cancelled.set()

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
