"""The encoder's input convolutions in numpy (pipeline/asr/exact_conv.py): exact in CTranslate2, same encoder."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest

from pipeline.asr.ct2_convert import read_ct2_model, write_ct2_model
from pipeline.asr.derived_model import derived_model_dir
from pipeline.asr.exact_conv import CLIP, FRONTEND_NAME, SHIFT, ConvFrontEnd, gelu
from pipeline.asr.models import resolve_ct2_model
from pipeline.audio import decode
from pipeline.determinism import reuse_key

CALLS_DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "calls_dev"


@pytest.fixture(scope="module")
def source():
    return resolve_ct2_model(None)


@pytest.fixture(scope="module")
def original(source):
    return read_ct2_model(source.path / "model.bin")


def test_model_bin_written_back_is_byte_identical(source, original, tmp_path: Path) -> None:
    write_ct2_model(original, tmp_path / "model.bin")
    assert filecmp.cmp(source.path / "model.bin", tmp_path / "model.bin", shallow=False)


def test_derived_model_has_identity_convolutions_and_every_other_weight_unchanged(source, original, tmp_path) -> None:
    target = derived_model_dir(source.path, source.sha256, tmp_path)
    derived = read_ct2_model(target / "model.bin")
    width = original.raw("encoder/conv2/weight").shape[0]
    for conv in ("conv1", "conv2"):
        weight = derived.raw(f"encoder/{conv}/weight").astype(np.float64)
        assert weight.shape == (width, width, 3)
        assert np.array_equal(weight[:, :, 1], np.eye(width)) and not weight[:, :, [0, 2]].any()
    assert not derived.raw("encoder/conv1/bias").any()
    assert (derived.raw("encoder/conv2/bias") == -SHIFT).all()
    others = [name for name in original.variables if not name.startswith(("encoder/conv1/", "encoder/conv2/"))]
    assert others and all(np.array_equal(original.variables[n], derived.variables[n]) for n in others)
    assert derived.aliases == original.aliases
    assert (target / "tokenizer.json").read_bytes() == (source.path / "tokenizer.json").read_bytes()


def test_derived_model_is_written_once_and_rewritten_when_incomplete(source, tmp_path: Path) -> None:
    target = derived_model_dir(source.path, source.sha256, tmp_path)
    stamp = (target / "model.bin").stat().st_mtime_ns
    assert derived_model_dir(source.path, source.sha256, tmp_path) == target
    assert (target / "model.bin").stat().st_mtime_ns == stamp
    (target / ".source-sha256").unlink()  # an interrupted write never leaves this marker
    derived_model_dir(source.path, source.sha256, tmp_path)
    assert (target / ".source-sha256").read_text() == source.sha256
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [target.name]  # no temporary directory left


def _reference_convolutions(model, mel: np.ndarray) -> np.ndarray:
    """conv1 -> GELU -> conv2 (pre-activation) written out tap by tap, float64."""
    w1, b1 = model.weight("encoder/conv1/weight").astype(np.float64), model.weight("encoder/conv1/bias").astype(np.float64)
    w2, b2 = model.weight("encoder/conv2/weight").astype(np.float64), model.weight("encoder/conv2/bias").astype(np.float64)
    frames = mel.shape[1]
    padded = np.pad(mel.astype(np.float64), ((0, 0), (1, 1)))
    hidden = b1[:, None] + sum(w1[:, :, k] @ padded[:, k : k + frames] for k in range(3))
    hidden = np.pad(gelu(hidden), ((0, 0), (1, 1)))
    return b2[:, None] + sum(w2[:, :, k] @ hidden[:, k : k + frames : 2] for k in range(3))


def test_frontend_feeds_the_real_convolution_output_at_even_frames(original) -> None:
    mel = np.random.default_rng(7).normal(scale=0.6, size=(80, 400)).astype(np.float32)
    x = ConvFrontEnd(original)(mel)
    z = _reference_convolutions(original, mel)
    assert x.shape == (512, 400) and x.dtype == np.float32
    assert (x >= SHIFT - CLIP).all()  # CTranslate2's first GELU stays an exact identity
    np.testing.assert_allclose(x[:, 0::2] - SHIFT, np.maximum(z, -CLIP), atol=4e-6)
    assert (x[:, 1::2] == SHIFT).all()
    batched = ConvFrontEnd(original)(np.stack([mel, mel[:, ::-1]]))
    assert np.array_equal(batched[0], x)


def test_gelu_matches_the_erf_definition() -> None:
    import math

    xs = np.linspace(-9, 9, 721)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs])
    np.testing.assert_allclose(gelu(xs), exact, atol=5e-7)  # erf to 1.5e-7, times |x| / 2


def test_encoder_output_matches_the_original_model_within_int8_noise(source, original, tmp_path: Path) -> None:
    import ctranslate2
    from faster_whisper.feature_extractor import FeatureExtractor

    audio = decode(CALLS_DEV / "call2_tel8k.wav").mono()[: 30 * 16000]
    mel = np.ascontiguousarray(FeatureExtractor()(audio)[:, :3000][None])

    def encode(path: Path, features: np.ndarray) -> np.ndarray:
        model = ctranslate2.models.Whisper(str(path), device="cpu", compute_type="int8", intra_threads=1)
        return np.asarray(model.encode(ctranslate2.StorageView.from_array(features), to_cpu=True))

    reference = encode(source.path, mel)
    derived = encode(derived_model_dir(source.path, source.sha256, tmp_path), ConvFrontEnd(original)(mel))
    # int8 activations make the encoder this noisy anyway: input noise of 1e-6 moves its output as much
    noisy = encode(source.path, mel + np.random.default_rng(1).normal(scale=1e-6, size=mel.shape).astype(np.float32))
    assert np.corrcoef(reference.ravel(), derived.ravel())[0, 1] > 0.999
    assert np.abs(reference - derived).mean() < 2 * np.abs(reference - noisy).mean()


def test_engine_runs_the_exact_copy_and_records_it() -> None:
    from pipeline.asr.factory import compute_fingerprint, load_engine

    engine = load_engine(threads=1)
    assert engine.compute["encoder_conv"] == FRONTEND_NAME
    assert reuse_key(engine.compute)["encoder_conv"] == FRONTEND_NAME
    # what `run` and the cluster compare before loading an engine: a node and the driver must agree
    assert compute_fingerprint("faster-whisper", device="cpu") == reuse_key(engine.compute)
    assert engine.model.name == "whisper-base" and engine.model.sha256 == resolve_ct2_model(None).sha256
