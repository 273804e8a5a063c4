"""JSON over HTTP for the OpenAI-compatible backends: timeouts, retries with backoff, typed errors."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from lingxi.errors import BackendUnavailable, BadInput


def check_base_url(url: str, what: str) -> str:
    """A server base URL without its trailing slash; BadInput when it is not http(s)."""
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"{what} base URL {url!r} must start with http:// or https://")
    return url.rstrip("/")


def post_events(url: str, payload: dict[str, Any], *, api_key: str | None, timeout: float, retries: int,
                what: str) -> Iterator[dict[str, Any]]:
    """POST ``payload`` and read the reply as server-sent events: each ``data:`` line's JSON, until ``[DONE]``.
    Connecting is retried as in ``post_json``; once events have come, a broken stream raises BackendUnavailable
    (what was already yielded cannot be taken back)."""
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = json.dumps(payload).encode()
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            resp = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            if e.code < 500 and e.code != 429:
                raise BadInput(f"{url} rejected the request: HTTP {e.code} {e.read()[:300]!r}") from e
            last = e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            last = e
        else:
            with resp:
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
            return
        if attempt < retries:
            time.sleep(min(8.0, 0.5 * 2**attempt))
    raise BackendUnavailable(f"{what} {url} unreachable after {retries + 1} tries: {last}")


def post_json(url: str, payload: dict[str, Any], *, api_key: str | None, timeout: float, retries: int,
              what: str) -> dict[str, Any]:
    """POST ``payload``; retry connection errors, timeouts, 429 and 5xx with exponential backoff.

    A 4xx other than 429 is the caller's fault and raises BadInput at once; running out of
    tries raises BackendUnavailable naming ``what`` (e.g. "LLM server") and the URL."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = json.dumps(payload).encode()
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as e:
            if e.code < 500 and e.code != 429:
                raise BadInput(f"{url} rejected the request: HTTP {e.code} {e.read()[:300]!r}") from e
            last = e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            last = e
        if attempt < retries:
            time.sleep(min(8.0, 0.5 * 2**attempt))
    raise BackendUnavailable(f"{what} {url} unreachable after {retries + 1} tries: {last}")
