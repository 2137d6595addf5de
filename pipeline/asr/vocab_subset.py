"""A Whisper output layer cut down to the tokens a Mandarin transcript can use.

Whisper's decoder scores all 51,865 tokens at every step of the beam search: the output layer alone
is a quarter of a beam-5 step on a CPU (BENCHMARKS.md, issue 18). Most of
those tokens are English, European, Korean or Japanese words a Simplified-Chinese transcript never
holds. ``VocabSubset`` keeps every token made only of CJK characters, Chinese punctuation or ASCII of
at most ``ASCII_MAX`` characters (digits, "%", "APP" spelled in pieces), every token that is a piece
of a multi-byte character (so any character can still be written byte by byte), and every special
token, in their original order (CTranslate2 finds the timestamp tokens by their position).

The kept rows of the output layer are the original rows: a kept token's logit is computed exactly
as before (int8 rows are quantized one by one). What changes is that a dropped token can no longer
be chosen, and the softmax normalises over the kept tokens only: the model decodes exactly as the
full one told to suppress the dropped tokens (tests/test_vocab_subset.py). ``SubsetTokenizer``
translates between the subset's ids and the original tokenizer, so faster-whisper runs unchanged on top.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from pipeline.asr.ct2_convert import CT2Model
from pipeline.errors import ConfigError

SUBSET_LANGUAGES = ("zh", "yue")  # what the kept tokens can write: Mandarin, and Cantonese in Chinese characters
SUBSET_VERSION = 1
SUBSET_NAME = f"zh-v{SUBSET_VERSION}"
ASCII_MAX = 3  # ASCII tokens up to this many characters (spaces aside) stay
END_OF_TEXT = "<|endoftext|>"
_EMBEDDINGS = "decoder/embeddings/weight"
_PER_TOKEN = ("decoder/embeddings/", "decoder/projection/")  # variables with one row per token

# CJK ideographs (unified + extension A + compatibility), CJK punctuation, fullwidth forms and
# general punctuation (“”‘’…—): what a Simplified-Chinese transcript is written in besides ASCII.
_CHINESE_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x3000, 0x303F), (0xFF00, 0xFFEF),
                   (0x2000, 0x206F))


def checked_vocabulary(value: object, language: str | None = "zh") -> str:
    """The ``vocabulary`` setting, refused in one line when unknown or when the decode language is
    one the Mandarin vocabulary cannot write."""
    from pipeline.asr.base import VOCABULARIES

    if value not in VOCABULARIES:
        raise ConfigError(f"vocabulary 应为 {' 或 '.join(VOCABULARIES)} (vocabulary must be one of "
                          f"{', '.join(VOCABULARIES)}, got {value!r})")
    if value == "zh" and language not in SUBSET_LANGUAGES:
        raise ConfigError(f"vocabulary: zh 只能用于中文转写，当前 language 为 {language!r} "
                          f"(the Mandarin vocabulary cannot write language {language!r}; use vocabulary: full)")
    return str(value)


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: the printable character each byte is written as in a token."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


_BYTES = _byte_decoder()
_BYTE_TOKENS = {b: c for c, b in _BYTES.items()}  # byte → its one-byte token


def token_bytes(token: str) -> bytes:
    return bytes(_BYTES[c] for c in token)


def _chinese(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _CHINESE_RANGES)


def keeps(raw: bytes) -> bool:
    """Whether a regular token with these bytes stays in the subset."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return True  # part of a multi-byte character: needed to write characters that have no token
    if text.isascii():
        return len(text.strip()) <= ASCII_MAX
    return all(ch.isascii() or _chinese(ch) for ch in text)


