"""The trained note encoder: a linear head over frozen note features, learned with InfoNCE.

Features are the bundled embedder's vector of the note text, optionally concatenated with the
LLM compression vector (see ``features``). The head maps them to a ``dim``-d unit vector; it starts
as the identity on the embedder block (so training starts from the zero-shot encoder) and is trained
on co-engagement pairs with in-batch negatives and a symmetric InfoNCE loss, in numpy, on the CPU.
Given the same features, pairs and seed, training is bit-for-bit reproducible."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lingxi.errors import BadInput, NotFound

ARTIFACT_VERSION = 1


@dataclass
class TrainConfig:
    dim: int = 0  # 0: the embedder block's width
    temperature: float = 0.1
    batch_size: int = 256
    steps: int = 3000
    lr: float = 5e-4
    weight_decay: float = 1e-4
    seed: int = 0
    val_share: float = 0.05
    sample_power: float = 1.0  # pairs are drawn ∝ weight**power; < 1 flattens towards rare pairs


@dataclass
class Encoder:
    """W maps a feature row to the encoder space; ``meta`` says which features it expects."""

    weights: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "untrained"))

    def encode(self, features: np.ndarray) -> np.ndarray:
        if features.ndim != 2 or features.shape[1] != self.weights.shape[0]:
            raise BadInput(f"encoder expects {self.weights.shape[0]}-d features, got shape {features.shape}")
        return _unit(features.astype(np.float32) @ self.weights)

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"encoder-{self.version}.npz"
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, weights=self.weights, meta=np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8))
        tmp.replace(path)
        (folder / "CURRENT").write_text(path.name + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Encoder:
        if not path.exists():
            raise NotFound(f"no trained encoder at {path} (run `lingxi encoder train`)")
        if path.is_dir():
            cur = path / "CURRENT"
            if not cur.exists():
                raise NotFound(f"no trained encoder in {path} (run `lingxi encoder train`)")
            path = path / cur.read_text().strip()
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            return cls(np.asarray(z["weights"], dtype=np.float32), meta)


def _unit(m: np.ndarray) -> np.ndarray:
    out: np.ndarray = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return out


def initial_weights(d_in: int, base: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Identity on the first ``base`` features (the embedder block), small noise elsewhere."""
    w = rng.normal(0.0, 1e-3, size=(d_in, dim)).astype(np.float32)
    k = min(base, dim)
    w[np.arange(k), np.arange(k)] += 1.0
    return w


def info_nce(w: np.ndarray, xa: np.ndarray, xb: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """Symmetric InfoNCE with in-batch negatives; returns (loss, dL/dW)."""
    ua, ub = xa @ w, xb @ w
    na = np.maximum(np.linalg.norm(ua, axis=1, keepdims=True), 1e-12)
    nb = np.maximum(np.linalg.norm(ub, axis=1, keepdims=True), 1e-12)
    za, zb = ua / na, ub / nb
    s = (za @ zb.T) / tau
    b = s.shape[0]

    def softmax(m: np.ndarray) -> np.ndarray:
        e = np.exp(m - m.max(axis=1, keepdims=True))
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    pr, pc = softmax(s), softmax(s.T)
    idx = np.arange(b)
    loss = float(-(np.log(pr[idx, idx] + 1e-12).mean() + np.log(pc[idx, idx] + 1e-12).mean()) / 2)
    eye = np.eye(b, dtype=s.dtype)
    ds = ((pr - eye) + (pc - eye).T) / (2 * b)
    dza = ds @ zb / tau
    dzb = ds.T @ za / tau
    dua = (dza - za * np.sum(za * dza, axis=1, keepdims=True)) / na
    dub = (dzb - zb * np.sum(zb * dzb, axis=1, keepdims=True)) / nb
    grad: np.ndarray = xa.T @ dua + xb.T @ dub
    return loss, grad


def train(
    features: np.ndarray,
    pairs: list[tuple[int, int, float]],
    base_dim: int,
    config: TrainConfig | None = None,
    meta: dict[str, Any] | None = None,
    progress: Any = None,
) -> tuple[Encoder, dict[str, Any]]:
    """Train the head on (row a, row b, weight) pairs; pairs are sampled in proportion to weight."""
    cfg = config or TrainConfig()
    if len(pairs) < 2:
        raise BadInput(f"training needs at least 2 co-engagement pairs, got {len(pairs)}")
    x = features.astype(np.float32)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(pairs))
    n_val = int(len(pairs) * cfg.val_share) if len(pairs) >= 40 else 0
    val = [pairs[i] for i in order[:n_val]]
    tr = [pairs[i] for i in order[n_val:]]
    a = np.array([p[0] for p in tr])
    b = np.array([p[1] for p in tr])
    p = np.array([p[2] for p in tr], dtype=np.float64) ** cfg.sample_power
    p /= p.sum()
    dim = cfg.dim or base_dim
    w = initial_weights(x.shape[1], base_dim, dim, rng)
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2 = 0.9, 0.999
    bs = min(cfg.batch_size, len(tr))

    def val_loss(wt: np.ndarray) -> float | None:
        if not val:
            return None
        va = np.array([q[0] for q in val])
        vb = np.array([q[1] for q in val])
        losses = [info_nce(wt, x[va[i:i + bs]], x[vb[i:i + bs]], cfg.temperature)[0]
                  for i in range(0, len(val), bs) if len(va[i:i + bs]) > 1]
        return float(np.mean(losses)) if losses else None

    start_val = val_loss(w)
    losses = []
    t0 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        pick = rng.choice(len(tr), size=bs, replace=len(tr) < bs, p=p)
        loss, g = info_nce(w, x[a[pick]], x[b[pick]], cfg.temperature)
        g = g + cfg.weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - cfg.lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + 1e-8)
        losses.append(loss)
        if progress and (step % 100 == 0 or step == cfg.steps):
            progress(step, cfg.steps, float(np.mean(losses[-100:])))
    seconds = time.perf_counter() - t0
    stats = {
        "pairs": len(pairs), "train_pairs": len(tr), "val_pairs": len(val),
        "first_loss": float(np.mean(losses[:20])), "final_loss": float(np.mean(losses[-20:])),
        "val_loss_before": start_val, "val_loss_after": val_loss(w), "seconds": round(seconds, 2),
    }
    digest = hashlib.sha256(w.tobytes()).hexdigest()[:12]
    info = {**(meta or {}), "artifact_version": ARTIFACT_VERSION, "version": f"v{ARTIFACT_VERSION}-{digest}",
            "config": asdict(cfg), "base_dim": base_dim, "stats": stats,
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return Encoder(w.astype(np.float32), info), stats
