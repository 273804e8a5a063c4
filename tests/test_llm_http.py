"""The OpenAI-compatible backend's streaming over real HTTP: a small server on loopback sends server-sent events the
way vLLM and llama.cpp's server do (the real-model check against llama.cpp's server is in test_llm_model.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from lingxi.errors import BackendUnavailable, BadInput
from lingxi.llm.chat import OpenAIChatModel
from lingxi.llm.jsonstream import FieldText

REPLY = '{"answer": "林舟是旅行作家 [1]", "short_answer": "旅行作家"}'


class Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.append(body)
        if body["model"] == "refuse":
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"error": "bad model"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if body["model"] == "garbled":
            self.wfile.write(b"data: {not json\n\n")
            return
        self.wfile.write(b": keep-alive\n\n")
        for i in range(0, len(REPLY), 4):
            event = {"choices": [{"index": 0, "delta": {"content": REPLY[i: i + 4]}}]}
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b'data: {"choices": [], "usage": {"prompt_tokens": 42}}\n\ndata: [DONE]\n\n')


@pytest.fixture(scope="module")
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_a_streamed_reply_arrives_in_pieces_and_parses(base_url):
    chat = OpenAIChatModel(base_url, "served", timeout=5)
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}
    pieces = list(chat.stream([{"role": "user", "content": "hi"}], schema=schema, max_tokens=50))
    assert len(pieces) > 5 and "".join(pieces) == REPLY
    assert chat.parse_json("".join(pieces), schema)["answer"] == "林舟是旅行作家 [1]"
    sent = Handler.requests[-1]
    assert sent["stream"] is True and sent["response_format"]["schema"] == schema and sent["max_tokens"] == 50
    assert chat.calls == 1 and chat.prompt_tokens == 42 and chat.completion_tokens == len(pieces)
    field = FieldText("answer")
    assert "".join(field.feed(p) for p in pieces) == "林舟是旅行作家 [1]"


def test_a_refused_or_garbled_stream_is_a_typed_error(base_url):
    with pytest.raises(BadInput, match="HTTP 400"):
        list(OpenAIChatModel(base_url, "refuse", timeout=5).stream([{"role": "user", "content": "hi"}]))
    with pytest.raises(BackendUnavailable, match="not JSON"):
        list(OpenAIChatModel(base_url, "garbled", timeout=5).stream([{"role": "user", "content": "hi"}]))
