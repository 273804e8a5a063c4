"""JSON over HTTP for the OpenAI-compatible backends: timeouts, retries with backoff, typed errors."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from lingxi.errors import BackendUnavailable, BadInput

T = TypeVar("T")


def check_base_url(url: str, what: str) -> str:
    """A server base URL without its trailing slash; BadInput when it is not http(s)."""
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"{what} base URL {url!r} must start with http:// or https://")
    return url.rstrip("/")


def _request(url: str, payload: dict[str, Any], api_key: str | None, accept: str) -> urllib.request.Request:
    headers = {"Content-Type": "application/json", "Accept": accept}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")


def _retrying(attempt: Callable[[], T], url: str, what: str, retries: int) -> T:
    """``attempt()``, retried on connection errors, timeouts, 429 and 5xx with exponential backoff. A 4xx other than
    429 is the caller's fault and raises BadInput at once; running out of tries raises BackendUnavailable naming
    ``what`` (e.g. "LLM server") and the URL."""
    last: Exception | None = None
    for n in range(retries + 1):
        try:
            return attempt()
        except urllib.error.HTTPError as e:
            if e.code < 500 and e.code != 429:
                raise BadInput(f"{url} rejected the request: HTTP {e.code} {e.read()[:300]!r}") from e
            last = e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            last = e
        if n < retries:
            time.sleep(min(8.0, 0.5 * 2**n))
    raise BackendUnavailable(f"{what} {url} unreachable after {retries + 1} tries: {last}")


def post_events(url: str, payload: dict[str, Any], *, api_key: str | None, timeout: float, retries: int,
                what: str) -> Iterator[dict[str, Any]]:
    """POST ``payload`` and read the reply as server-sent events: each ``data:`` line's JSON, until ``[DONE]``.
    Connecting is retried as in ``post_json``; once events have come, a broken stream raises BackendUnavailable
    (what was already yielded cannot be taken back)."""
    req = _request(url, payload, api_key, "text/event-stream")
    with _retrying(lambda: urllib.request.urlopen(req, timeout=timeout), url, what, retries) as resp:
        try:
            for raw in resp:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue  # comments, event names, keep-alives
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    yield json.loads(data)
                except json.JSONDecodeError as e:
                    raise BackendUnavailable(f"{what} {url} sent an event that is not JSON: {data[:200]!r}") from e
        except (TimeoutError, ConnectionError, urllib.error.URLError) as e:
            raise BackendUnavailable(f"{what} {url} broke off its stream: {e}") from e


def post_json(url: str, payload: dict[str, Any], *, api_key: str | None, timeout: float, retries: int,
              what: str) -> dict[str, Any]:
    """POST ``payload`` and read the JSON reply, retried as ``_retrying`` says (reading included)."""
    req = _request(url, payload, api_key, "application/json")

    def attempt() -> dict[str, Any]:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    return _retrying(attempt, url, what, retries)
