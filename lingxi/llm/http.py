"""JSON over HTTP for the OpenAI-compatible backends: timeouts, retries with backoff, typed errors."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from lingxi.errors import BackendUnavailable, BadInput


def check_base_url(url: str, what: str) -> str:
    """A server base URL without its trailing slash; BadInput when it is not http(s)."""
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"{what} base URL {url!r} must start with http:// or https://")
    return url.rstrip("/")


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
