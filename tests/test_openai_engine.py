"""The optional openai-whisper engine: CTranslate2 → openai-whisper conversion and real transcription.

Needs requirements-openai.txt (torch + openai-whisper); skipped cleanly without it.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.openai
import pipeline  # noqa: E402, F401  (sets the OpenMP wait policy before torch is first imported)

whisper = pytest.importorskip("whisper")
torch = pytest.importorskip("torch")

from pipeline.asr.base import SAMPLE_RATE, DecodeOptions  # noqa: E402
from pipeline.asr.ct2_convert import (  # noqa: E402
    convert_ct2_to_openai,
    load_converted,
    read_ct2_model,
    whisper_dims,
)
from pipeline.asr.models import bundled_model_dir, sha256_of  # noqa: E402
from pipeline.asr.openai_engine import (  # noqa: E402
    OpenAIWhisperEngine,
    converted_checkpoint,
    transcribe_kwargs,
)
from pipeline.audio import decode  # noqa: E402
from pipeline.errors import ConfigError  # noqa: E402
from pipeline.metrics import cer  # noqa: E402

SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_zh"
BASE_DIMS = {
    "n_mels": 80,
    "n_audio_ctx": 1500,
    "n_audio_state": 512,
    "n_audio_head": 8,
    "n_audio_layer": 6,
    "n_vocab": 51865,
    "n_text_ctx": 448,
    "n_text_state": 512,
    "n_text_head": 8,
    "n_text_layer": 6,
}


def reference(name: str) -> str:
    rows = (SPEECH / "refs.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return next(line.split("\t")[1] for line in rows if line.split("\t")[0] == name)


@pytest.fixture(scope="module")
def ct2_dir() -> Path:
    return bundled_model_dir()


@pytest.fixture(scope="module")
def converted(ct2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("openai") / "whisper-base.pt"
    convert_ct2_to_openai(ct2_dir, output)
    return output


@pytest.fixture(scope="module")
def engine() -> OpenAIWhisperEngine:
    return OpenAIWhisperEngine(device="cpu", threads=2)


@pytest.fixture(scope="module")
def mel() -> torch.Tensor:
    audio = decode(SPEECH / "funasr_asr_example_zh.wav").mono()
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(audio))


def test_reads_ctranslate2_header_variables_and_aliases(ct2_dir: Path) -> None:
    model = read_ct2_model(ct2_dir / "model.bin")
    assert (model.spec, model.binary_version) == ("WhisperSpec", 6)
    assert model.aliases["decoder/projection/weight"] == "decoder/embeddings/weight"
    assert model.raw("decoder/projection/weight").shape == (51865, 512)
    assert model.raw("encoder/layer_0/self_attention/linear_0/weight").dtype == np.float16
    assert model.raw("decoder/layer_5/attention/linear_1/weight").shape == (1024, 512)
    assert whisper_dims(model) == BASE_DIMS


def test_checkpoint_has_whisper_layout_and_split_projections(ct2_dir: Path, converted: Path) -> None:
    checkpoint = torch.load(converted, weights_only=True)
    assert checkpoint["dims"] == BASE_DIMS
    state = checkpoint["model_state_dict"]
    expected = whisper.model.Whisper(whisper.model.ModelDimensions(**BASE_DIMS)).state_dict()
    assert set(state) == set(expected)
    assert all(state[k].shape == expected[k].shape for k in expected)
    assert "encoder.blocks.0.attn.key.bias" not in state and "decoder.blocks.0.cross_attn.key.bias" not in state

    ct2 = read_ct2_model(ct2_dir / "model.bin")
    fused = ct2.raw("decoder/layer_2/self_attention/linear_0/weight")
    for i, part in enumerate(("query", "key", "value")):
        assert np.array_equal(state[f"decoder.blocks.2.attn.{part}.weight"].numpy(), fused[i * 512 : (i + 1) * 512])
    kv = ct2.raw("decoder/layer_2/attention/linear_1/weight")
    assert np.array_equal(state["decoder.blocks.2.cross_attn.key.weight"].numpy(), kv[:512])
    assert np.array_equal(state["decoder.blocks.2.cross_attn.value.weight"].numpy(), kv[512:])
    gamma = ct2.raw("encoder/layer_3/ffn/layer_norm/gamma")
    assert np.array_equal(state["encoder.blocks.3.mlp_ln.weight"].numpy(), gamma)
    assert state["decoder.token_embedding.weight"].dtype == torch.float16  # fp16 kept, as official checkpoints
    # The encoder's positional table is the same sinusoid openai-whisper computes itself.
    sinusoids = whisper.model.sinusoids(1500, 512)
    assert torch.allclose(state["encoder.positional_embedding"].float(), sinusoids, atol=1e-3)

    assert whisper.load_model(str(converted), device="cpu").dims.n_text_layer == 6  # openai's own loader


def test_alignment_heads_come_from_config_json(converted: Path) -> None:
    model = load_converted(converted)
    official = np.frombuffer(gzip.decompress(base64.b85decode(whisper._ALIGNMENT_HEADS["base"])), dtype=bool)
    assert np.array_equal(model.alignment_heads.to_dense().numpy().reshape(-1), official)


def test_conversion_is_cached_and_reproducible(ct2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLPROOF_CACHE", str(tmp_path))
    first = converted_checkpoint(ct2_dir, "whisper-base")
    assert first.sha256 == sha256_of(first.path)
    mtime = first.path.stat().st_mtime_ns
    assert converted_checkpoint(ct2_dir, "whisper-base") == first
    assert first.path.stat().st_mtime_ns == mtime  # not converted twice
    first.path.unlink()
    again = converted_checkpoint(ct2_dir, "whisper-base")
    assert again.sha256 == first.sha256  # same bytes when converted again


def test_encoder_output_matches_faster_whisper(ct2_dir: Path, converted: Path, mel: torch.Tensor) -> None:
    import ctranslate2

    ours = load_converted(converted)
    with torch.no_grad():
        torch_out = ours.encoder(mel[None]).numpy()
    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=2)
    ct2_out = np.array(ct2.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None].numpy()))))
    assert torch_out.shape == ct2_out.shape == (1, 1500, 512)
    assert np.abs(torch_out - ct2_out).max() < 1e-2 * np.abs(ct2_out).max()

    tokenizer = whisper.tokenizer.get_tokenizer(True, language="zh", task="transcribe")
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    ct2_tokens = ct2.generate(ctranslate2.StorageView.from_array(ct2_out), [prompt], beam_size=1)[0].sequences_ids[0]
    torch_tokens = whisper.decode(
        ours, mel, whisper.DecodingOptions(language="zh", without_timestamps=True, fp16=False)
    ).tokens
    assert len(torch_tokens) >= 10
    assert torch_tokens[:10] == ct2_tokens[:10]


@pytest.mark.parametrize("clip, leading_silence", [("funasr_asr_example_zh.wav", 0.0), ("paddlespeech_zh.wav", 3.0)])
def test_transcribes_real_speech_with_timed_pieces(engine: OpenAIWhisperEngine, clip: str, leading_silence: float) -> None:
    audio = decode(SPEECH / clip).mono()
    audio = np.concatenate([np.zeros(int(leading_silence * SAMPLE_RATE), np.float32), audio])
    duration = len(audio) / SAMPLE_RATE
    segments = list(engine.transcribe(audio, DecodeOptions()))
    text = "".join(s.text for s in segments)
    assert cer(reference(clip), text) <= 0.2, text

    pieces = [p for s in segments for p in s.pieces]
    assert "".join(p.text for p in pieces).strip() == text.strip()
    starts = [p.start for p in pieces]
    assert starts == sorted(starts)
    assert all(0.0 <= p.start <= p.end <= duration + 0.05 for p in pieces)
    # VAD cut the silence away; times are mapped back onto the padded recording.
    assert pieces[0].start >= leading_silence
    assert pieces[0].start <= leading_silence + 1.0


def test_engine_records_the_checkpoint_it_loaded(engine: OpenAIWhisperEngine) -> None:
    assert engine.model.engine == "openai-whisper"
    assert engine.model.name == "whisper-base"
    assert engine.model.sha256 == sha256_of(Path(engine.model.path))


def test_options_map_to_whisper_transcribe() -> None:
    kwargs = transcribe_kwargs(DecodeOptions(), fp16=False)
    assert kwargs["language"] == "zh" and kwargs["beam_size"] == 5 and kwargs["fp16"] is False
    assert kwargs["word_timestamps"] is True and kwargs["condition_on_previous_text"] is False
    assert kwargs["initial_prompt"] == DecodeOptions().initial_prompt and kwargs["carry_initial_prompt"] is False
    hot = transcribe_kwargs(replace(DecodeOptions(), hotwords="逾期 还款", beam_size=1), fp16=True)
    assert hot["initial_prompt"].startswith("逾期 还款 ") and hot["carry_initial_prompt"] is True
    assert hot["beam_size"] is None  # whisper's greedy decoder


def test_bad_model_paths_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLPROOF_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError):
        OpenAIWhisperEngine(tmp_path / "missing", device="cpu")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "model.bin").write_text("not a model", encoding="utf-8")
    with pytest.raises(ConfigError, match="model.bin"):
        OpenAIWhisperEngine(fake, device="cpu")
    (fake / "model.bin").write_bytes(b"")
    with pytest.raises(ConfigError):
        read_ct2_model(fake / "model.bin")


def test_vad_keeps_the_same_padding_as_the_default_engine() -> None:
    from pipeline.asr.openai_engine import speech_chunks

    audio = np.concatenate([np.zeros(3 * SAMPLE_RATE, np.float32), decode(SPEECH / "funasr_asr_example_zh.wav").mono()])
    padded = speech_chunks(audio, DecodeOptions())  # configs: 1 s around speech
    tight = speech_chunks(audio, replace(DecodeOptions(), vad_speech_pad_ms=100))
    assert padded and tight
    assert padded[0]["start"] <= tight[0]["start"] - int(0.8 * SAMPLE_RATE)
