"""Recommendation: events import, pair mining, encoder training, recommend/similar, exploration."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lingxi import Library
from lingxi.errors import BadInput, NotFound
from lingxi.rec.encoder import Encoder, TrainConfig, info_nce, train
from lingxi.rec.events import Event, read_events
from lingxi.rec.explore import CoEngagementProposer, LLMProposer, Taxonomy, fill
from lingxi.rec.features import Item
from lingxi.rec.pairs import mine_pairs
from lingxi.rec.recommend import ItemCF, RecConfig, Recommender, interests, recency_weights
from lingxi.rec.service import RecService

from fakes import ScriptedChat

DEMO_REC = Path(__file__).parent.parent / "demo" / "rec"


# --- events -----------------------------------------------------------------------------------------
def test_events_csv_bad_rows_reported_good_rows_kept(lib: Library, tmp_path: Path) -> None:
    lib.ingest([DEMO_REC / "notes.jsonl"])
    f = tmp_path / "ev.csv"
    f.write_text("user,note,action,timestamp\n"
                 "u1,r-hike-01,like,2026-01-02T10:00:00\n"
                 "u1,r-hike-02,teleport,1767225600\n"      # line 3: bad action
                 "u1,no-such-note,view,1767225600\n"        # line 4: unknown note
                 "u2,r-food-01,view,yesterday\n"            # line 5: bad time
                 ",r-food-01,view,1767225600\n"             # line 6: no user
                 "u2,r-food-01,share,1767225601\n")
    svc = RecService(lib)
    [rep] = svc.import_events([f])
    assert rep.rows == 6 and rep.imported == 2
    assert [n for n, _ in rep.errors] == [3, 4, 5, 6]
    assert "teleport" in rep.errors[0][1] and "no-such-note" in rep.errors[1][1]
    assert "yesterday" in rep.errors[2][1] and "user" in rep.errors[3][1]
    [again] = svc.import_events([f])  # idempotent
    assert again.imported == 0 and again.duplicates == 2
    assert lib.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2


def test_events_jsonl_and_header_errors(tmp_path: Path) -> None:
    good, bad, rows = read_events(b'{"user": "a", "note": "n1", "action": "LIKE", "timestamp": 5}\n[1,2]\n{bad\n',
                                  "x.jsonl")
    assert rows == 3 and good[0][1] == Event("a", "n1", "like", 5.0)
    assert [n for n, _ in bad] == [2, 3]
    with pytest.raises(BadInput, match="missing action"):
        read_events(b"user,note,timestamp\nu,n,1\n", "x.csv")


# --- pairs ------------------------------------------------------------------------------------------
def test_pair_mining_exact() -> None:
    evs = [Event("u1", "a", "view", 1), Event("u1", "b", "like", 2), Event("u1", "c", "view", 3),
           Event("u1", "a", "share", 4),  # repeat engagement: same note, no new pair
           Event("u2", "b", "view", 1), Event("u2", "a", "view", 2),
           Event("u3", "c", "view", 1)]  # a single note: no pairs
    w3, w2 = 1 / math.log2(5), 1 / math.log2(4)
    assert mine_pairs(evs, window=10) == pytest.approx({("a", "b"): w3 + w2, ("a", "c"): w3, ("b", "c"): w3})
    # window 1: only neighbours in time
    assert mine_pairs(evs, window=1) == pytest.approx({("a", "b"): w3 + w2, ("b", "c"): w3})


# --- encoder ----------------------------------------------------------------------------------------
def _planted(seed: int = 1) -> tuple[np.ndarray, list[tuple[int, int, float]], np.ndarray]:
    """Features whose first block is noise and whose second block carries the cluster: pairs share a cluster."""
    rng = np.random.default_rng(seed)
    n, k = 200, 5
    cluster = rng.integers(0, k, n)
    centres = rng.normal(size=(k, 16))
    x = np.hstack([rng.normal(size=(n, 16)), centres[cluster] + 0.3 * rng.normal(size=(n, 16))]).astype(np.float32)
    pairs = [(int(i), int(j), 1.0) for i in range(n) for j in range(i + 1, n) if cluster[i] == cluster[j]][:1500]
    return x, pairs, cluster


def test_info_nce_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 4))
    xa, xb = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    _, g = info_nce(w, xa, xb, 0.5)
    eps = 1e-6
    for i, j in [(0, 0), (3, 2), (5, 3)]:
        d = np.zeros_like(w)
        d[i, j] = eps
        num = (info_nce(w + d, xa, xb, 0.5)[0] - info_nce(w - d, xa, xb, 0.5)[0]) / (2 * eps)
        assert g[i, j] == pytest.approx(num, rel=1e-4, abs=1e-7)


def test_training_reduces_loss_and_is_reproducible(tmp_path: Path) -> None:
    x, pairs, cluster = _planted()
    cfg = TrainConfig(steps=300, batch_size=64, lr=5e-3, seed=3)
    enc, stats = train(x, pairs, base_dim=16, config=cfg)
    assert stats["final_loss"] < stats["first_loss"] * 0.8
    assert stats["val_loss_after"] < stats["val_loss_before"]
    enc2, _ = train(x, pairs, base_dim=16, config=cfg)
    assert np.array_equal(enc.weights, enc2.weights) and enc.version == enc2.version
    other, _ = train(x, pairs, base_dim=16, config=TrainConfig(steps=300, batch_size=64, lr=5e-3, seed=4))
    assert not np.array_equal(enc.weights, other.weights)
    # the trained vectors put same-cluster notes closer than the untrained start did
    z1 = enc.encode(x)
    same = cluster[:, None] == cluster[None, :]
    start = x[:, :16] / np.linalg.norm(x[:, :16], axis=1, keepdims=True)
    gap = lambda z: (z @ z.T)[same].mean() - (z @ z.T)[~same].mean()
    assert gap(z1) > gap(start) + 0.2
    path = enc.save(tmp_path / "enc")
    loaded = Encoder.load(tmp_path / "enc")
    assert path.exists() and np.array_equal(loaded.weights, enc.weights) and loaded.version == enc.version


def test_training_rejects_too_few_pairs() -> None:
    with pytest.raises(BadInput, match="pairs"):
        train(np.ones((3, 4), np.float32), [(0, 1, 1.0)], base_dim=4)


# --- ranking ----------------------------------------------------------------------------------------
def test_interests_split_mixed_history_and_recency() -> None:
    a, b = np.eye(4)[0], np.eye(4)[1]
    hist = np.array([a] * 8 + [b] * 8, dtype=np.float32)
    cents = interests(hist, recency_weights(16, 4.0), max_k=3)
    assert len(cents) == 2
    assert np.allclose(cents[0][0], b) and cents[0][1] > cents[1][1]  # the recent interest weighs more
    assert recency_weights(3, 1.0).tolist() == [0.25, 0.5, 1.0]


def test_recommender_excludes_seen_and_blends() -> None:
    from scipy import sparse

    vec = np.eye(6, dtype=np.float32)
    vec[1] = vec[0] * 0.9 + vec[1] * 0.1
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    m = sparse.csr_matrix(np.array([[1, 0, 1, 0, 0, 0], [1, 0, 1, 0, 0, 1], [0, 0, 0, 1, 1, 0]], np.float32))
    rec = Recommender(vec, np.asarray(m.sum(axis=0)).ravel(), ItemCF(m), RecConfig())
    out = rec.recommend([0], k=6)
    ids = [i for i, _, _ in out]
    assert 0 not in ids
    # the co-engaged, popular note and the fresh dense neighbour (no events: scored on what it can have) lead
    assert sorted(ids[:2]) == [1, 2]
    flat = Recommender(vec, np.asarray(m.sum(axis=0)).ravel(), ItemCF(m), RecConfig(dense_weight=0))
    assert 1 not in [i for i, _, _ in flat.recommend([0], k=6)]  # no text signal: a fresh note cannot surface
    assert ids.index(3) > ids.index(1)  # no signal links 3 to the history
    assert set(out[0][2]) <= {"dense", "cf", "pop"}


# --- exploration ------------------------------------------------------------------------------------
ITEMS = [Item("a", "trail", "", ("hiking",)), Item("b", "tent", "", ("hiking", "camping")),
         Item("c", "bread", "", ("baking",)), Item("d", "cake", "", ("baking",)),
         Item("e", "camp stove", "", ("camping",)), Item("f", "lonely", "", ("opera",))]


def test_taxonomy_needs_two_notes() -> None:
    tax = Taxonomy(ITEMS)
    assert tax.topics == ["baking", "camping", "hiking"]  # 'opera' has one note
    assert tax.known([0, 1]) == ["hiking", "camping"]


def test_llm_proposer_never_proposes_a_topic_without_notes() -> None:
    tax = Taxonomy(ITEMS)
    chat = ScriptedChat([{"topics": [{"topic": "baking", "reason": "likes making things outdoors too"}]}])
    props = LLMProposer(chat).propose([0], ITEMS, tax, 2)
    assert [p.topic for p in props] == ["baking"]
    schema = chat.schemas[0]
    assert schema is not None
    enum = schema["properties"]["topics"]["items"]["properties"]["topic"]["enum"]
    assert set(enum) == {"baking", "camping"}  # not 'opera' (no notes), not 'hiking' (known)
    from lingxi.errors import ModelOutputError

    for bad in ("opera", "quantum knitting", "hiking"):
        with pytest.raises(ModelOutputError):
            LLMProposer(ScriptedChat([{"topics": [{"topic": bad, "reason": "x"}]}])).propose([0], ITEMS, tax, 2)


def test_llm_proposer_sees_co_engagement_evidence_once_fit() -> None:
    tax = Taxonomy(ITEMS)
    histories = [[0, 4]] * 3 + [[0, 2]]  # three hikers also camp, one bakes
    plain = ScriptedChat([{"topics": [{"topic": "baking", "reason": "r"}]}])
    assert LLMProposer(plain, evidence=False).fit(CoEngagementProposer(histories, tax)).name == "llm"
    LLMProposer(plain, evidence=False).fit(CoEngagementProposer(histories, tax)).propose([0], ITEMS, tax, 2)
    assert "people who share" not in plain.sent[0][0]["content"]
    chat = ScriptedChat([{"topics": ["baking"]}])
    proposer = LLMProposer(chat, evidence=True)
    assert proposer.name == "llm"  # no evidence before fit
    assert proposer.fit(CoEngagementProposer(histories, tax)).name == "llm+evidence"
    props = proposer.propose([0], ITEMS, tax, 2)
    text = chat.sent[0][0]["content"]
    # each available topic with its evidence, most first; the known topic is not offered
    assert "- camping: 3\n- baking: 1" in text and "- hiking" not in text
    # the evidence informs the LLM, it does not overrule it: the LLM's pick stands
    assert [p.topic for p in props] == ["baking"]
    # the model writes no reason: the reason is made of facts, the pair count and the user's own note on the interest
    assert props[0].reason == "you engaged with hiking (“trail”); 1 person who engages with hiking also engages with baking"
    assert chat.schemas[0]["properties"]["topics"]["items"] == {  # type: ignore[index]
        "type": "string", "enum": ["camping", "baking"]}
    # with evidence the model is asked for all n topics (as many as are available), without it for up to n
    assert chat.schemas[0]["properties"]["topics"]["minItems"] == 2  # type: ignore[index]
    assert "minItems" not in plain.schemas[0]["properties"]["topics"]  # type: ignore[index]


def test_llm_proposer_with_evidence_chooses_among_the_best_supported_topics() -> None:
    from lingxi.errors import ModelOutputError
    from lingxi.rec.explore import EVIDENCE_SPARE

    tags = ["hiking", "a", "b", "c", "d", "e"]
    items = [Item(f"{t}{i}", f"{t} {i}", "", (t,)) for t in tags for i in range(2)]  # rows 2k, 2k+1 are tags[k]
    tax = Taxonomy(items)
    # hikers engage with e (4 users), c (3), a (2), b (1); nobody with d
    histories = [[0, 10]] * 4 + [[0, 6]] * 3 + [[0, 2]] * 2 + [[0, 4]]
    chat = ScriptedChat([{"topics": ["c"]}, {"topics": ["b"]}])
    proposer = LLMProposer(chat, evidence=True).fit(CoEngagementProposer(histories, tax))
    assert [p.topic for p in proposer.propose([0], items, tax, 1)] == ["c"]
    enum = chat.schemas[0]["properties"]["topics"]["items"]["enum"]  # type: ignore[index]
    assert enum == ["e", "c", "a"][: 1 + EVIDENCE_SPARE]  # the best supported, most first
    with pytest.raises(ModelOutputError):  # a topic outside those (b has less evidence) is not trusted
        proposer.propose([0], items, tax, 1)


def test_fill_gives_explore_share_and_reasons() -> None:
    tax = Taxonomy(ITEMS)
    props = CoEngagementProposer([[0, 1, 4], [0, 2]], tax).propose([0], ITEMS, tax, 2)
    assert {p.topic for p in props} == {"camping", "baking"}
    out = fill([1, 2, 3, 4, 5], props, tax, k=5, share=0.4, seen={0})
    assert len(out) == 5 and len({r for r, _ in out}) == 5 and 0 not in {r for r, _ in out}
    assert sum(1 for _, why in out if why) == 2
    assert all(why.startswith("explore ") for _, why in out if why)


# --- the service over a real store (real bundled embedder) -----------------------------------------
@pytest.fixture
def rec_lib(lib: Library) -> Library:
    lib.ingest([DEMO_REC / "notes.jsonl"])
    RecService(lib).import_events([DEMO_REC / "events.csv"])
    return lib


def test_fresh_note_recommended_after_training(rec_lib: Library, tmp_path: Path) -> None:
    svc = RecService(rec_lib)
    enc, stats, path = svc.train(TrainConfig(steps=150, batch_size=32, seed=0))
    assert path.exists() and stats["pairs"] > 20
    before = svc.recommend("dora", k=5)
    assert all(not it["note_id"].startswith("r-pet-new") for it in before["items"])
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "r-pet-new", "title": "猫咪挑食怎么办", "text": "换猫粮要七天过渡，新旧猫粮按比例混合，猫咪不吃就少量多餐。",
                               "tags": ["pets", "猫"]}, ensure_ascii=False) + "\n")
    rec_lib.ingest([new])
    after = svc.recommend("dora", k=5)
    assert after["encoder"] == enc.version
    assert "r-pet-new" in [it["note_id"] for it in after["items"]]  # nobody has engaged with it yet
    seen = {r[0] for r in rec_lib.conn.execute("SELECT note_id FROM events WHERE user='dora'")}
    assert not seen & {it["note_id"] for it in after["items"]}
    sim = svc.similar("r-pet-new", k=3)
    assert all("pets" in it["tags"] for it in sim)


def test_recommend_errors(rec_lib: Library) -> None:
    svc = RecService(rec_lib)
    with pytest.raises(NotFound, match="nobody"):
        svc.recommend("nobody")
    with pytest.raises(BadInput, match="explore"):
        svc.recommend("alice", explore=1.5)
    with pytest.raises(BadInput, match="proposer 'oracle' is not one of: llm, co-engagement"):
        svc.recommend("alice", explore=0.2, proposer="oracle")
    with pytest.raises(NotFound):
        svc.similar("no-such-note")
    with pytest.raises(NotFound, match="nobody"):
        svc.refresh(["nobody"], ScriptedChat([]))


def _picks_reversed(chat: ScriptedChat):  # type: ignore[no-untyped-def]
    """A scripted LLM reply: the offered topics in reverse order (so its picks differ from co-engagement's order)."""
    def reply(_messages):  # type: ignore[no-untyped-def]
        topics = chat.schemas[-1]["properties"]["topics"]  # type: ignore[index]
        return {"topics": topics["items"]["enum"][::-1][: topics["minItems"]]}
    return reply


def test_list_shows_rank_and_reason_not_scores_of_two_scales(rec_lib: Library) -> None:
    out = RecService(rec_lib).recommend("chen", k=10, explore=0.3, proposer="co-engagement")
    items = out["items"]
    assert [it["rank"] for it in items] == list(range(1, 11))
    assert all("score" not in it for it in items)  # exploration slots are placed by share, not by a score
    explored = [it for it in items if it["explore"]]
    assert len(explored) == 3 and all(it["reason"].startswith("explore ") for it in explored)
    assert all(it["signals"] and not it["reason"].startswith("explore") for it in items if not it["explore"])


def test_exploration_is_made_ahead_of_time_and_served_from_the_cache(rec_lib: Library) -> None:
    svc = RecService(rec_lib)
    co_topics = [p.topic for p in svc.catalogue().co_engagement().propose(
        svc.history("chen"), svc.catalogue().items, svc.catalogue().taxonomy, 6)]
    # nothing refreshed yet: the feed asks no model, co-engagement topics stand in and it says so
    out = svc.recommend("chen", k=10, explore=0.2)
    assert out["explore"]["proposer"] == "co-engagement"
    assert "no fresh LLM proposals for chen" in out["explore"]["note"]
    assert [t["topic"] for t in out["explore_topics"]] == co_topics
    # the refresh runs the LLM once and caches its topics
    chat = ScriptedChat([])
    chat.replies.append(_picks_reversed(chat))
    [rep] = svc.refresh(["chen"], chat)
    assert rep.status == "refreshed" and chat.calls == 1 and rep.topics
    assert rep.topics != co_topics
    out = svc.recommend("chen", k=10, explore=0.2)
    assert out["explore"]["proposer"] == "llm+evidence" and out["explore"]["note"].startswith("LLM proposals made")
    assert [t["topic"] for t in out["explore_topics"]] == rep.topics
    assert sum(it["explore"] for it in out["items"]) == 2
    # a second refresh keeps fresh topics: no model call (the scripted chat has no reply left)
    assert svc.refresh(["chen"], ScriptedChat([]))[0].status == "fresh"
    # a new event: still served until refreshed; the refresh then asks the model again
    with rec_lib.store.transaction() as c:
        c.execute("INSERT INTO events(user, note_id, action, ts) VALUES ('chen', 'r-pet-01', 'view', 1900000000)")
    out = svc.recommend("chen", k=10, explore=0.2)
    assert out["explore"]["proposer"] == "llm+evidence" and out["explore"]["events_since"] is True
    again = ScriptedChat([])
    again.replies.append(_picks_reversed(again))
    assert svc.refresh(["chen"], again)[0].status == "refreshed" and again.calls == 1
    # expired (LINGXI_EXPLORE_TTL, 24 h by default): not served
    with rec_lib.store.transaction() as c:
        c.execute("UPDATE explore_cache SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-25 hours')")
    assert svc.recommend("chen", k=10, explore=0.2)["explore"]["proposer"] == "co-engagement"
    # an LLM reply outside the taxonomy is never trusted: co-engagement topics are cached in its place, and said so
    [rep] = svc.refresh(["chen"], ScriptedChat([{"topics": ["外星美食"]}]))
    assert rep.status == "fallback" and set(rep.topics) <= set(svc.catalogue().taxonomy.topics)
    out = svc.recommend("chen", k=10, explore=0.2)
    assert "co-engagement topics" in out["explore"]["note"]
    # ... or proposals cached by an older lingxi in another format: not served
    from lingxi.rec.explore import PROPOSAL_FORMAT

    with rec_lib.store.transaction() as c:
        c.execute("UPDATE explore_cache SET stamp = substr(stamp, 1, length(stamp) - 1) || ?",
                  (str(PROPOSAL_FORMAT - 1),))
    assert svc.recommend("chen", k=10, explore=0.2)["explore"]["proposer"] == "co-engagement"


def test_cli_events_train_recommend(rec_lib: Library, capsys: pytest.CaptureFixture[str]) -> None:
    from lingxi.cli.main import main

    home = str(rec_lib.settings.home)
    rec_lib.close()
    assert main(["--home", home, "--threads", "1", "encoder", "train", "--steps", "50", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["bytes"] > 0 and trained["version"].startswith("v1-")
    assert main(["--home", home, "--threads", "1", "recommend", "--user", "bob", "--k", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["items"]) == 4 and out["encoder"] == trained["version"]
    assert main(["--home", home, "recommend", "--user", "bob", "--explore", "2"]) == 1
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["--home", home, "recommend", "--user", "chen", "--k", "6", "--explore", "0.34"]) == 0
    text = capsys.readouterr().out
    assert "answered in" in text and "no fresh LLM proposals for chen" in text
    header = next(line for line in text.splitlines() if line.startswith("#"))
    assert header.split() == ["#", "title", "tags", "why"]
    assert main(["--home", home, "recommend", "refresh"]) == 1
    assert "needs --user U or --all" in capsys.readouterr().err
    assert main(["--home", home, "recommend", "--all", "--user", "chen"]) == 1
    assert "belong to `lingxi recommend refresh`" in capsys.readouterr().err


def test_fill_orders_and_long_tail() -> None:
    items = [Item(str(i), f"n{i}", "", ("a",) if i < 3 else ("b",)) for i in range(8)]
    tax = Taxonomy(items)
    from lingxi.rec.explore import Proposal

    props = [Proposal("b", "why not")]
    pop = np.array([9, 9, 9, 50, 40, 3, 2, 1], dtype=float)
    aff = np.array([0, 0, 0, 0.9, 0.8, 0.1, 0.2, 0.3])
    ranked = [1, 2, 4, 3, 5, 6, 7]
    by_aff = fill(ranked, props, tax, 4, 0.25, {0}, aff, order="affinity")
    assert [r for r, why in by_aff if why] == [3]
    by_rank = fill(ranked, props, tax, 4, 0.25, {0}, aff, order="ranked")
    assert [r for r, why in by_rank if why] == [4]
    tail = fill(ranked, props, tax, 4, 0.25, {0}, aff, pop, tail=0.5, order="affinity")
    assert [r for r, why in tail if why] == [7]  # the most similar note among the less-seen half


def test_fill_tail_relative_to_history_and_topic_cap() -> None:
    from lingxi.rec.explore import Proposal

    items = [Item(str(i), f"n{i}", "", ("a",) if i < 3 else ("b",) if i < 7 else ("c",)) for i in range(10)]
    tax = Taxonomy(items)
    pop = np.array([1, 1, 1, 1, 3, 5, 50, 2, 9, 40], dtype=float)
    ranked = [5, 6, 9, 4, 8, 3, 7]
    props = [Proposal("b", "rb"), Proposal("c", "rc")]

    def explored(out):
        return [(r, why) for r, why in out if why]

    # a niche history (popularity 1): only b's note 3 is as little seen; c has none, so all of c's notes count;
    # across topics in the ranker's order (9 before 8 before 3), at most one of the two slots per topic
    niche = fill(ranked, props, tax, 4, 0.5, {0, 1, 2}, None, pop, tail=0.5, history=[0, 1, 2], order="ranked")
    assert explored(niche) == [(9, "explore c: rc"), (3, "explore b: rb")]
    # without a history the limit is the median popularity of all engaged notes (2.5): notes 3 and 7
    assert [r for r, _ in explored(fill(ranked, props, tax, 4, 0.5, {0, 1, 2}, None, pop, tail=0.5,
                                        order="ranked"))] == [3, 7]
    # one topic proposed: the cap gives way, both slots come from it
    assert [r for r, _ in explored(fill(ranked, props[1:], tax, 4, 0.5, {0, 1, 2}, None, pop, tail=0.5,
                                        history=[0, 1, 2], order="ranked"))] == [9, 8]


def test_fill_recent_order_takes_co_engaged_notes_discounted_by_popularity() -> None:
    from lingxi.rec.explore import EXPLORE_LIFT, Proposal

    items = [Item(str(i), f"n{i}", "", ("a",) if i < 2 else ("b",)) for i in range(6)]
    tax = Taxonomy(items)
    props = [Proposal("b", "why")]
    aff = np.array([0, 0, 0.1, 0.2, 0.9, 0.3])
    recent = np.array([0, 0, 0.8, 1.0, 0.0, 0.5])  # co-engagement with the user's last notes
    flat = np.ones(6)
    pick = fill([4, 5, 2, 3], props, tax, 4, 0.5, {0, 1}, aff, flat, tail=None, recent=recent)
    assert [r for r, why in pick if why] == [3, 2]  # by co-engagement, not by affinity (4) or rank
    # a note co-engaged with everything because it is popular loses to a less-seen one: 1.0 / 101 ** 0.6 < 0.8 / 2 ** 0.6
    pop = np.array([1, 1, 1, 100, 1, 1], dtype=float)
    assert (1.0 / 101 ** EXPLORE_LIFT) < (0.8 / 2 ** EXPLORE_LIFT)
    pick = fill([4, 5, 2, 3], props, tax, 4, 0.5, {0, 1}, aff, pop, tail=None, recent=recent)
    assert [r for r, why in pick if why] == [2, 5]
    # without co-engagement scores (no events yet) the order falls back to affinity
    assert [r for r, why in fill([4, 5, 2, 3], props, tax, 4, 0.25, {0, 1}, aff, flat, tail=None) if why] == [4]
    with pytest.raises(BadInput, match="explore order"):
        fill([4], props, tax, 4, 0.5, {0}, aff, order="best")


def test_sample_power_flattens_pair_sampling() -> None:
    x, pairs, _ = _planted()
    skewed = [(a, b, 100.0 if i < 10 else 1.0) for i, (a, b, _) in enumerate(pairs)]
    e1, _ = train(x, skewed, 16, TrainConfig(steps=20, batch_size=32, seed=0))
    e2, _ = train(x, skewed, 16, TrainConfig(steps=20, batch_size=32, seed=0, sample_power=0.0))
    assert not np.array_equal(e1.weights, e2.weights)


def test_eval_rec_on_the_generic_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lingxi.cli.main import main

    home = str(tmp_path / "home")
    argv = ["--home", home, "--threads", "1", "eval", "rec", "--notes", str(DEMO_REC / "notes.jsonl"),
            "--events", str(DEMO_REC / "events.csv"), "--steps", "30", "--k", "5",
            "--explore", "0.4", "--explore-tail", "0.5,1", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    systems = [r["system"] for r in out["rows"]]
    assert systems[:6] == ["popularity", "ItemCF", "zero-shot encoder", "trained encoder", "final blend",
                           "blend explore=0.0 (co-engagement, 9 users)"]
    assert systems[6:8] == ["blend explore=0.4 tail=0.5 (co-engagement, 9 users)",
                            "blend explore=0.4 tail=1.0 (co-engagement, 9 users)"]
    # the same settings on the validation item (histories without it)
    assert systems[8:] == ["blend explore=0.0 (co-engagement, 9 users, validation item)",
                           "blend explore=0.4 tail=0.5 (co-engagement, 9 users, validation item)",
                           "blend explore=0.4 tail=1.0 (co-engagement, 9 users, validation item)"]
    for r in out["rows"]:
        assert all(0 <= v for v in r["metrics"].values() if isinstance(v, float)), r
    assert out["config"]["explore_tails"] == [0.5, 1.0]
    assert main([*argv[:-3], "--explore-tail", "0", "--json"]) == 1
    assert "--explore-tail" in capsys.readouterr().err


def test_eval_rec_falls_back_when_the_llm_breaks_the_schema() -> None:
    import lingxi.evals.rec as ev
    from lingxi.errors import ModelOutputError
    from lingxi.rec.explore import REASON_CHARS, Proposer

    class Broken(Proposer):
        name = "llm"

        def propose(self, history, items, taxonomy, n):  # type: ignore[no-untyped-def]
            raise ModelOutputError("reply is not JSON (cut off at max_tokens)")

    data = ev.load_jsonl(DEMO_REC / "notes.jsonl", DEMO_REC / "events.csv")
    feats = {"zero-shot": np.random.default_rng(0).normal(size=(len(data.items), 8)).astype(np.float32)}
    out = ev.evaluate(data, feats, k=5, train_config=TrainConfig(steps=5, batch_size=8, seed=0), explore_share=0.4,
                      proposer=Broken(), explore_users=3)
    llm_rows = [r for r in out["rows"] if "(llm," in r["system"]]
    assert [r["metrics"].get("proposer_fallbacks") for r in llm_rows] == [0, 3]  # explore 0 asks nobody
    # and the schema bounds a reason, so a rambling small model cannot run the JSON past max_tokens
    chat = ScriptedChat([{"topics": []}])
    tax = Taxonomy(ITEMS)
    LLMProposer(chat).propose([0], ITEMS, tax, 2)
    schema = chat.schemas[-1]
    assert schema is not None
    assert schema["properties"]["topics"]["items"]["properties"]["reason"]["maxLength"] == REASON_CHARS


def test_recall_change_is_paired_with_a_bootstrap_interval() -> None:
    from lingxi.evals.rec import recall_change

    base = [1.0, 0.0, 1.0, 0.0] * 50
    same = recall_change(base, base)
    assert same["recall_change"] == 0.0 and same["recall_change_ci95"] == [0.0, 0.0]  # paired: no spread
    half = recall_change(base, [1.0, 0.0, 0.0, 0.0] * 50)
    lo, hi = half["recall_change_ci95"]
    assert half["recall_change"] == -0.5 and lo < -0.5 < hi < 0
    assert recall_change([0.0, 0.0], [1.0, 0.0]) == {}  # no base hits: no ratio


def test_eval_rec_rows_for_each_llm_proposer_on_the_same_users_through_the_reply_cache(tmp_path: Path) -> None:
    import sqlite3

    import lingxi.evals.rec as ev
    from lingxi.llm.cache import CachedChatModel

    data = ev.load_jsonl(DEMO_REC / "notes.jsonl", DEMO_REC / "events.csv")
    feats = {"zero-shot": np.random.default_rng(0).normal(size=(len(data.items), 8)).astype(np.float32)}

    def first_offered(messages):  # type: ignore[no-untyped-def]
        text = messages[-1]["content"]
        listed = text.split("Available topics")[1].split("\n", 1)[1].strip()
        topic = listed.split(":")[0].lstrip("- ") if listed.startswith("- ") else listed.split(",")[0]
        if "people who share" in text:  # the evidence prompt: topics only
            return {"topics": [topic.strip()]}
        return {"topics": [{"topic": topic.strip(), "reason": "r"}]}

    def run() -> tuple[dict, CachedChatModel, ScriptedChat]:  # type: ignore[type-arg]
        inner = ScriptedChat([first_offered] * 6)
        chat = CachedChatModel(inner, sqlite3.connect(tmp_path / "cache.db", isolation_level=None))
        out = ev.evaluate(data, feats, k=5, train_config=TrainConfig(steps=5, batch_size=8, seed=0),
                          explore_share=0.4, proposer=[LLMProposer(chat, evidence=False),
                                                       LLMProposer(chat, evidence=True)], explore_users=3)
        return out, chat, inner

    out, chat, inner = run()
    systems = [r["system"] for r in out["rows"]]
    assert "blend explore=0.4 tail=0.5 (llm, 3 users)" in systems
    assert "blend explore=0.4 tail=0.5 (llm+evidence, 3 users)" in systems
    assert "blend explore=0.4 tail=0.5 (co-engagement, 3 users)" in systems  # the same users, no LLM
    assert inner.calls == 6 and chat.misses == 6  # two prompts per user: with and without the evidence
    row = next(r for r in out["rows"] if r["system"] == "blend explore=0.4 tail=0.5 (llm+evidence, 3 users)")
    assert row["metrics"]["llm_cached_replies"] == 0
    again, chat2, inner2 = run()  # the same run again asks the model nothing and gives the same rows
    assert inner2.calls == 0 and chat2.hits == 6
    strip = lambda rows: [(r["system"], r["metrics"].get("recall@5"), r["metrics"].get("coverage")) for r in rows]
    assert strip(again["rows"]) == strip(out["rows"])
