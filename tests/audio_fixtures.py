"""Encode real speech into the phone formats callproof must read, with PyAV's own encoders.

Used by tests/conftest.py. Every format in `FORMATS` is written from the same source clip so
tests can compare what `pipeline.audio` decodes against the original signal.

AMR-WB is the exception: PyAV's FFmpeg has the AMR-WB *decoder* but no encoder, so
`tests/data/audio/` holds two small committed AMR-WB files (see its README.md).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

SPEECH_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_zh"
SOURCE_CLIP = SPEECH_DIR / "funasr_asr_example_zh.wav"  # 16 kHz mono, 5.55 s
SECOND_CLIP = SPEECH_DIR / "fireredasr_BAC009S0764W0121.wav"  # another voice, for stereo
COMMITTED_DIR = Path(__file__).resolve().parent / "data" / "audio"


@dataclass(frozen=True)
class FormatSpec:
    """One way a phone writes a recording: container + codec + rate + channels."""

    name: str
    suffix: str
    container: str  # PyAV/FFmpeg muxer name
    codec: str
    sample_rate: int
    channels: int = 1
    bit_rate: int | None = None

    @property
    def filename(self) -> str:
        return f"{self.name}{self.suffix}"


FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec("wav_pcm16", ".wav", "wav", "pcm_s16le", 16000),
    FormatSpec("wav_pcm16_8k", ".wav", "wav", "pcm_s16le", 8000),
    FormatSpec("wav_mulaw_8k", ".wav", "wav", "pcm_mulaw", 8000),
    FormatSpec("wav_alaw_8k", ".wav", "wav", "pcm_alaw", 8000),
    FormatSpec("mp3_16k", ".mp3", "mp3", "libmp3lame", 16000, bit_rate=32000),
    FormatSpec("mp3_44k_stereo", ".mp3", "mp3", "libmp3lame", 44100, channels=2, bit_rate=128000),
    FormatSpec("m4a_aac", ".m4a", "ipod", "aac", 16000, bit_rate=32000),
    FormatSpec("m4a_aac_stereo_48k", ".m4a", "ipod", "aac", 48000, channels=2, bit_rate=96000),
    FormatSpec("amr_nb", ".amr", "amr", "libopencore_amrnb", 8000, bit_rate=12200),
    FormatSpec("3gp_amr_nb", ".3gp", "3gp", "libopencore_amrnb", 8000, bit_rate=12200),
    FormatSpec("3gp_aac", ".3gp", "3gp", "aac", 16000, bit_rate=32000),
    FormatSpec("flac", ".flac", "flac", "flac", 16000),
    FormatSpec("flac_stereo", ".flac", "flac", "flac", 16000, channels=2),
    FormatSpec("ogg_opus", ".oga", "ogg", "libopus", 16000, bit_rate=24000),
    FormatSpec("ogg_opus_stereo", ".ogg", "ogg", "libopus", 48000, channels=2, bit_rate=48000),
    FormatSpec("ogg_vorbis", ".ogg", "ogg", "libvorbis", 16000, bit_rate=32000),
    FormatSpec("wav_pcm16_stereo_8k", ".wav", "wav", "pcm_s16le", 8000, channels=2),
)

# Containers/codecs seen from chat apps, dictaphones and other recorders: decoded too, but kept
# out of `FORMATS` so tests that transcribe every format stay short.
EXTRA_FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec("adts_aac", ".aac", "adts", "aac", 16000, bit_rate=32000),
    FormatSpec("webm_opus", ".webm", "webm", "libopus", 48000, bit_rate=24000),
    FormatSpec("mka_opus", ".mka", "matroska", "libopus", 16000, bit_rate=24000),
    FormatSpec("wma", ".wma", "asf", "wmav2", 16000, bit_rate=32000),
    FormatSpec("aiff", ".aiff", "aiff", "pcm_s16be", 16000),
    FormatSpec("caf", ".caf", "caf", "pcm_s16le", 16000),
    FormatSpec("flv_mp3", ".flv", "flv", "libmp3lame", 22050, bit_rate=32000),
    FormatSpec("ts_aac", ".ts", "mpegts", "aac", 16000, bit_rate=32000),
    FormatSpec("wav_adpcm_ima", ".wav", "wav", "adpcm_ima_wav", 8000),
    FormatSpec("wav_g726", ".wav", "wav", "adpcm_g726", 8000, bit_rate=32000),
    FormatSpec("ogg_speex", ".spx", "ogg", "libspeex", 16000),
)

# Committed because no PyAV encoder exists for AMR-WB (name -> file in tests/data/audio/).
COMMITTED_AMR_WB = {
    "amr_wb": COMMITTED_DIR / "funasr_zh_amrwb.amr",
    "3gp_amr_wb": COMMITTED_DIR / "funasr_zh_amrwb.3gp",
}


def load_source(channels: int = 1) -> tuple[np.ndarray, int]:
    """The reference signal, float32 (channels, n) at 16 kHz.

    Stereo gets a *different* real voice on the right channel (cut/padded to the same length),
    so a decoder that mixes or swaps channels is caught.
    """
    left, rate = sf.read(SOURCE_CLIP, dtype="float32", always_2d=False)
    if channels == 1:
        return left[np.newaxis, :], rate
    right, right_rate = sf.read(SECOND_CLIP, dtype="float32", always_2d=False)
    assert right_rate == rate
    right = np.resize(right, left.shape[0]) if right.shape[0] < left.shape[0] else right[: left.shape[0]]
    return np.stack([left, right]), rate


def encode(
    samples: np.ndarray,
    sample_rate: int,
    path: Path,
    spec: FormatSpec,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write float32 (channels, n) `samples` to `path` as `spec`, resampling with swresample."""
    layout = "mono" if spec.channels == 1 else "stereo"
    with av.open(str(path), mode="w", format=spec.container) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(spec.codec, rate=spec.sample_rate, layout=layout)
        if spec.bit_rate:
            stream.bit_rate = spec.bit_rate
        codec_format = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=codec_format, layout=layout, rate=spec.sample_rate)
        source = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout=layout
        )
        source.sample_rate = sample_rate
        source.pts = 0
        for frame in [*resampler.resample(source), *resampler.resample(None)]:
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_format(directory: Path, spec: FormatSpec) -> Path:
    samples, rate = load_source(spec.channels)
    return encode(samples, rate, directory / spec.filename, spec)


