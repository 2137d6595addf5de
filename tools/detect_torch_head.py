"""The MLP head (optionally with a hashed n-gram bag) trained with torch (dev-time only; inference is
numpy, ``pipeline.detect.artifact``). Seeded, single-threaded: the same corpus gives the same weights."""

from __future__ import annotations

import numpy as np
import torch

from pipeline.detect.ngrams import gram_ids


class HybridHead(torch.nn.Module):
    def __init__(self, dim_in: int, n_out: int, hidden: int, buckets: int, bag_dim: int, dropout: float) -> None:
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(buckets, bag_dim, mode="mean") if bag_dim else None
        if self.bag is not None:
            torch.nn.init.normal_(self.bag.weight, 0.0, 0.1)
        self.drop = torch.nn.Dropout(dropout)
        self.hidden = torch.nn.Linear(dim_in + bag_dim, hidden)
        self.out = torch.nn.Linear(hidden, n_out)

    def forward(self, z: torch.Tensor, ids: torch.Tensor | None, offsets: torch.Tensor | None) -> torch.Tensor:
        if self.bag is not None:
            z = torch.cat([z, self.bag(ids, offsets)], 1)
        return self.out(self.drop(torch.relu(self.hidden(self.drop(z)))))


def _bags(grams: list[np.ndarray], idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [grams[i] for i in idx]
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return torch.from_numpy(np.concatenate(parts)), torch.from_numpy(offsets)


class TorchHead:
    """Fit on standardised embeddings (+ texts for n-grams); ``params()`` gives the numpy arrays to ship."""

    def __init__(self, *, hidden: int = 512, buckets: int = 1 << 16, bag_dim: int = 32, dropout: float = 0.2,
                 epochs: int = 25, lr: float = 2e-3, weight_decay: float = 1e-4, seed: int = 13) -> None:
        self.hidden, self.buckets, self.bag_dim, self.dropout = hidden, buckets, bag_dim, dropout
        self.epochs, self.lr, self.weight_decay, self.seed = epochs, lr, weight_decay, seed
        self.model: HybridHead | None = None

    def grams(self, texts: list[str]) -> list[np.ndarray]:
        return [gram_ids(t, self.buckets) for t in texts] if self.bag_dim else []

    def fit(self, z: np.ndarray, y: np.ndarray, grams: list[np.ndarray], sel: np.ndarray) -> TorchHead:
        torch.manual_seed(self.seed)
        torch.set_num_threads(1)
        model = HybridHead(z.shape[1], y.shape[1], self.hidden, self.buckets, self.bag_dim, self.dropout)
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        zt, yt = torch.from_numpy(z.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            order = sel[torch.randperm(len(sel), generator=gen).numpy()]
            for i in range(0, len(order), 128):
                idx = order[i : i + 128]
                ids, offsets = _bags(grams, idx) if self.bag_dim else (None, None)
                opt.zero_grad()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(zt[idx], ids, offsets), yt[idx])
                loss.backward()
                opt.step()
        model.eval()
        self.model = model
        return self

    def logits(self, z: np.ndarray, grams: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
        assert self.model is not None
        ids, offsets = _bags(grams, idx) if self.bag_dim else (None, None)
        with torch.no_grad():
            return self.model(torch.from_numpy(z[idx].astype(np.float32)), ids, offsets).numpy()

    def params(self) -> dict[str, np.ndarray]:
        assert self.model is not None
        m = self.model
        out = {"W1": m.hidden.weight.detach().numpy().T.copy(), "b1": m.hidden.bias.detach().numpy().copy(),
               "W2": m.out.weight.detach().numpy().T.copy(), "b2": m.out.bias.detach().numpy().copy()}
        if m.bag is not None:
            out["bag"] = m.bag.weight.detach().numpy().astype(np.float16)
        return out
