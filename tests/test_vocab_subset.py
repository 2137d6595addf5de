"""The Mandarin output vocabulary (pipeline/asr/vocab_subset.py): which tokens stay, the derived model,
and the tokenizer that speaks the subset's ids."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from faster_whisper.tokenizer import Tokenizer

from pipeline.asr.base import DEFAULT_PROMPT
from pipeline.asr.ct2_convert import read_ct2_model
from pipeline.asr.derived_model import derived_model_dir
from pipeline.asr.exact_conv import exact_copy
from pipeline.asr.factory import compute_fingerprint
from pipeline.asr.models import resolve_ct2_model
from pipeline.asr.vocab_subset import SUBSET_NAME, SubsetTokenizer, VocabSubset, keeps, token_bytes
from pipeline.config import output_vocabulary
from pipeline.errors import ConfigError

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SPECIALS = 51865 - 50257  # <|endoftext|> … <|30.00|>


@pytest.fixture(scope="module")
def source():
    return resolve_ct2_model(None)


@pytest.fixture(scope="module")
def subset(source) -> VocabSubset:
    return VocabSubset.for_model(source.path)


@pytest.fixture(scope="module")
def hf(source):
    import tokenizers

    return tokenizers.Tokenizer.from_file(str(source.path / "tokenizer.json"))


@pytest.fixture(scope="module")
def derived(source, subset, tmp_path_factory) -> Path:
    return derived_model_dir(source.path, source.sha256, tmp_path_factory.mktemp("cache"), subset=subset)


def chinese_lines(limit: int = 3000) -> list[str]:
    """Real Chinese text: the offensive-language corpus COLD (its first ``limit`` comments)."""
    with open(SHARED / "text_zh" / "COLD" / "train.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    return [r["TEXT"] for r in rows]


def test_which_tokens_stay() -> None:
    assert keeps("的".encode()) and keeps("我们".encode()) and keeps("，".encode()) and keeps("“".encode())
    assert keeps(b" 10") and keeps(b"APP") and keeps(b"%") and keeps(b"\xe7\x9a")  # a piece of a character
    assert not keeps(b" extraordinary") and not keeps("안녕".encode()) and not keeps("です".encode())
    assert not keeps("привет".encode()) and not keeps(b" word")


def test_subset_keeps_every_special_token_in_order_and_every_byte(subset, hf) -> None:
    assert 10_000 < len(subset.kept) < 15_000 and subset.size == 51865
    assert subset.kept[-SPECIALS:] == tuple(range(50257, 51865))  # timestamps found by position
    assert list(subset.kept) == sorted(set(subset.kept))
    byte_ids = [hf.token_to_id(t) for t in (chr(c) for c in range(0x21, 0x7F))]
    assert all(i in subset.new_id for i in byte_ids)
    assert all(keeps(bytes([b])) for b in range(256))


def test_chinese_text_keeps_its_tokens_and_round_trips(subset, hf) -> None:
    tokenizer = SubsetTokenizer(hf, subset)
    lines = chinese_lines()
    dropped = total = 0
    for line in [DEFAULT_PROMPT, *lines]:
        original = hf.encode(line, add_special_tokens=False).ids
        total += len(original)
        dropped += sum(i not in subset.new_id for i in original)
        assert tokenizer.decode(tokenizer.encode(line).ids) == line
    assert all(i in subset.new_id for i in hf.encode(DEFAULT_PROMPT, add_special_tokens=False).ids)
    # what is dropped is English words, emoji and the like written in the comments: under 3% of tokens
    assert dropped / total < 0.03


def test_a_dropped_token_is_written_byte_by_byte(subset, hf) -> None:
    tokenizer = SubsetTokenizer(hf, subset)
    text = " extraordinary 안녕"
    ids = tokenizer.encode(text).ids
    assert len(ids) > len(hf.encode(text, add_special_tokens=False).ids)
    assert tokenizer.decode(ids) == text
    assert all(len(token_bytes(hf.id_to_token(subset.kept[i]))) >= 1 for i in ids)


def test_faster_whisper_special_ids_map_to_the_originals(subset, hf) -> None:
    full = Tokenizer(hf, True, task="transcribe", language="zh")
    cut = Tokenizer(SubsetTokenizer(hf, subset), True, task="transcribe", language="zh")
    assert subset.to_old(cut.sot_sequence) == full.sot_sequence
    for name in ("eot", "no_timestamps", "timestamp_begin", "sot_prev", "no_speech", "transcribe"):
        assert subset.kept[getattr(cut, name)] == getattr(full, name), name
    assert cut.timestamp_begin == len(subset.kept) - 1501


def test_derived_model_keeps_the_original_rows(source, subset, derived) -> None:
    original = read_ct2_model(source.path / "model.bin")
    model = read_ct2_model(derived / "model.bin")
    rows = model.raw("decoder/embeddings/weight")
    assert np.array_equal(rows, original.raw("decoder/embeddings/weight")[np.array(subset.kept)])
    assert model.resolve("decoder/projection/weight") == "decoder/embeddings/weight"  # still tied
    exact = exact_copy(original)
    others = [n for n in exact.variables if n != "decoder/embeddings/weight"]
    assert all(np.array_equal(exact.variables[n], model.variables[n]) for n in others)


def test_derived_vocabulary_and_config_name_the_same_tokens(source, subset, derived) -> None:
    lines = (source.path / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    cut = (derived / "vocabulary.txt").read_text(encoding="utf-8").splitlines()
    assert len(cut) == len(subset.kept) and cut[-1] == "<|30.00|>"
    assert all(cut[new] == lines[old] for new, old in enumerate(subset.kept))
    config = json.loads((source.path / "config.json").read_text(encoding="utf-8"))
    moved = json.loads((derived / "config.json").read_text(encoding="utf-8"))
    assert [cut[i] for i in moved["suppress_ids_begin"]] == [lines[i] for i in config["suppress_ids_begin"]]
    assert [cut[i] for i in moved["lang_ids"]] == [lines[i] for i in config["lang_ids"]]
    assert [cut[i] for i in moved["suppress_ids"]] == [lines[i] for i in config["suppress_ids"] if i in subset.new_id]
    assert moved["alignment_heads"] == config["alignment_heads"]


def test_vocabulary_setting_is_checked_and_decides_reuse() -> None:
    assert output_vocabulary({}) in ("zh", "full") and output_vocabulary({"vocabulary": "full"}) == "full"
    with pytest.raises(ConfigError, match="vocabulary"):
        output_vocabulary({"vocabulary": "en"})
    zh = compute_fingerprint("faster-whisper", device="cpu", vocabulary="zh")
    assert zh["vocabulary"] == SUBSET_NAME
    full = compute_fingerprint("faster-whisper", device="cpu", vocabulary="full")
    assert "vocabulary" not in full  # the key a case made before the setting existed has
    assert {k: v for k, v in zh.items() if k != "vocabulary"} == full


def test_the_subset_model_decodes_as_the_full_model_with_the_dropped_tokens_suppressed(subset) -> None:
    """The derived model changes nothing but which tokens can be written: the full model, told never
    to write the dropped tokens, gives the very same transcript (text, word times, scores)."""
    from pipeline.asr.faster_engine import FasterWhisperEngine
    from pipeline.reproduce import content_digest
    from pipeline.transcribe import transcribe_file

    clip = SHARED / "speech_zh" / "cosyvoice_zero_shot_prompt.wav"
    zh = FasterWhisperEngine(threads=1, workers=1, batch=1, vocabulary="zh")
    full = FasterWhisperEngine(threads=1, workers=1, batch=1, vocabulary="full")
    dropped = set(range(subset.kept[-SPECIALS])) - set(subset.kept)
    full.suppress_tokens = sorted({*subset.to_old(zh.suppress_tokens), *dropped})
    cut, constrained = transcribe_file(clip, zh), transcribe_file(clip, full)
    assert cut.text and cut.options["compute"]["vocabulary"] == SUBSET_NAME
    assert "vocabulary" not in constrained.options["compute"]
    assert content_digest(cut) == content_digest(constrained)
    assert [s.avg_logprob for s in cut.segments] == [s.avg_logprob for s in constrained.segments]


def test_the_mandarin_vocabulary_refuses_a_language_it_cannot_write() -> None:
    assert output_vocabulary({"vocabulary": "zh", "decode": {"language": "yue"}}) == "zh"
    assert output_vocabulary({"vocabulary": "full", "decode": {"language": "en"}}) == "full"
    with pytest.raises(ConfigError, match="language 'en'"):
        output_vocabulary({"vocabulary": "zh", "decode": {"language": "en"}})


def test_an_untied_int8_output_layer_is_cut_with_its_scales() -> None:
    from pipeline.asr.ct2_convert import CT2Model

    rows = np.arange(8, dtype=np.float32).reshape(4, 2)
    model = CT2Model("WhisperSpec", 3, 6, {
        "decoder/embeddings/weight": rows, "decoder/projection/weight": (rows * 10).astype(np.int8),
        "decoder/projection/weight_scale": np.array([1, 2, 3, 4], np.float32),
        "decoder/projection/bias": np.array([5, 6, 7, 8], np.float32),
        "encoder/other": np.ones((4, 2), np.float32)})  # four rows, but not one per token
    cut = VocabSubset(kept=(0, 2, 3), size=4).model(model)
    assert np.array_equal(cut.raw("decoder/embeddings/weight"), rows[[0, 2, 3]])
    assert np.array_equal(cut.raw("decoder/projection/weight"), (rows * 10).astype(np.int8)[[0, 2, 3]])
    assert cut.raw("decoder/projection/weight_scale").tolist() == [1, 3, 4]
    assert cut.raw("decoder/projection/bias").tolist() == [5, 7, 8]
    assert cut.raw("encoder/other").shape == (4, 2)
    with pytest.raises(ConfigError, match="vocabulary.txt"):
        VocabSubset(kept=(0,), size=5).model(model)
