"""Fuzz the API from its own OpenAPI document (schemathesis): whatever a client sends, never a 5xx.

Bounded: a fixed number of generated requests per operation, derandomized, over a real store with notes in it.
Requests carry a valid key (so they reach the handlers); the key-less case is covered in test_api.py."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from lingxi import Library, Settings
from lingxi.api import ServerConfig, create_app

from reading_fake import ReadingChat

_home = Path(tempfile.mkdtemp(prefix="lingxi-fuzz-"))
atexit.register(shutil.rmtree, _home, True)
_lib = Library(Settings.load(_home, threads=1, embedder="none"))
_lib.ingest([Path(__file__).parent / "data" / "liquid-post.md"])
_KEY = _lib.users().add("fuzzer")
_lib.ingest_upload("# 私人\n\n只有我知道的事。\n".encode(), "mine.md", "fuzzer")
app = create_app(_lib, ServerConfig(queue_depth=2, queue_wait_s=5, max_upload_bytes=256 * 1024), chat=ReadingChat())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_no_request_gets_a_5xx(case):
    response = case.call(headers={"Authorization": f"Bearer {_KEY}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}"
