"""Clustering speaker embeddings: Ward agglomerative clustering plus spherical k-means refinement.

Plain numpy so the default install needs neither scipy nor scikit-learn.
"""

from __future__ import annotations

import numpy as np

# When the count is chosen automatically, two clusters count as two voices only if their
# centroids' cosine similarity is below TWO_VOICES_SIMILARITY and the smaller one has at
# least MIN_VOICE_WINDOWS windows (or is clearly distinct, below TINY_VOICE_SIMILARITY).
# Calibrated with bench/eval_speakers.py: different real speakers 0.39-0.73 at 16 kHz (up to
# 0.85 on the phone line); two halves of one speaker's speech 0.65-0.98 (short files lowest).
TWO_VOICES_SIMILARITY = 0.75
TINY_VOICE_SIMILARITY = 0.6
MIN_VOICE_WINDOWS = 3
# With an expected count (a phone call: 2) only near-identical clusters are merged.
SAME_VOICE_SIMILARITY = 0.92
MAX_AHC_POINTS = 500


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def ward_linkage(x: np.ndarray, n_clusters: int) -> np.ndarray:
    """Labels 0..k-1 from agglomerative clustering with Ward linkage on unit vectors.

    Ward (merge the pair that least increases within-cluster variance) keeps clusters
    balanced; average linkage tended to split off one outlier window instead of a speaker.
    """
    n = len(x)
    if n <= n_clusters:
        return np.arange(n)
    dist = np.maximum(2.0 - 2.0 * (x @ x.T), 0.0)  # squared euclidean between unit vectors
    np.fill_diagonal(dist, np.inf)
    sizes = np.ones(n)
    members = [[i] for i in range(n)]
    active = np.ones(n, dtype=bool)
    for _ in range(n - n_clusters):
        a, b = divmod(int(np.argmin(dist)), n)
        if a > b:
            a, b = b, a
        sa, sb = sizes[a], sizes[b]
        # Lance-Williams update for Ward.
        merged = ((sizes + sa) * dist[a] + (sizes + sb) * dist[b] - sizes * dist[a, b]) / (sizes + sa + sb)
        dist[a] = merged
        dist[:, a] = merged
        dist[a, a] = np.inf
        dist[b] = np.inf
        dist[:, b] = np.inf
        sizes[a] += sb
        members[a].extend(members[b])
        members[b] = []
        active[b] = False
    labels = np.empty(n, dtype=int)
    for label, idx in enumerate(np.flatnonzero(active)):
        labels[members[idx]] = label
    return labels


def centroids_of(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return _normalize(np.stack([embeddings[labels == j].mean(axis=0) for j in range(k)]))


def refine(embeddings: np.ndarray, labels: np.ndarray, k: int, iterations: int = 10) -> np.ndarray:
    """Spherical k-means from an initial labelling (fixes AHC's early wrong merges)."""
    x = _normalize(embeddings)
    for _ in range(iterations):
        if min(int((labels == j).sum()) for j in range(k)) == 0:
            break
        new = np.argmax(x @ centroids_of(x, labels, k).T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def cluster_speakers(
    embeddings: np.ndarray, num_speakers: int | None, *, max_speakers: int = 4
) -> np.ndarray:
    """Speaker label per embedding (0 = the first to speak).

    ``num_speakers``: the expected count (2 for a phone call); only near-identical clusters
    are merged then. ``None``: the count is chosen (1..max_speakers), merging clusters that
    are not clearly two voices, so a one-speaker recording stays one speaker.
    """
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=int)
    x = _normalize(embeddings.astype(np.float64))
    k = min(num_speakers or max_speakers, n)
    if k <= 1:
        return np.zeros(n, dtype=int)
    if n > MAX_AHC_POINTS:
        pick = np.linspace(0, n - 1, MAX_AHC_POINTS).round().astype(int)
        seed = ward_linkage(x[pick], k)
        labels = np.argmax(x @ centroids_of(x[pick], seed, k).T, axis=1)
    else:
        labels = ward_linkage(x, k)
    labels = refine(x, labels, k)
    return _merge_until_distinct(x, labels, expected=num_speakers is not None)


def _distinct(similarity: float, smaller: int, expected: bool) -> bool:
    if expected:
        return similarity < SAME_VOICE_SIMILARITY
    if similarity >= TWO_VOICES_SIMILARITY:
        return False
    return smaller >= MIN_VOICE_WINDOWS or similarity < TINY_VOICE_SIMILARITY


def _merge_until_distinct(x: np.ndarray, labels: np.ndarray, expected: bool) -> np.ndarray:
    """Merge the most similar pair of clusters while that pair does not look like two voices."""
    while True:
        ids = [int(j) for j in np.unique(labels)]
        if len(ids) <= 1:
            break
        sizes = {j: int((labels == j).sum()) for j in ids}
        cents = _normalize(np.stack([x[labels == j].mean(axis=0) for j in ids]))
        sim = cents @ cents.T
        np.fill_diagonal(sim, -np.inf)
        pairs = sorted(
            ((float(sim[a, b]), a, b) for a in range(len(ids)) for b in range(a + 1, len(ids))), reverse=True
        )
        merge = next(
            ((a, b) for s, a, b in pairs if not _distinct(s, min(sizes[ids[a]], sizes[ids[b]]), expected)),
            None,
        )
        if merge is None:
            break
        a, b = merge
        labels = np.where(labels == ids[b], ids[a], labels)
    # Relabel 0..k-1 in order of first appearance, so S0 is whoever speaks first.
    order = {old: new for new, old in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[v] for v in labels.tolist()], dtype=int)