@dataclass(frozen=True)
class VocabSubset:
    """The original ids kept, in order; position in ``kept`` is the id in the subset model."""

    kept: tuple[int, ...]
    size: int  # tokens in the original vocabulary

    @classmethod
    def for_model(cls, model_dir: Path) -> VocabSubset:
        """The subset of the model in ``model_dir``: its tokenizer.json and vocabulary.txt (which also
        lists the timestamp tokens the tokenizer does not)."""
        try:
            size = len((Path(model_dir) / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
        except OSError as exc:
            raise ConfigError(f"{model_dir}: 无法读取词表 (cannot read vocabulary.txt: {exc})") from exc
        return cls.for_tokenizer(Path(model_dir) / "tokenizer.json", size)

    @classmethod
    def for_tokenizer(cls, tokenizer_json: Path, size: int) -> VocabSubset:
        try:
            spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
            vocab: dict[str, int] = spec["model"]["vocab"]
            added = {t["content"]: t["id"] for t in spec["added_tokens"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{tokenizer_json}: 无法读取分词表 (cannot read the tokenizer: {exc})") from exc
        if END_OF_TEXT not in added:
            raise ConfigError(f"{tokenizer_json}: 不是 Whisper 分词表 (not a Whisper tokenizer: no {END_OF_TEXT})")
        eot = added[END_OF_TEXT]
        regular = sorted(i for t, i in vocab.items() if i < eot and keeps(token_bytes(t)))
        return cls(kept=(*regular, *range(eot, size)), size=size)

    @cached_property
    def new_id(self) -> dict[int, int]:
        return {old: new for new, old in enumerate(self.kept)}

    def to_new(self, ids: list[int]) -> list[int]:
        """Original ids → subset ids; ids outside the subset are left out."""
        return [self.new_id[i] for i in ids if i in self.new_id]

    def to_old(self, ids: list[int]) -> list[int]:
        return [self.kept[i] for i in ids]

    def model(self, model: CT2Model) -> CT2Model:
        """The model with every per-token row cut to the kept rows: the token embeddings and the output
        layer (tied to them in Whisper, or its own weight, scale and bias in another conversion)."""
        embeddings = model.raw(_EMBEDDINGS)
        if embeddings.shape[0] != self.size:
            raise ConfigError(f"模型词表大小 {embeddings.shape[0]} 与 vocabulary.txt 的 {self.size} 不符 "
                              f"(model vocabulary {embeddings.shape[0]} != vocabulary.txt {self.size})")
        rows = np.array(self.kept)
        variables = {name: np.ascontiguousarray(value[rows])
                     if name.startswith(_PER_TOKEN) and value.ndim and value.shape[0] == self.size else value
                     for name, value in model.variables.items()}
        return replace(model, variables=variables)

    def config(self, config: dict) -> dict:
        """config.json with its token ids (suppressed, language) moved to the subset's ids."""
        out = dict(config)
        for key in ("suppress_ids", "suppress_ids_begin", "lang_ids"):
            if key in out:
                out[key] = self.to_new(out[key])
        return out

    def vocabulary_lines(self, lines: list[str]) -> list[str]:
        return [lines[i] for i in self.kept]


class _Encoding:
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids


class SubsetTokenizer:
    """The original Hugging Face tokenizer, speaking the subset's ids (what faster-whisper calls)."""

    def __init__(self, tokenizer: object, subset: VocabSubset) -> None:
        self._tokenizer = tokenizer
        self._subset = subset

    def token_to_id(self, token: str) -> int | None:
        old = self._tokenizer.token_to_id(token)
        return None if old is None else self._subset.new_id.get(old)

    def encode(self, text: str, add_special_tokens: bool = False) -> _Encoding:
        """A token outside the subset is written as its bytes' tokens (all 256 are kept)."""
        ids: list[int] = []
        for old in self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids:
            if old in self._subset.new_id:
                ids.append(self._subset.new_id[old])
            else:
                for byte in token_bytes(self._tokenizer.id_to_token(old)):
                    ids.append(self._subset.new_id[self._tokenizer.token_to_id(_BYTE_TOKENS[byte])])
        return _Encoding(ids)

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(self._subset.to_old(list(ids)))

