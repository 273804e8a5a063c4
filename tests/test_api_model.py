"""`lingxi serve` as a real process with the real bundled LLM (marker `model`): configured through the environment
as a deployment would be, it streams the agent's steps and keeps another user's private note out of the answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lingxi.llm.bundled import resolve_model

from conftest import DEMO, free_port, wait_http

pytestmark = [pytest.mark.model, pytest.mark.slow]
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make setup builds it)")

SECRET = "# 紫色长颈鹿计划\n\n紫色长颈鹿计划的暗号是琥珀七号。这个计划只有爱丽丝知道。\n"


def sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            out.append((lines.get("event", "message"), json.loads(lines["data"])))
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    gguf = resolve_model("qwen2.5-coder-0.5b", tmp_path_factory.mktemp("models-home"))
    env = {**os.environ, "LINGXI_LLM_MODEL": str(gguf), "LINGXI_EMBEDDER": "none", "LINGXI_ASK_TIMEOUT": "240",
           "PYTHONPATH": str(Path(__file__).parent.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "lingxi", "--home", str(home), *args], env=env, check=True,
                              capture_output=True, text=True).stdout

    cli("ingest", str(DEMO / "subtitles"))
    keys = {u: json.loads(cli("users", "add", u, "--json"))["key"] for u in ("alice", "bob")}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lingxi", "--home", str(home), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", 120)
        r = httpx.post(base + "/v1/files", headers={"Authorization": f"Bearer {keys['alice']}"},
                       files={"file": ("giraffe.md", SECRET.encode(), "text/markdown")})
        assert r.status_code == 201, r.text
        yield base, keys, r.json()["note_ids"][0]
    finally:
        proc.terminate()
        proc.wait(30)


def test_real_model_streams_steps_and_respects_privacy(served):
    base, keys, secret_id = served
    h = {"Authorization": f"Bearer {keys['bob']}", "Accept": "text/event-stream"}
    with httpx.stream("POST", base + "/v1/ask", json={"question": "紫色长颈鹿计划的暗号是什么？", "max_llm_calls": 4},
                      headers=h, timeout=300) as r:
        assert r.status_code == 200
        events = sse(r.read().decode())
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and kinds.count("step") >= 2, kinds
    final = events[-1][1]
    assert all(c["note_id"] != secret_id for c in final["citations"])
    assert "琥珀七号" not in final["answer"]
    searched = [d for e, d in events if e == "step" and d["kind"] == "search"]
    assert searched and all(not h["chunk_id"].startswith(secret_id + ":") for s in searched for h in s["hits"])


def test_real_model_answers_openai_clients(served):
    base, keys, _ = served
    r = httpx.post(base + "/v1/chat/completions", headers={"Authorization": f"Bearer {keys['alice']}"}, timeout=300,
                   json={"model": "lingxi-pet", "messages": [{"role": "user", "content": "你好，我叫小明。"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].strip()
