"""Classifier heads for the model tier, trained in numpy (dev-time): one-vs-rest logistic regression or a
one-hidden-layer MLP, full-batch Adam with L2, seeded; plus Platt calibration and threshold choice."""

from __future__ import annotations

import numpy as np


def _adam(params: dict[str, np.ndarray], grads_fn, epochs: int, lr: float) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for t in range(1, epochs + 1):
        grads = grads_fn(params)
        for k in params:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            params[k] -= lr * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
    return params


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def train_head(z: np.ndarray, y: np.ndarray, *, kind: str = "linear", l2: float = 1e-3, epochs: int = 300,
               hidden: int = 256, lr: float = 0.01, seed: int = 13, pos_weight: float = 1.0) -> dict[str, np.ndarray]:
    """Fit on standardised features ``z`` (n, d) and multi-hot labels ``y`` (n, c)."""
    rng = np.random.default_rng(seed)
    n, d = z.shape
    c = y.shape[1]
    weight = np.where(y > 0, pos_weight, 1.0)

    if kind == "linear":
        params = {"W": np.zeros((d, c), np.float32), "b": np.zeros(c, np.float32)}

        def grads(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            g = (_sigmoid(z @ p["W"] + p["b"]) - y) * weight / n
            return {"W": z.T @ g + l2 * p["W"], "b": g.sum(0)}
    else:
        params = {"W1": (rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d)).astype(np.float32),
                  "b1": np.zeros(hidden, np.float32),
                  "W2": (rng.standard_normal((hidden, c)) * np.sqrt(1.0 / hidden)).astype(np.float32),
                  "b2": np.zeros(c, np.float32)}

        def grads(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            pre = z @ p["W1"] + p["b1"]
            h = np.maximum(pre, 0)
            g = (_sigmoid(h @ p["W2"] + p["b2"]) - y) * weight / n
            gh = (g @ p["W2"].T) * (pre > 0)
            return {"W2": h.T @ g + l2 * p["W2"], "b2": g.sum(0), "W1": z.T @ gh + l2 * p["W1"], "b1": gh.sum(0)}

    return _adam(params, grads, epochs, lr)


def head_logits(params: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    if "W" in params:
        return z @ params["W"] + params["b"]
    return np.maximum(z @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]


def platt(logits: np.ndarray, y: np.ndarray, epochs: int = 500) -> tuple[float, float]:
    """(a, b) with sigmoid(a * logit + b) fitted to labels ``y`` (1-D)."""
    a, b = 1.0, 0.0
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    target = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))  # Platt's smoothed targets
    ma = mb = va = vb = 0.0
    for t in range(1, epochs + 1):
        p = _sigmoid(a * logits + b)
        ga, gb = float(((p - target) * logits).mean()), float((p - target).mean())
        ma, mb = 0.9 * ma + 0.1 * ga, 0.9 * mb + 0.1 * gb
        va, vb = 0.999 * va + 0.001 * ga * ga, 0.999 * vb + 0.001 * gb * gb
        a -= 0.05 * (ma / (1 - 0.9**t)) / (np.sqrt(va / (1 - 0.999**t)) + 1e-8)
        b -= 0.05 * (mb / (1 - 0.9**t)) / (np.sqrt(vb / (1 - 0.999**t)) + 1e-8)
    return float(a), float(b)


def choose_threshold(p: np.ndarray, is_pos: np.ndarray, is_neg: np.ndarray, *, precision: float, max_neg_rate: float,
                     floor: float = 0.5) -> float:
    """Lowest threshold (≥ ``floor``) with precision ≥ ``precision`` and at most ``max_neg_rate`` of the
    hard negatives above it; 0.99 when none qualifies."""
    n_neg = max(int(is_neg.sum()), 1)
    best = 0.99
    for t in np.unique(np.round(p[p >= floor], 3))[::-1]:
        above = p >= t
        tp = int((above & is_pos).sum())
        fp = int((above & ~is_pos).sum())
        if tp == 0:
            continue
        if tp / (tp + fp) >= precision and (above & is_neg).sum() / n_neg <= max_neg_rate:
            best = float(t)
    return best