def spec_named(name: str) -> FormatSpec:
    return next(spec for spec in (*FORMATS, *EXTRA_FORMATS) if spec.name == name)


def write_long_wav(path: Path, seconds: int, sample_rate: int = 8000) -> Path:
    """A long 16-bit WAV of real speech repeated, written in pieces (no big array in memory)."""
    clip, rate = load_source(1)
    piece = clip[0, :: rate // sample_rate] if rate % sample_rate == 0 else clip[0]
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format="WAV") as out:
        remaining = seconds * sample_rate
        while remaining > 0:
            chunk = piece[:remaining]
            out.write(chunk)
            remaining -= chunk.shape[0]
    return path


def _png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([200, 30, 30] * 4) for _ in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _video_only_mp4(path: Path) -> Path:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            image = np.full((64, 64, 3), i * 20, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def make_bad_inputs(directory: Path, good: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    """Broken or non-audio files, each with a fragment its English error reason must contain."""
    d = directory
    cases: dict[str, tuple[Path, str]] = {}

    def add(name: str, path: Path, reason: str) -> None:
        cases[name] = (path, reason)

    add("missing", d / "不存在的录音.mp3", "file not found")
    (d / "folder.mp3").mkdir()
    add("directory", d / "folder.mp3", "is a directory")
    (d / "empty.m4a").write_bytes(b"")
    add("empty", d / "empty.m4a", "empty file")
    (d / "text.mp3").write_text("催收员：今天不还钱就去你单位。\n" * 40, encoding="utf-8")
    add("text_renamed_mp3", d / "text.mp3", "looks like a text file")
    (d / "playlist.mp3").write_text("#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n#EXT-X-ENDLIST\n")
    add("hls_playlist_renamed_mp3", d / "playlist.mp3", "looks like a text file")
    (d / "picture.m4a").write_bytes(_png_bytes())
    add("png_renamed_m4a", d / "picture.m4a", "looks like a PNG image")
    (d / "noise.wav").write_bytes(np.random.default_rng(7).bytes(40_000))
    add("random_bytes", d / "noise.wav", "unrecognised format")
    m4a = good["m4a_aac"].read_bytes()
    (d / "cut.m4a").write_bytes(m4a[: len(m4a) // 2])  # moov (the index) is at the end: gone
    add("truncated_m4a", d / "cut.m4a", "truncated or corrupt MP4/M4A/3GP")
    wav = good["wav_pcm16"].read_bytes()
    (d / "cut_header.wav").write_bytes(wav[:30])
    add("truncated_wav_header", d / "cut_header.wav", "truncated or corrupt WAV")
    (d / "magic_only.amr").write_bytes(b"#!AMR\n")
    add("amr_magic_only", d / "magic_only.amr", "zero-duration")
    sf.write(d / "header_only.wav", np.zeros(0, dtype=np.float32), 16000)
    add("header_only_wav", d / "header_only.wav", "zero-duration")
    add("video_only_mp4", _video_only_mp4(d / "video.mp4"), "no audio stream")
    bad_tag = bytearray(wav)
    fmt = bad_tag.index(b"fmt ")
    bad_tag[fmt + 8 : fmt + 10] = struct.pack("<H", 0x7777)  # a WAVE format tag nobody decodes
    (d / "unknown_codec.wav").write_bytes(bytes(bad_tag))
    add("unsupported_codec", d / "unknown_codec.wav", "unsupported audio codec")
    return cases
