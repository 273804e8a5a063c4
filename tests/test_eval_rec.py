"""`lingxi eval rec` with its defaults: no LLM unless asked, features cached across homes, progress with an ETA, and
the blend's weight search (candidates retrieved once per user) picking what a search over fresh recommenders picks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lingxi.evals.rec import _metrics, _pick_weights, progress_printer
from lingxi.rec.recommend import ItemCF, RecConfig, Recommender

DEMO_REC = Path(__file__).parent.parent / "demo" / "rec"


def test_defaults_ask_no_llm_and_features_are_cached_for_every_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from lingxi.cli.main import main

    monkeypatch.setenv("LINGXI_CACHE_DIR", str(tmp_path / "cache"))
    # any use of the LLM would fail on this model path
    monkeypatch.setenv("LINGXI_LLM_MODEL", str(tmp_path / "no-such-model.gguf"))
    args = ["eval", "rec", "--notes", str(DEMO_REC / "notes.jsonl"), "--events", str(DEMO_REC / "events.csv"),
            "--steps", "50", "--json"]
    assert main(["--home", str(tmp_path / "home-a"), "--threads", "1", *args]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    systems = [r["system"] for r in result["rows"]]
    assert "LLM compression encoder" not in systems and not any("llm" in s for s in systems)
    assert "final blend" in systems and result["config"]["wall_s"] > 0
    assert "LLM rows are opt-in (--llm-features, --llm-proposer)" in err
    assert "embed (items) 36/36 in" in err and "blend weights (users)" in err
    # a second home reuses the features: nothing is embedded again
    assert main(["--home", str(tmp_path / "home-b"), "--threads", "1", *args]) == 0
    out2, err2 = capsys.readouterr()
    assert "embed (items)" not in err2
    def figures(rows: list[dict]) -> list[dict]:  # type: ignore[type-arg]
        return [{k: v for k, v in r["metrics"].items() if k != "s_per_user"} for r in rows]

    assert figures(json.loads(out2)["rows"]) == figures(result["rows"])
    assert (tmp_path / "cache" / "eval-features.db").exists()
    with pytest.raises(SystemExit):  # the old opt-out is gone: the LLM rows are opted into
        main(["--home", str(tmp_path / "home-b"), *args, "--no-llm"])


def test_progress_line_gives_an_eta(capsys: pytest.CaptureFixture[str]) -> None:
    show = progress_printer("  stage", every=0.0)
    show(1, 4)
    show(4, 4)
    err = capsys.readouterr().err
    assert "\r  stage 1/4, ETA " in err and "\r  stage 4/4 in " in err and err.endswith("\n")


def test_weight_search_fuses_each_users_candidates_as_a_fresh_recommender_would() -> None:
    rng = np.random.default_rng(3)
    n_items, n_users = 60, 25
    vecs = rng.normal(size=(n_items, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    hist = {u: [int(i) for i in rng.choice(n_items, size=6, replace=False)] for u in range(n_users)}
    target = {u: int(rng.integers(n_items)) for u in hist}
    from scipy import sparse

    rows = [u for u, h in hist.items() for _ in h]
    cols = [i for h in hist.values() for i in h]
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))
    pop = np.asarray(m.sum(axis=0)).ravel()
    cf = ItemCF(m)
    grid = [(d, c, p) for d in (0.5, 2.0) for c in (0.5, 2.0) for p in (0.0, 0.5)]
    exclude = {0, 1}

    def ndcg(cfg: RecConfig) -> float:
        rec = Recommender(vecs, pop, cf, cfg)
        return round(float(np.mean([_metrics([i for i, _, _ in rec.recommend(h, 5, exclude=exclude)], {target[u]}, 5)[1]
                                    for u, h in hist.items()])), 4)

    want = max(grid, key=lambda w: ndcg(RecConfig(dense_weight=w[0], cf_weight=w[1], pop_weight=w[2])))
    got = _pick_weights(Recommender(vecs, pop, cf), hist, target, grid, 5, exclude, lambda d, t: None)
    assert got == want
    # and fuse() with a config is recommend() of a recommender built with it
    rec = Recommender(vecs, pop, cf)
    cfg = RecConfig(dense_weight=2.0, cf_weight=0.5, pop_weight=0.0)
    fresh = Recommender(vecs, pop, cf, cfg)
    for h in hist.values():
        cands = rec.candidates(h, exclude, signals=("dense", "cf", "pop"))
        assert rec.fuse(cands, h, 10, exclude, cfg) == fresh.recommend(h, 10, exclude=exclude)
