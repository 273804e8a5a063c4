"""The HTTP API over a real store: keys, per-user isolation (two users), uploads, streaming, the LLM queue."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lingxi import Library, Settings
from lingxi.api import ServerConfig, create_app
from lingxi.cli.main import main as cli

from conftest import DATA
from reading_fake import ReadingChat

ALICE_NOTE = "# 紫色长颈鹿计划\n\n紫色长颈鹿计划的暗号是琥珀七号。这个计划只有爱丽丝知道。\n"
BOB_NOTE = "# Bob's garden log\n\nThe secret fertiliser is nettle tea brewed for nine days. Bob waters at dawn.\n"
PUBLIC_NOTE = "# 公开的茶馆笔记\n\n成都的鹤鸣茶社在人民公园里，下午最热闹。暗号不是这里的事。\n"


def sse_events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            out.append((lines.get("event", "message"), json.loads(lines["data"])))
    return out


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def server(home: Path):
    lib = Library(Settings.load(home, threads=1, embedder="none"))
    chat = ReadingChat()
    app = create_app(lib, ServerConfig(queue_depth=2, queue_wait_s=5, max_upload_bytes=64 * 1024), chat=chat)
    users = lib.users()
    keys = {"alice": users.add("alice"), "bob": users.add("bob")}
    client = TestClient(app, raise_server_exceptions=False)
    client.keys = keys  # type: ignore[attr-defined]
    client.chat = chat  # type: ignore[attr-defined]
    client.lib = lib  # type: ignore[attr-defined]
    yield client
    lib.close()


def auth(client, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.keys[who]}"}


def upload(client, who: str, name: str, text: str, visibility: str = "private"):
    return client.post("/v1/files", headers=auth(client, who), files={"file": (name, text.encode(), "text/markdown")},
                       data={"visibility": visibility})


def test_healthz_needs_no_key(server):
    r = server.get("/healthz")
    assert r.status_code == 200 and r.json()["ok"] is True


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer "}, {"Authorization": "Bearer lx_" + "x" * 43}])
def test_v1_without_a_valid_key_is_401(server, headers):
    for method, path in [("get", "/v1/notes"), ("get", "/v1/search?q=x"), ("post", "/v1/ask"), ("get", "/v1/memories"),
                         ("post", "/v1/chat/completions"), ("get", "/ui/search?q=x")]:
        r = getattr(server, method)(path, headers=headers)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["error"] == "Unauthorized"


def test_users_cli_keys_are_hashed_and_revocable(home: Path, capsys):
    assert cli(["--home", str(home), "users", "add", "carol", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["user"] == "carol" and out["key"].startswith("lx_") and len(out["key"]) > 40
    raw = (home / "lingxi.db").read_bytes()
    assert out["key"].encode() not in raw  # only its hash is stored
    lib = Library(Settings.load(home, threads=1, embedder="none"))
    client = TestClient(create_app(lib, chat=ReadingChat()))
    h = {"Authorization": f"Bearer {out['key']}"}
    assert client.get("/v1/me", headers=h).json() == {"user": "carol"}
    assert cli(["--home", str(home), "users", "add", "carol"]) == 1  # already exists
    assert cli(["--home", str(home), "users", "list", "--json"]) == 0
    capsys.readouterr()
    assert cli(["--home", str(home), "users", "revoke", "carol"]) == 0
    assert client.get("/v1/me", headers=h).status_code == 401
    assert cli(["--home", str(home), "users", "add", "bad name!"]) == 1
    lib.close()


def test_upload_then_isolation_in_notes_and_search(server):
    r = upload(server, "alice", "giraffe.md", ALICE_NOTE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "ingested" and body["notes"] == 1 and body["visibility"] == "private"
    alice_note = body["note_ids"][0]
    assert upload(server, "alice", "giraffe.md", ALICE_NOTE).json()["status"] == "unchanged"
    bob_note = upload(server, "bob", "garden.md", BOB_NOTE).json()["note_ids"][0]
    pub = upload(server, "bob", "teahouse.md", PUBLIC_NOTE, visibility="public").json()["note_ids"][0]

    def ids(who, path):
        return [n["id"] for n in server.get(path, headers=auth(server, who)).json()["notes"]]

    assert sorted(ids("alice", "/v1/notes")) == sorted([alice_note, pub])
    assert sorted(ids("bob", "/v1/notes")) == sorted([bob_note, pub])
    assert ids("bob", "/v1/notes?mine=true") == [bob_note, pub] or sorted(ids("bob", "/v1/notes?mine=true")) == sorted([bob_note, pub])
    # another user's private note is as missing as one that never existed
    assert server.get(f"/v1/notes/{alice_note}", headers=auth(server, "bob")).status_code == 404
    got = server.get(f"/v1/notes/{alice_note}", headers=auth(server, "alice")).json()
    assert got["owner"] == "alice" and got["visibility"] == "private" and "琥珀七号" in got["body"]

    def found(who, q):
        r = server.get("/v1/search", params={"q": q}, headers=auth(server, who))
        assert r.status_code == 200, r.text
        return [h["note_id"] for h in r.json()["hits"]]

    assert alice_note in found("alice", "紫色长颈鹿 暗号")
    assert alice_note not in found("bob", "紫色长颈鹿 暗号")
    assert found("bob", "nettle fertiliser") == [bob_note]
    assert found("alice", "nettle fertiliser") == []
    assert pub in found("alice", "鹤鸣茶社") and pub in found("bob", "鹤鸣茶社")
    hit = server.get("/v1/search", params={"q": "鹤鸣茶社"}, headers=auth(server, "alice")).json()["hits"][0]
    assert "【鹤鸣】【茶社】" in hit["snippet"]

    # deleting: owner only
    assert server.delete(f"/v1/notes/{pub}", headers=auth(server, "alice")).status_code == 403
    assert server.delete(f"/v1/notes/{alice_note}", headers=auth(server, "bob")).status_code == 404
    assert server.delete(f"/v1/notes/{pub}", headers=auth(server, "bob")).json() == {"deleted": pub}
    assert found("alice", "鹤鸣茶社") == []


def test_bad_uploads_are_4xx_and_leave_the_store_as_it_was(server):
    upload(server, "alice", "giraffe.md", ALICE_NOTE)
    before = server.lib.stats()
    r = server.post("/v1/files", headers=auth(server, "alice"),
                    files={"file": ("broken.srt", b"1\nnot a time line\nhello\n", "text/plain")})
    assert r.status_code == 400 and r.json()["error"] == "BadInput"
    assert "broken.srt" in r.json()["detail"]
    r = server.post("/v1/files", headers=auth(server, "alice"),
                    files={"file": ("photo.bin", bytes(range(256)) * 4, "application/octet-stream")})
    assert r.status_code == 400, r.text
    r = server.post("/v1/files", headers=auth(server, "alice"),
                    files={"file": ("big.md", b"# big\n\n" + b"x" * (64 * 1024 + 1), "text/markdown")})
    assert r.status_code == 413 and r.json()["error"] == "TooLarge"
    r = server.post("/v1/files", headers=auth(server, "alice"),  # refused on its declared size, before reading
                    files={"file": ("huge.md", b"x" * (64 * 1024 + (1 << 20) + 1), "text/markdown")})
    assert r.status_code == 413 and "limit is 65536 bytes" in r.json()["detail"]
    r = server.post("/v1/files", headers=auth(server, "alice"), files={"file": ("a.md", b"# a\n\nb\n", "text/markdown")},
                    data={"visibility": "secret"})
    assert r.status_code == 422 and "visibility" in r.json()["detail"]
    assert server.post("/v1/files", headers=auth(server, "alice")).status_code == 422  # no file
    after = server.lib.stats()
    assert {k: after[k] for k in ("files", "notes", "chunks")} == {k: before[k] for k in ("files", "notes", "chunks")}


def test_upload_takes_real_formats(server):
    r = server.post("/v1/files", headers=auth(server, "alice"),
                    files={"file": ("photosynthesis-class.srt", (DATA / "photosynthesis-class.srt").read_bytes(), "text/plain")})
    assert r.status_code == 201 and r.json()["format"] == "srt"
    hits = server.get("/v1/search", params={"q": "叶绿素 吸收 红光"}, headers=auth(server, "alice")).json()["hits"]
    assert hits and hits[0]["locator"]["label"].startswith("00:")


def test_search_says_what_grouping_by_note_folded(server):
    long_note = "# 茶馆长文\n\n" + "\n\n".join(
        f"## 第{i}节\n\n盖碗茶第{i}种喝法：先闻香，再看汤色，最后慢慢品，茶馆里的人这样说了很多年。" + "别的话题。" * 40
        for i in range(1, 9))
    upload(server, "alice", "teahouse-long.md", long_note)
    h = auth(server, "alice")
    one = server.get("/v1/search", params={"q": "盖碗茶 喝法", "k": 5}, headers=h).json()
    assert len(one["hits"]) == 1 and len(one["notes"]) == 1
    g = one["grouping"]
    assert g["per_note"] == 1 and g["passages_grouped"] >= 1 and "grouped" in g["summary"]
    assert one["notes"][0]["grouped"] == g["passages_grouped"]
    more = server.get("/v1/search", params={"q": "盖碗茶 喝法", "k": 5, "per_note": 0}, headers=h).json()
    assert len(more["hits"]) > 1 and more["grouping"]["passages_grouped"] == 0
    assert more["hits"][0]["chunk_id"] == one["hits"][0]["chunk_id"]  # the best passage stays first either way
    page = server.get("/ui/search", params={"q": "盖碗茶 喝法"}, headers=h)
    assert page.status_code == 200 and "grouped" in page.text


def test_ask_cannot_read_or_cite_another_users_private_note(server):
    upload(server, "alice", "giraffe.md", ALICE_NOTE)
    upload(server, "bob", "teahouse.md", PUBLIC_NOTE, visibility="public")
    r = server.post("/v1/ask", json={"question": "紫色长颈鹿计划的暗号是什么？"}, headers=auth(server, "alice"))
    assert r.status_code == 200, r.text
    ans = r.json()
    assert "琥珀七号" in ans["answer"] and ans["citations"][0]["title"] == "紫色长颈鹿计划"
    assert [s["kind"] for s in ans["steps"]][:2] == ["plan", "search"]
    server.chat.sent.clear()
    ans = server.post("/v1/ask", json={"question": "紫色长颈鹿计划的暗号是什么？"}, headers=auth(server, "bob")).json()
    assert all(c["title"] != "紫色长颈鹿计划" for c in ans["citations"])
    assert "琥珀七号" not in ans["answer"]
    prompts = "".join(m["content"] for msgs in server.chat.sent for m in msgs)
    assert "琥珀七号" not in prompts  # the agent never read it
    for s in ans["steps"]:
        assert "琥珀七号" not in json.dumps(s, ensure_ascii=False)


def test_ask_streams_each_step_then_the_answer(server):
    upload(server, "alice", "giraffe.md", ALICE_NOTE)
    with server.stream("POST", "/v1/ask", json={"question": "紫色长颈鹿计划的暗号是什么？"},
                       headers={**auth(server, "alice"), "Accept": "text/event-stream"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"step", "token"} and kinds.count("step") >= 4
    final = events[-1][1]
    assert [s["kind"] for s in final["steps"]] == [d["kind"] for e, d in events[:-1] if e == "step"]
    assert final["citations"] and "琥珀七号" in final["answer"]
    # the answer step's text arrived as tokens while it was written, before its draft step
    draft = next(s for s in final["steps"] if s["kind"] == "draft")
    assert "".join(d["text"] for e, d in events if e == "token") == draft["answer"]
    assert kinds.index("token") < [d.get("kind") for _, d in events].index("draft")


def test_chat_memories_and_history_belong_to_one_user(server):
    r = server.post("/v1/chat", json={"persona": "pet", "message": "我养的猫叫南瓜。"}, headers=auth(server, "alice"))
    assert r.status_code == 200, r.text
    assert r.json()["reply"].startswith("I hear you")
    mems = server.get("/v1/memories", headers=auth(server, "alice")).json()["memories"]
    assert mems and any("南瓜" in m["text"] for m in mems)
    assert server.get("/v1/memories", headers=auth(server, "bob")).json()["memories"] == []
    hist = server.get("/v1/chat/history?persona=pet", headers=auth(server, "alice")).json()["turns"]
    assert [t["speaker"] for t in hist] == ["user", "persona"] and hist[0]["text"] == "我养的猫叫南瓜。"
    assert server.get("/v1/chat/history?persona=pet", headers=auth(server, "bob")).json()["turns"] == []
    mid = mems[0]["id"]
    assert server.delete(f"/v1/memories/{mid}", headers=auth(server, "bob")).status_code == 404
    assert server.delete(f"/v1/memories/{mid}", headers=auth(server, "alice")).json()["forgotten"]["id"] == mid
    left = [m["id"] for m in server.get("/v1/memories", headers=auth(server, "alice")).json()["memories"]]
    assert mid not in left
    # streamed: tokens, then the reply
    with server.stream("POST", "/v1/chat", json={"persona": "pet", "message": "hello there"},
                       headers={**auth(server, "bob"), "Accept": "text/event-stream"}) as r:
        events = sse_events(r.read().decode())
    assert [e for e, _ in events].count("token") >= 2 and events[-1][0] == "reply"
    assert "".join(d["text"] for e, d in events if e == "token").strip() == events[-1][1]["reply"]
    assert server.post("/v1/chat", json={"persona": "nobody", "message": "hi"}, headers=auth(server, "bob")).status_code == 400


def test_memory_edit_is_the_callers_and_keeps_history(server):
    h = auth(server, "alice")
    assert server.post("/v1/chat", json={"persona": "pet", "message": "我养的猫叫南瓜。"}, headers=h).status_code == 200
    server.app.state.svc.companions[("alice", "pet")].flush("alice")
    mid = server.get("/v1/memories", headers=h).json()["memories"][0]["id"]
    assert server.patch(f"/v1/memories/{mid}", json={"text": "用户的猫叫小南瓜"}, headers=auth(server, "bob")).status_code == 404
    assert server.patch(f"/v1/memories/{mid}", json={}, headers=h).status_code == 400
    assert server.patch(f"/v1/memories/{mid}", json={"importance": 11}, headers=h).status_code == 422
    new = server.patch(f"/v1/memories/{mid}", json={"text": "用户的猫叫小南瓜"}, headers=h).json()["memory"]
    assert new["id"] != mid and new["text"] == "用户的猫叫小南瓜"
    shown = {m["id"]: m for m in server.get("/v1/memories", headers=h).json()["memories"]}
    assert new["id"] in shown and mid not in shown  # the old version is history, not a current memory
    readable = server.get("/v1/memories?excerpts=false", headers=h).json()["memories"]
    assert "observation" in {m["kind"] for m in shown.values()}
    assert [m["id"] for m in readable] == [i for i, m in shown.items() if m["kind"] != "observation"]
    shared = server.patch(f"/v1/memories/{new['id']}", json={"scope": "shared"}, headers=h).json()["memory"]
    assert shared["id"] == new["id"] and shared["scope"] != "pet"


def test_chat_voice_hears_and_speaks(server, tmp_path):
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed")
    from lingxi.media import tts

    speech = tts.voice("piper:en_US-joe-medium").synthesize("My dog is called Biscuit and she loves the beach.")
    wav = speech.save(tmp_path / "q.wav").read_bytes()
    h = auth(server, "alice")
    r = server.post("/v1/chat/voice", headers=h, files={"audio": ("q.wav", wav, "audio/wav")}, data={"persona": "pet"})
    assert r.status_code == 413  # the fixture's 64 KiB upload limit holds for audio too
    import dataclasses

    svc = server.app.state.svc
    svc.config = dataclasses.replace(svc.config, max_upload_bytes=4 << 20)
    r = server.post("/v1/chat/voice", headers=h, files={"audio": ("q.wav", wav, "audio/wav")}, data={"persona": "pet"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["heard"]["lang"] == "en" and "biscuit" in out["heard"]["text"].lower()
    assert out["reply"].startswith("I hear you")
    import base64
    import io
    import wave

    with wave.open(io.BytesIO(base64.b64decode(out["audio_wav_base64"]))) as w:
        assert w.getnchannels() == 1 and w.getnframes() / w.getframerate() > 0.5
    bad = server.post("/v1/chat/voice", headers=h, files={"audio": ("q.txt", b"hello", "text/plain")})
    assert bad.status_code == 400 and "not an audio file" in bad.json()["detail"]
    junk = server.post("/v1/chat/voice", headers=h, files={"audio": ("q.wav", b"RIFF0000junk", "audio/wav")})
    assert junk.status_code == 400, junk.text


def test_events_belong_to_the_caller(server):
    pub = upload(server, "bob", "teahouse.md", PUBLIC_NOTE, visibility="public").json()["note_ids"][0]
    secret = upload(server, "alice", "giraffe.md", ALICE_NOTE).json()["note_ids"][0]
    r = server.post("/v1/events", json={"note_id": pub, "action": "like"}, headers=auth(server, "alice"))
    assert r.status_code == 200 and r.json()["recorded"] is True and r.json()["user"] == "alice"
    assert server.post("/v1/events", json={"note_id": secret, "action": "view"}, headers=auth(server, "bob")).status_code == 404
    assert server.post("/v1/events", json={"note_id": pub, "action": "stare"}, headers=auth(server, "bob")).status_code == 400
    assert [e["note_id"] for e in server.get("/v1/events", headers=auth(server, "alice")).json()["events"]] == [pub]
    assert server.get("/v1/events", headers=auth(server, "bob")).json()["events"] == []


def test_openai_compatible_completions(server):
    upload(server, "alice", "giraffe.md", ALICE_NOTE)
    models = [m["id"] for m in server.get("/v1/models", headers=auth(server, "alice")).json()["data"]]
    assert models[0] == "lingxi-agent" and "lingxi-pet" in models
    req = {"model": "lingxi-agent", "messages": [{"role": "user", "content": "紫色长颈鹿计划的暗号是什么？"}]}
    r = server.post("/v1/chat/completions", json=req, headers=auth(server, "alice"))
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["message"]["content"]
    assert "琥珀七号" in text and "[1] 紫色长颈鹿计划" in text
    bob = server.post("/v1/chat/completions", json=req, headers=auth(server, "bob")).json()
    assert "琥珀七号" not in bob["choices"][0]["message"]["content"]
    with server.stream("POST", "/v1/chat/completions", json={**req, "stream": True}, headers=auth(server, "alice")) as r:
        lines = [ln for ln in r.read().decode().split("\n\n") if ln.strip()]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln.removeprefix("data: ")) for ln in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == text
    pet = server.post("/v1/chat/completions", headers=auth(server, "alice"),
                      json={"model": "lingxi-pet", "messages": [{"role": "user", "content": "hi"}]}).json()
    assert pet["choices"][0]["message"]["content"].startswith("I hear you")
    bad = server.post("/v1/chat/completions", json={**req, "model": "gpt-4"}, headers=auth(server, "alice"))
    assert bad.status_code == 400 and "lingxi-agent" in bad.json()["detail"]


def test_llm_queue_turns_requests_away_with_retry_after(home: Path):
    lib = Library(Settings.load(home, threads=1, embedder="none"))
    chat = ReadingChat(delay=0.5)
    app = create_app(lib, ServerConfig(queue_depth=1, queue_wait_s=30), chat=chat)
    key = lib.users().add("alice")
    client = TestClient(app, raise_server_exceptions=False)
    h = {"Authorization": f"Bearer {key}"}
    results: list[int] = []

    def call() -> None:
        results.append(client.post("/v1/chat", json={"persona": "pet", "message": "hi"}, headers=h).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    gate, deadline = app.state.svc.gate, time.time() + 20
    while gate.stats()["waiting"] < 1 and time.time() < deadline:  # on a loaded machine the threads arrive late
        time.sleep(0.01)
    busy = client.post("/v1/chat", json={"persona": "pet", "message": "hi"}, headers=h)
    for t in threads:
        t.join()
    assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1 and busy.json()["error"] == "Busy"
    assert results.count(200) >= 2 and set(results) <= {200, 503}
    # a wait longer than the limit gives up instead of hanging
    app2 = create_app(lib, ServerConfig(queue_depth=4, queue_wait_s=0.2), chat=ReadingChat(delay=1.5))
    c2 = TestClient(app2, raise_server_exceptions=False)
    slow = threading.Thread(target=lambda: c2.post("/v1/chat", json={"persona": "pet", "message": "a"}, headers=h))
    slow.start()
    time.sleep(0.5)
    t0 = time.time()
    r = c2.post("/v1/chat", json={"persona": "pet", "message": "b"}, headers=h)
    waited = time.time() - t0
    slow.join()
    assert r.status_code == 503 and 0.2 <= waited < 1.2 and "busy" in r.json()["detail"]
    lib.close()


def test_validation_errors_are_json_4xx(server):
    h = auth(server, "alice")
    assert server.get("/v1/search", headers=h).status_code == 422
    assert server.get("/v1/search?q=x&k=0", headers=h).status_code == 422
    r = server.get("/v1/search?q=x&mode=fuzzy", headers=h)
    assert r.status_code == 400 and "fuzzy" in r.json()["detail"]
    r = server.get("/v1/search?q=x&mode=dense", headers=h)  # this store has no embedder
    assert r.status_code == 400 and "embedder" in r.json()["detail"]
    assert server.post("/v1/ask", json={}, headers=h).status_code == 422
    assert server.post("/v1/ask", content=b"not json", headers={**h, "Content-Type": "application/json"}).status_code == 422
    assert server.get("/v1/notes/nope", headers=h).status_code == 404


def test_lingxi_serve_runs_as_a_process(home: Path):
    import os
    import subprocess
    import sys
    import urllib.request

    from conftest import free_port, wait_http

    env = {**os.environ, "LINGXI_EMBEDDER": "none",
           "PYTHONPATH": str(Path(__file__).parent.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lingxi", "--home", str(home), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/?lang=zh").read().decode()
        assert "灵犀" in page and "/static/htmx.min.js" in page
        spec = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json").read())
        assert {"/v1/search", "/v1/ask", "/v1/files", "/v1/chat/completions"} <= set(spec["paths"])
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/notes")
            raise AssertionError("expected 401")
        except urllib.error.HTTPError as e:
            assert e.code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert b"lingxi users add NAME" in err  # it says how to make the first user


def test_a_store_from_before_owners_opens_with_its_notes_public(tmp_path: Path):
    import sqlite3

    from lingxi.index.store import SCHEMA, NoteStore

    db = tmp_path / "lingxi.db"
    old = sqlite3.connect(db)
    old.executescript(SCHEMA)  # the version-1 tables, without owner/visibility
    old.execute("INSERT INTO files(path, sha256, format, parser_version, size) VALUES ('/a.md', 'x', 'markdown', '1', 1)")
    old.execute("INSERT INTO notes(id, file_path, ord, title, kind, body, meta) VALUES ('n1', '/a.md', 0, 'A', 'markdown', 'b', '{}')")
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    store = NoteStore(db)
    assert store.access("n1") == (None, "public")
    assert store.list_notes(viewer="anyone")[0]["id"] == "n1"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 2
    store.close()
