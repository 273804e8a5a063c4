"""Recommendations and similar notes over HTTP with the real embedder: another user's private notes never appear."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lingxi import Library, Settings
from lingxi.api import ServerConfig, create_app
from lingxi.rec.service import RecService

from reading_fake import ReadingChat

DEMO_REC = Path(__file__).parent.parent / "demo" / "rec"
# private hiking notes of bob's, written to sit right beside alice's hiking history
BOB_PRIVATE = [
    ("bob-hike-a.md", "# 四姑娘山大峰冲顶的私人笔记\n\n从日隆镇出发到大本营，凌晨冲顶四姑娘山大峰，高反明显，头灯和保暖层都要带。\n"),
    ("bob-hike-b.md", "# 武功山露营的帐篷和地钉\n\n武功山山顶风大，露营帐篷要提前订，地钉要用长的。周末徒步的人很多。\n"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("rec-home")
    lib = Library(Settings.load(home, threads=1, embedder="e5"))
    lib.ingest([DEMO_REC / "notes.jsonl"])  # the operator's notes: public
    RecService(lib).import_events([DEMO_REC / "events.csv"])  # alice's and bob's histories among them
    app = create_app(lib, ServerConfig(), chat=ReadingChat())
    keys = {"alice": lib.users().add("alice"), "bob": lib.users().add("bob")}
    client = TestClient(app, raise_server_exceptions=False)
    h = {"Authorization": f"Bearer {keys['bob']}"}
    client.private = []  # type: ignore[attr-defined]
    for name, text in BOB_PRIVATE:
        r = client.post("/v1/files", headers=h, files={"file": (name, text.encode(), "text/markdown")})
        assert r.status_code == 201, r.text
        client.private += r.json()["note_ids"]  # type: ignore[attr-defined]
    client.keys = keys  # type: ignore[attr-defined]
    yield client
    lib.close()


def get(client, who, path):
    r = client.get(path, headers={"Authorization": f"Bearer {client.keys[who]}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_recommendations_see_only_visible_notes(server):
    bob_ids = {it["note_id"] for it in get(server, "bob", "/v1/recommendations?k=30&explore=0")["items"]}
    alice = get(server, "alice", "/v1/recommendations?k=30&explore=0.3")
    alice_ids = {it["note_id"] for it in alice["items"]}
    assert alice["history"] > 0 and len(alice_ids) >= 10
    assert not alice_ids & set(server.private)
    assert set(server.private) & bob_ids  # they are close to bob's hiking history too, so he does get them
    assert all(it["reason"] for it in alice["items"])
    assert any(it["explore"] for it in alice["items"])


def test_similar_notes_see_only_visible_notes(server):
    alice_sim = get(server, "alice", "/v1/notes/r-hike-01/similar?k=20")["items"]
    assert alice_sim and not {it["note_id"] for it in alice_sim} & set(server.private)
    bob_sim = [it["note_id"] for it in get(server, "bob", "/v1/notes/r-hike-01/similar?k=5")["items"]]
    assert set(server.private) & set(bob_sim)
    r = server.get(f"/v1/notes/{server.private[0]}/similar", headers={"Authorization": f"Bearer {server.keys['alice']}"})
    assert r.status_code == 404


def test_new_user_gets_popular_visible_notes(server):
    key = server.app.state.svc.lib.users().add("newcomer")
    r = server.get("/v1/recommendations?k=40", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    ids = [it["note_id"] for it in r.json()["items"]]
    assert r.json()["history"] == 0 and ids and not set(ids) & set(server.private)
