"""Hashed character and pinyin n-grams: the model tier's lexical features beside the sentence embedding.

Characters (1–3-grams) carry slang and dialect words (瓜娃子, 扑街); toneless pinyin syllables (2–3-grams)
make them tolerate the recogniser's homophones (发院 reads like 法院). Each n-gram is hashed (CRC-32)
into a fixed number of buckets whose learned vectors are averaged (fastText's bag of n-grams).
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=1)
def _readings() -> dict[str, str]:
    """First toneless pinyin reading of each CJK character, from pypinyin's bundled table."""
    spec = importlib.util.find_spec("pypinyin")
    table: dict[str, str] = {}
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "pinyin_dict.json"
        if path.is_file():
            table = json.loads(path.read_text(encoding="utf-8"))
            break
    out = {}
    for key, readings in table.items():
        first = unicodedata.normalize("NFD", readings.split(",")[0])
        out[chr(int(key))] = "".join(ch for ch in first if not unicodedata.combining(ch))
    return out


def gram_ids(text: str, buckets: int) -> np.ndarray:
    """Bucket ids of the text's n-grams (at least one id, 0, for an empty text)."""
    text = _NON_WORD.sub("", text)
    readings = _readings()
    pinyin = [readings.get(ch, ch) for ch in text]
    grams = [text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]
    grams += ["|".join(pinyin[i : i + n]) for n in (2, 3) for i in range(len(pinyin) - n + 1)]
    if not grams:
        return np.zeros(1, np.int64)
    crc = zlib.crc32
    return np.array([crc(g.encode()) for g in grams], dtype=np.int64) % buckets


def bag_features(texts: list[str], table: np.ndarray) -> np.ndarray:
    """Mean of the bucket vectors of each text's n-grams: (len(texts), table.shape[1])."""
    out = np.empty((len(texts), table.shape[1]), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = table[gram_ids(text, table.shape[0])].mean(0)
    return out
