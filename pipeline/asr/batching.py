"""One queue in front of the model's workers; beam searches waiting in it together run as one batch.

Blocks of a recording are decoded by threads of their own, more threads than the model has
workers (CTranslate2 replicas). Every model call they make (encoder, word alignment, beam search)
waits here for a free worker; when one frees up and beam searches are waiting, the compatible ones
(same options, same encoder length, same prompt length) run as one batched call. Measured on the
long calls: 43.6 s batched vs 55.0 s unbatched, the same text (BENCHMARKS.md, issue 18 third round).

Which requests end up in one batch depends on timing, so the batch must not change any row's
result: CTranslate2 decodes each row of a beam search on its own (int8 products accumulate
exactly, attention and normalisation are per row), which `tests/test_asr_parallel.py` and
`bench/decoder_cost.py` check (a window decoded alone and inside a batch give the same tokens and
score). Sampled decodes (the temperature fallback) never come here: their random draws would
depend on the batch.

A call from the only transcribe call in progress (a short recording, the last block of a long one)
would leave all cores but one idle: it runs instead on one more replica that has every thread
(``solo``), and takes every worker's turn while it runs. While other blocks or recordings are in
progress (run), calls stay on the single-thread workers: taking both cores for one call there made
`bench/batch_speed.py`'s run 69% slower. The thread count changes no
sum, so the text is the same; measured: the mixed set of `bench/asr_speed.py` 42.7 → 27–29 s, the
long calls 6–9% faster (their last block no longer decodes on one core).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Request:
    run: Callable[..., Any]
    args: tuple
    kwargs: dict[str, Any]
    key: tuple | None = None  # None: never batched (encoder, alignment, a decode that is not batch-of-one)
    results: Any = None
    error: BaseException | None = None
    done: bool = False


def _batch_key(features: np.ndarray, prompts: list[list[int]], kwargs: dict[str, Any]) -> tuple:
    return (features.shape[1:], tuple(len(p) for p in prompts[:1]), repr(sorted(kwargs.items())))


class GenerateBatcher:
    """A queue in front of a model's ``workers`` replicas. Every model call (``call``: the encoder,
    the word alignment; ``generate``: a beam search) waits here for a free replica, oldest first, so
    the replicas never run more than ``workers`` calls; when a replica frees up and the oldest call
    is a batch-of-one beam search, the compatible beam searches waiting behind it join it, up to
    ``max_batch`` rows. While both replicas work, the decodes the other blocks request pile up, and
    the next one runs them as one batch. ``solo``: a replica with every thread, on which a call runs
    when it is the only transcribe call in progress (``begin``/``end``: no other block or recording
    will send one meanwhile) and no other runs or waits (it has the methods of the shared model)."""

    def __init__(self, generate: Callable[..., list[Any]], workers: int, max_batch: int, solo: Any = None) -> None:
        self._generate = generate
        self._max_batch = max(1, max_batch)
        self._workers = max(1, workers)
        self._free = self._workers
        self._pending: list[_Request] = []
        self._ready = threading.Condition()
        self._solo = solo
        self._callers = 0  # transcribe calls (blocks, channels) in progress on the engine: begin/end
        self.batches: list[int] = []  # rows per batched decode, for benchmarks and tests
        self.solo_runs = 0  # calls run alone on the replica with every thread, for benchmarks and tests

    def generate(self, features: object, prompts: list[list[int]], **kwargs: Any) -> list[Any]:
        array = np.asarray(features)
        if self._max_batch == 1 or array.shape[0] != 1 or len(prompts) != 1:
            return self.call(self._generate, features, prompts, **kwargs)
        return self._wait(_Request(self._generate, (array, prompts), kwargs, _batch_key(array, prompts, kwargs)))

    def begin(self) -> None:
        """A transcribe call (a block, a channel) starts: while another is in progress no call runs alone."""
        with self._ready:
            self._callers += 1

    def end(self) -> None:
        with self._ready:
            self._callers -= 1

    def call(self, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``run(*args, **kwargs)`` on a free replica, in turn with every other model call."""
        return self._wait(_Request(run, args, kwargs))

    def _wait(self, request: _Request) -> Any:
        with self._ready:
            self._pending.append(request)
            # every caller waits for its own result and, while it waits, runs the oldest work
            # whenever a replica is free: no request is left pending with nobody to run it
            while not request.done:
                batch, workers = self._take()
                if not batch:
                    self._ready.wait()
                    continue
                self._ready.release()
                try:
                    self._run(batch, alone=workers > 1)
                finally:
                    self._ready.acquire()
                    self._free += workers
                    self._ready.notify_all()
        if request.error is not None:
            raise request.error
        return request.results

    def _take(self) -> tuple[list[_Request], int]:
        """The oldest pending request and the compatible decodes behind it, if a replica is free, and how
        many workers' cores they take (lock held): all of them for a lone request while every worker is
        free and a replica with every thread exists (``solo``)."""
        if not self._pending or not self._free:
            return [], 0
        if (self._solo is not None and self._callers <= 1 and len(self._pending) == 1
                and self._free == self._workers > 1):
            self.solo_runs += 1
            self._free = 0
            return [self._pending.pop()], self._workers
        # encoder and alignment calls first: each ends in a decode request that can join the next batch
        first = next((r for r in self._pending if r.key is None), self._pending[0])
        batch = [first] if first.key is None else [r for r in self._pending if r.key == first.key][: self._max_batch]
        self._pending = [r for r in self._pending if all(r is not b for b in batch)]
        self._free -= 1
        if first.key is not None:
            self.batches.append(len(batch))
        return batch, 1

    def _run(self, batch: list[_Request], alone: bool = False) -> None:
        """Run ``batch`` on the shared replicas, or (``alone``) the same method of the solo replica."""
        try:
            if batch[0].key is None:
                run = getattr(self._solo, batch[0].run.__name__) if alone else batch[0].run
                batch[0].results = run(*batch[0].args, **batch[0].kwargs)
            else:
                import ctranslate2

                generate = self._solo.generate if alone else self._generate
                features = np.ascontiguousarray(np.concatenate([r.args[0] for r in batch]))
                results = generate(ctranslate2.StorageView.from_array(features),
                                   [p for r in batch for p in r.args[1]], **batch[0].kwargs)
                for i, request in enumerate(batch):
                    request.results = [results[i]]
        except BaseException as error:  # noqa: BLE001 - handed to every waiting caller
            for request in batch:
                request.error = error
        finally:
            for request in batch:
                request.done = True
