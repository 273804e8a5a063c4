from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lingxi import Library, Settings

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parent.parent / "demo" / "corpus"
SHARED = Path(__file__).parent.parent.parent / "shared" / "data"


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    library = Library(Settings.load(tmp_path / "home", threads=1))
    yield library
    library.close()


@pytest.fixture(scope="module")
def demo_lib(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """The demo corpus ingested once per test module (real store, tokenizer, BM25, embeddings and fusion)."""
    lib = Library(Settings.load(tmp_path_factory.mktemp("demo-home"), threads=1))
    lib.ingest([DEMO])
    yield lib
    lib.close()


def shared_file(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"shared data {p} not present (expected beside the repo in ../shared/data)")
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, seconds: float = 60.0) -> None:
    """Poll ``url`` until a real server on loopback answers."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server at {url} did not come up in {seconds}s")
