"""The one local LLM as a bounded queue: one job runs, at most ``depth`` wait, the rest are turned away at once.

A job that cannot start within ``wait_s`` gives up too, so no request hangs on the model; both answers carry a
``retry_after`` estimated from how long recent jobs took."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lingxi.errors import Busy


class LLMGate:
    def __init__(self, depth: int = 8, wait_s: float = 60.0) -> None:
        self.depth = depth
        self.wait_s = wait_s
        self._run = threading.Semaphore(1)
        self._lock = threading.Lock()
        self._waiting = 0
        self._running = 0
        self._avg_s = 10.0  # moving average of a job's duration, for Retry-After

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {"waiting": self._waiting, "running": self._running, "depth": self.depth,
                    "avg_job_s": round(self._avg_s, 2)}

    def retry_after(self) -> int:
        with self._lock:
            return max(1, int(self._avg_s * (self._waiting + 1) / 2))

    def admit(self) -> None:
        """Take a place in the queue (raises Busy when it is full). Pair with ``run`` or ``leave``."""
        with self._lock:
            if self._waiting >= self.depth:
                busy = Busy(f"the LLM is busy: {self._waiting} requests are already waiting (queue depth {self.depth})",
                            retry_after=max(1, int(self._avg_s * (self._waiting + 1) / 2)))
                raise busy
            self._waiting += 1

    def leave(self) -> None:
        with self._lock:
            self._waiting -= 1

    @contextmanager
    def run(self) -> Iterator[None]:
        """Wait (after ``admit``) for the model, then hold it for the job."""
        try:
            got = self._run.acquire(timeout=self.wait_s)
        finally:
            self.leave()
        if not got:
            raise Busy(f"the LLM stayed busy for {self.wait_s:.0f}s; try again", retry_after=self.retry_after())
        with self._lock:
            self._running += 1
        t0 = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - t0
            with self._lock:
                self._running -= 1
                self._avg_s = 0.7 * self._avg_s + 0.3 * took
            self._run.release()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """``admit`` then ``run``: a whole job in one statement."""
        self.admit()
        with self.run():
            yield
