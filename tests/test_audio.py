"""pipeline.audio on real speech re-encoded into every phone format, and on broken files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import (
    COMMITTED_AMR_WB,
    EXTRA_FORMATS,
    FORMATS,
    encode,
    load_source,
    spec_named,
    write_format,
    write_long_wav,
)

from pipeline import audio
from pipeline.errors import InputError

# name -> (container, codec, native rate, channels) for every file the `encoded_audio` fixture makes
EXPECTED = {spec.name: (spec.container, spec.codec, spec.sample_rate, spec.channels) for spec in FORMATS}
EXPECTED["amr_wb"] = ("amr", "amr_wb", 16000, 1)
EXPECTED["3gp_amr_wb"] = ("3gp", "amr_wb", 16000, 1)
DEMUXER = {
    "wav": "wav",
    "mp3": "mp3",
    "ipod": "mov,mp4",
    "3gp": "mov,mp4",
    "amr": "amr",
    "flac": "flac",
    "ogg": "ogg",
}
DECODER = {"libmp3lame": "mp3", "libopencore_amrnb": "amr_nb", "libopus": "opus", "libvorbis": "vorbis"}
ALL_FORMATS = sorted(EXPECTED)


def envelope(signal: np.ndarray, hop: int = 160) -> np.ndarray:
    """RMS per 10 ms frame at 16 kHz."""
    frames = signal[: signal.shape[0] // hop * hop].reshape(-1, hop)
    return np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))


def envelope_correlation(decoded: np.ndarray, source: np.ndarray, max_lag: int = 10) -> float:
    """Best Pearson correlation of the two envelopes over lags of +-100 ms (codec delay)."""
    a, b = envelope(decoded), envelope(source)
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        n = min(x.shape[0], y.shape[0])
        best = max(best, float(np.corrcoef(x[:n], y[:n])[0, 1]))
    return best


def sample_lag(decoded: np.ndarray, source: np.ndarray, max_lag: int = 800) -> int:
    """Lag in samples (decoded later than source > 0) at the peak of the cross-correlation."""
    n = min(decoded.shape[0], source.shape[0])
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(decoded[:n], size) * np.conj(np.fft.rfft(source[:n], size))
    corr = np.fft.irfft(spectrum, size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[: max_lag + 1], corr[-max_lag:]])
    return int(lags[values.argmax()])


def file_state(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_decodes_each_phone_format_to_16k_per_channel(name: str, encoded_audio: dict[str, Path]) -> None:
    _, _, _, channels = EXPECTED[name]
    source, rate = load_source(channels)
    decoded = audio.decode(encoded_audio[name])

    assert decoded.sample_rate == 16000 == rate
    assert decoded.samples.dtype == np.float32
    assert decoded.samples.shape[0] == channels == decoded.channels
    assert abs(decoded.duration - source.shape[1] / rate) < 0.05
    assert decoded.decode_errors == 0 and not decoded.incomplete
    assert np.abs(decoded.samples).max() <= 1.5  # float scale, not int16 scale
    for ch in range(channels):
        assert envelope_correlation(decoded.samples[ch], source[ch]) > 0.9, f"channel {ch}"
    # encoder priming/codec delay is removed: times in the decoded audio are times in the file
    assert abs(sample_lag(decoded.samples[0], source[0])) <= 160  # 10 ms
    if channels == 2:  # each channel is its own voice: not mixed down, not swapped
        assert envelope_correlation(decoded.samples[0], source[1]) < 0.5
        assert envelope_correlation(decoded.samples[1], source[0]) < 0.5
        assert np.allclose(decoded.mono(), decoded.samples.mean(axis=0), atol=1e-6)
    else:
        assert decoded.mono().shape == (decoded.samples.shape[1],)


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_probe_reports_container_codec_rate_channels(name: str, encoded_audio: dict[str, Path]) -> None:
    muxer, encoder, native_rate, channels = EXPECTED[name]
    path = encoded_audio[name]
    info = audio.probe(path)

    assert info.path == str(path) and info.size == path.stat().st_size
    assert info.container.startswith(DEMUXER[muxer])
    assert info.codec == DECODER.get(encoder, encoder)
    # Opus always decodes at 48 kHz (RECORDERS.md §3); everything else at its own rate
    assert info.sample_rate == (48000 if encoder == "libopus" else native_rate)
    assert info.channels == channels
    assert abs(info.duration - 5.5467) < 0.05
    assert info.bit_rate and info.bit_rate > 0


@pytest.mark.parametrize("name", [spec.name for spec in EXTRA_FORMATS])
def test_decodes_other_recorder_and_chat_app_formats(tmp_path: Path, name: str) -> None:
    path = write_format(tmp_path, spec_named(name))  # flv_mp3: PyAV crashed here with stream options
    source, _ = load_source(1)
    decoded = audio.decode(path)
    assert decoded.channels == 1 and decoded.sample_rate == 16000
    assert abs(decoded.duration - source.shape[1] / 16000) < 0.12  # no edit list: padding stays
    assert envelope_correlation(decoded.samples[0], source[0]) > 0.9
    assert audio.is_audio(path)


def test_wav_whose_recorder_died_before_fixing_the_header_decodes_fully(
    tmp_path: Path, encoded_audio: dict[str, Path]
) -> None:
    data = bytearray(encoded_audio["wav_pcm16"].read_bytes())
    data_chunk = data.index(b"data")
    data[4:8] = data[data_chunk + 4 : data_chunk + 8] = b"\x00\x00\x00\x00"  # sizes never written
    path = tmp_path / "crashed.wav"
    path.write_bytes(bytes(data))
    assert audio.decode(path).duration == pytest.approx(5.5467, abs=0.001)


def test_raw_amr_duration_is_counted_not_estimated(encoded_audio: dict[str, Path]) -> None:
    # FFmpeg's bit-rate estimate for this file is 5.74 s; the real length is 5.56 s
    info = audio.probe(encoded_audio["amr_nb"])
    assert info.duration == pytest.approx(audio.decode(encoded_audio["amr_nb"]).duration, abs=0.001)


def test_probe_reads_mp4_creation_time_tag(tmp_path: Path) -> None:
    samples, rate = load_source(1)
    path = tmp_path / "Call recording 13800138000_240115_143022.m4a"
    encode(
        samples, rate, path, spec_named("m4a_aac"), metadata={"creation_time": "2024-01-15T06:31:05.000000Z"}
    )
    info = audio.probe(path)
    assert info.tags["creation_time"].startswith("2024-01-15T06:31:05")
    assert info.tags["major_brand"].strip() == "M4A"


@pytest.mark.parametrize(("rate", "tone"), [(8000, 1000.0), (44100, 3000.0), (48000, 440.0)])
def test_resampling_keeps_length_pitch_and_level(tmp_path: Path, rate: int, tone: float) -> None:
    seconds = 3.0
    t = np.arange(int(rate * seconds)) / rate
    path = tmp_path / f"tone_{rate}.wav"
    audio.write_wav(path, 0.5 * np.sin(2 * np.pi * tone * t), rate)

    decoded = audio.decode(path)
    out = decoded.samples[0]
    assert out.shape[0] == round(seconds * 16000)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.shape[0])))
    assert np.fft.rfftfreq(out.shape[0], 1 / 16000)[spectrum.argmax()] == pytest.approx(tone, abs=1.0)
    middle = out[1600:-1600]
    assert np.sqrt((middle**2).mean()) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_iter_decode_blocks_add_up_to_decode(encoded_audio: dict[str, Path]) -> None:
    path = encoded_audio["mp3_44k_stereo"]
    blocks = list(audio.iter_decode(path, block_seconds=1.0))
    assert all(block.shape == (2, 16000) for block in blocks[:-1])
    assert 0 < blocks[-1].shape[1] <= 16000
    assert np.array_equal(np.concatenate(blocks, axis=1), audio.decode(path).samples)


def test_iter_decode_memory_stays_flat_on_a_long_recording(tmp_path: Path) -> None:
    minutes = 10  # tracemalloc slows decoding ~5x; 10 min is enough to show it does not grow
    path = write_long_wav(tmp_path / "long_call.wav", seconds=minutes * 60)
    tracemalloc.start()
    try:
        total = 0
        for block in audio.iter_decode(path, block_seconds=10.0):
            total += block.shape[1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == minutes * 60 * 16000
    decoded_bytes = total * 4
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB while decoding {decoded_bytes / 2**20:.0f} MiB"


def test_originals_are_never_modified(encoded_audio: dict[str, Path], bad_audio_inputs: dict) -> None:
    paths = list(encoded_audio.values()) + [p for p, _ in bad_audio_inputs.values() if p.is_file()]
    before = {path: file_state(path) for path in paths}
    for path in paths:
        for action in (
            audio.probe,
            audio.decode,
            audio.sha256_file,
            audio.is_audio,
            lambda p: list(audio.iter_decode(p)),
        ):
            with contextlib.suppress(InputError):
                action(path)
    assert {path: file_state(path) for path in paths} == before


def test_file_names_that_look_like_urls_or_protocols_are_plain_files(
    tmp_path: Path, encoded_audio: dict[str, Path]
) -> None:
    for name in (
        "http:13800138000 12:30.mp3",
        "通话录音@张三(13800138000)_20190419123402.mp3",
        "concat:a.mp3",
    ):
        path = Path(shutil.copy(encoded_audio["mp3_16k"], tmp_path / name))
        assert audio.decode(path).duration == pytest.approx(5.5467, abs=0.05)


def test_sha256_file_matches_hashlib(encoded_audio: dict[str, Path]) -> None:
    path = encoded_audio["flac_stereo"]
    assert audio.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert audio.sha256_file(path, chunk_size=1000) == audio.sha256_file(path)


def test_committed_amr_wb_fixtures_are_the_expected_bytes() -> None:
    expected = {
        "amr_wb": "43c9ba87f9e05cd8b79090838dd1e1a0337457029255a65af0ce2a70119c2c3b",
        "3gp_amr_wb": "b59946e670ae6b090f82e2c71fabe42f74485ff5013f8f8a6d635ee553af8745",
    }
    assert {name: audio.sha256_file(path) for name, path in COMMITTED_AMR_WB.items()} == expected


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "directory",
        "empty",
        "text_renamed_mp3",
        "hls_playlist_renamed_mp3",
        "png_renamed_m4a",
        "random_bytes",
        "truncated_m4a",
        "truncated_wav_header",
        "amr_magic_only",
        "header_only_wav",
        "video_only_mp4",
        "unsupported_codec",
    ],
)
def test_bad_input_gives_one_clear_bilingual_line(case: str, bad_audio_inputs: dict) -> None:
    path, reason_en = bad_audio_inputs[case]
    for action in (audio.probe, audio.decode, audio.iter_decode, audio.sha256_file):
        if action is audio.sha256_file and path.is_file():
            continue  # hashing works on any readable file
        with pytest.raises(InputError) as caught:
            action(path)
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"{path}: ")
        assert reason_en in caught.value.reason_en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.reason_zh)
    assert audio.is_audio(path) is False


def test_every_bad_case_is_covered(bad_audio_inputs: dict) -> None:
    covered = test_bad_input_gives_one_clear_bilingual_line.pytestmark[0].args[1]
    assert sorted(covered) == sorted(bad_audio_inputs)


@pytest.mark.parametrize(("name", "min_seconds"), [("mp3_16k", 2.5), ("flac", 2.3)])
def test_file_cut_at_the_end_decodes_what_is_there(
    tmp_path: Path, encoded_audio: dict[str, Path], name: str, min_seconds: float
) -> None:
    data = encoded_audio[name].read_bytes()
    path = tmp_path / f"cut_{encoded_audio[name].name}"
    path.write_bytes(data[: len(data) // 2])
    decoded = audio.decode(path)
    assert min_seconds < decoded.duration < 3.2
    assert decoded.incomplete  # the header promised 5.5 s
    source, _ = load_source(1)
    assert envelope_correlation(decoded.samples[0], source[0, : decoded.samples.shape[1]]) > 0.9


@pytest.mark.parametrize("name", ["wav_pcm16", "amr_nb", "ogg_opus"])
def test_cut_file_without_a_duration_header_just_decodes_shorter(
    tmp_path: Path, encoded_audio: dict[str, Path], name: str
) -> None:
    data = encoded_audio[name].read_bytes()
    path = tmp_path / f"cut_{encoded_audio[name].name}"
    path.write_bytes(data[: len(data) // 2])
    assert 1.8 < audio.decode(path).duration < 3.0


@pytest.mark.parametrize("name", ["mp3_16k", "m4a_aac", "amr_nb", "ogg_opus", "flac"])
def test_corrupt_middle_is_skipped_and_reported(
    tmp_path: Path, encoded_audio: dict[str, Path], name: str
) -> None:
    data = bytearray(encoded_audio[name].read_bytes())
    start, length = 2 * len(data) // 5, len(data) // 5
    data[start : start + length] = np.random.default_rng(3).bytes(length)
    path = tmp_path / f"corrupt_{encoded_audio[name].name}"
    path.write_bytes(bytes(data))
    decoded = audio.decode(path)
    assert decoded.duration > 2.0
    assert decoded.decode_errors > 0 or decoded.incomplete


@pytest.mark.parametrize("name", ["m4a_aac", "mp3_16k", "amr_nb", "ogg_opus", "wav_mulaw_8k", "3gp_amr_wb"])
def test_randomly_damaged_files_decode_or_raise_input_error(
    tmp_path: Path, encoded_audio: dict[str, Path], name: str
) -> None:
    rng = np.random.default_rng(11)
    original = encoded_audio[name].read_bytes()
    path = tmp_path / f"damaged_{encoded_audio[name].name}"
    outcomes = {"decoded": 0, "rejected": 0}
    for attempt in range(12):
        data = bytearray(original)
        if attempt % 3 == 0:  # scattered byte errors
            for pos in rng.integers(0, len(data), 20):
                data[pos] = int(rng.integers(0, 256))
        elif attempt % 3 == 1:  # damaged header
            pos = int(rng.integers(0, 256))
            data[pos : pos + 16] = rng.bytes(16)
        else:  # cut anywhere
            data = data[: int(rng.integers(1, len(data)))]
        path.write_bytes(bytes(data))
        try:
            decoded = audio.decode(path)
        except InputError as err:
            assert "\n" not in str(err)
            outcomes["rejected"] += 1
        else:
            assert decoded.samples.dtype == np.float32 and np.isfinite(decoded.samples).all()
            outcomes["decoded"] += 1
    assert outcomes["decoded"] > 0


def test_content_not_extension_decides_is_audio(tmp_path: Path, encoded_audio: dict[str, Path]) -> None:
    disguised = Path(shutil.copy(encoded_audio["amr_nb"], tmp_path / "notes.txt"))
    assert audio.is_audio(disguised)
    assert audio.decode(disguised).info.codec == "amr_nb"
    assert all(audio.is_audio(path) for path in encoded_audio.values())


@pytest.mark.parametrize("channels", [1, 2])
def test_write_wav_round_trip(tmp_path: Path, channels: int) -> None:
    source, rate = load_source(channels)
    data = source[0] if channels == 1 else source
    path = audio.write_wav(tmp_path / "out.wav", data, rate)
    back, back_rate = sf.read(path, dtype="float32", always_2d=True)
    assert back_rate == rate and back.shape == (source.shape[1], channels)
    assert np.abs(back.T - source).max() < 1e-4
    assert np.abs(audio.decode(path).samples - source).max() < 1e-4
    assert os.path.getsize(path) == 44 + source.size * 2
