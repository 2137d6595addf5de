"""An LRU of values computed per text in batches: the encoder's embeddings, the model tier's scores."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

V = TypeVar("V")


class TextLRU(Generic[V]):
    """Values by text, at most ``size`` kept; missing ones are computed together, ``chunk`` at a time."""

    def __init__(self, size: int, chunk: int | None = None) -> None:
        self.size = size
        self.chunk = chunk
        self._items: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

    def get_many(self, texts: Sequence[str], compute: Callable[[list[str]], Sequence[V]]) -> list[V]:
        """The value of every text, in order; ``compute(texts)`` gives the values of texts not kept."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._items))
        step = self.chunk or max(len(missing), 1)
        for start in range(0, len(missing), step):
            part = missing[start : start + step]
            for text, value in zip(part, compute(part), strict=True):
                self._items[text] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        out = []
        for text in texts:
            value = self._items.get(text)
            if value is None:  # evicted by a batch larger than the LRU
                value = compute([text])[0]
            else:
                self._items.move_to_end(text)
            out.append(value)
        return out
