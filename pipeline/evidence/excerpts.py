"""Lossless excerpts: the original's decoded samples, cut at its own rate and channels, as WAV.

``pipeline.audio.decode`` resamples to 16 kHz for the recogniser; an excerpt must instead hold
exactly what the original decodes to, so that anyone can check it against the original.
``decode_native`` keeps the decoder's sample rate, channel layout and sample format; the WAV
stores that format as is (16/32-bit PCM, 32/64-bit float), so reading it back gives the same
numbers bit for bit. ``verify`` decodes the pack's original again and compares.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from pipeline.audio import ALLOWED_DEMUXERS, probe
from pipeline.errors import InputError

# numpy dtype of decoded samples -> WAV subtype that stores them unchanged
_SUBTYPES = {np.dtype(np.int16): "PCM_16", np.dtype(np.int32): "PCM_32", np.dtype(np.float32): "FLOAT",
             np.dtype(np.float64): "DOUBLE"}
# FFmpeg sample format (planar "p" dropped) -> numpy dtype of ``_frame_array``'s output
_FORMAT_DTYPES = {"s16": np.int16, "s32": np.int32, "flt": np.float32, "dbl": np.float64, "u8": np.int16}
_READ_DTYPES = {"PCM_16": "int16", "PCM_32": "int32", "FLOAT": "float32", "DOUBLE": "float64"}


@dataclass
class NativeAudio:
    """Decoded samples in the decoder's own format: shape (channels, frames)."""

    samples: np.ndarray
    sample_rate: int
    sample_format: str  # FFmpeg's name for the decoder output, e.g. "fltp", "s16"
    decode_errors: int = 0

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])


@dataclass(frozen=True)
class ExcerptRange:
    start_frame: int
    end_frame: int  # exclusive

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


def decoder_versions() -> dict[str, str]:
    """PyAV and libavcodec versions: float decoders may differ in the last bit between builds."""
    codec = av.library_versions.get("libavcodec", ())
    return {"pyav": av.__version__, "libavcodec": ".".join(map(str, codec))}


def _frame_array(frame: av.AudioFrame) -> np.ndarray:
    array = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar:  # packed: one row of interleaved samples
        array = array.reshape(-1, channels).T
    if array.dtype == np.uint8:  # 8-bit PCM: widened without loss to signed 16-bit
        array = (array.astype(np.int16) - 128) << 8
    return np.ascontiguousarray(array)


@dataclass
class NativeClips:
    """Some frame ranges of a decoded stream, in the decoder's own format (see ``cut_native``)."""

    sample_rate: int
    sample_format: str
    channels: int
    total_frames: int
    ranges: list[ExcerptRange]  # the requested ranges, clamped to ``total_frames``
    clips: list[np.ndarray]  # (channels, frames) per range; empty when a range lies past the end
    decode_errors: int = 0


def _native_arrays(path: Path) -> Iterator[tuple[np.ndarray | None, tuple[str, int, str]]]:
    """(samples, (format, rate, layout)) per decoded frame; (None, last signature) per corrupt packet."""
    signature: tuple[str, int, str] = ("", 0, "")
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise InputError(path, f"无法读取文件（{exc.strerror}）", f"cannot read file: {exc.strerror}") from None
    with handle:
        try:
            container = av.open(handle, mode="r", container_options={"format_whitelist": ALLOWED_DEMUXERS})
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise InputError(path, "无法打开音频", f"cannot open audio: {exc}") from None
        with container:
            stream = container.streams.best("audio") or container.streams.audio[0]
            for frame in _frames(container, stream, stream.codec_context):
                if frame is None:
                    yield None, signature
                    continue
                current = (frame.format.name, frame.sample_rate, frame.layout.name)
                if signature[1] and current != signature:
                    raise InputError(path, "录音中途改变了采样率或声道，无法无损截取片段",
                                     f"stream changes from {signature} to {current} midway: no lossless excerpt")
                signature = current
                yield _frame_array(frame), signature


def cut_native(path: str | Path, ranges_at: Callable[[int], list[ExcerptRange]]) -> NativeClips:
    """Decode the first audio stream without resampling or converting, keeping only some frames.

    ``ranges_at(sample_rate)`` gives the wanted frame ranges once the decoder's rate is known;
    ends past the recording are clamped. Only those frames are held in memory, so an hour of
    48 kHz stereo costs no more than its excerpts. Corrupt packets are skipped (as
    ``pipeline.audio.decode`` does, so times still agree). A stream that changes rate or channel
    layout midway cannot be cut losslessly: InputError.
    """
    path = Path(probe(path).path)  # InputError for a missing, empty or non-audio file
    wanted: list[ExcerptRange] | None = None
    parts: list[list[np.ndarray]] = []
    position, errors, channels = 0, 0, 0
    signature: tuple[str, int, str] = ("", 0, "")
    for array, signature in _native_arrays(path):
        if array is None:
            errors += 1
            continue
        if wanted is None:
            wanted = ranges_at(signature[1])
            parts = [[] for _ in wanted]
        channels = array.shape[0]
        end = position + array.shape[1]
        for span, chunks in zip(wanted, parts, strict=True):
            lo, hi = max(span.start_frame, position), min(span.end_frame, end)
            if lo < hi:
                chunks.append(array[:, lo - position:hi - position])
        position = end
    if wanted is None or position == 0:
        raise InputError(path, "没有可解码的音频", "no decodable audio")
    dtype = _FORMAT_DTYPES.get(signature[0].rstrip("p"), np.float32)
    clips = [np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), dtype=dtype) for chunks in parts]
    ranges = [ExcerptRange(min(s.start_frame, position), min(s.end_frame, position)) for s in wanted]
    return NativeClips(signature[1], signature[0], channels, position, ranges, clips, errors)


def decode_native(path: str | Path) -> NativeAudio:
    """The whole first audio stream in the decoder's own rate, channels and sample format."""
    whole = cut_native(path, lambda rate: [ExcerptRange(0, 2**62)])
    return NativeAudio(whole.clips[0], whole.sample_rate, whole.sample_format, whole.decode_errors)


def _frames(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
            codec: av.codec.context.CodecContext):
    """Decoded frames; None for each corrupt packet skipped; a cut-off file ends early."""
    try:
        for packet in container.demux(stream):
            try:
                yield from codec.decode(packet)
            except av.FFmpegError:
                yield None
    except (av.FFmpegError, IndexError):
        with suppress(av.FFmpegError):
            yield from codec.decode(None)


def excerpt_range(start_s: float, end_s: float, padding_s: float, sample_rate: int,
                  total_frames: int | None = None) -> ExcerptRange:
    """Frames of [start - padding, end + padding] seconds, clamped to the recording when its length is given."""
    # rounded first: 14.9 s * 16000 is 238399.99999999997 in floating point, and means frame 238400
    first = max(0, math.floor(round((start_s - padding_s) * sample_rate, 6)))
    last = math.ceil(round((max(end_s, start_s) + padding_s) * sample_rate, 6))
    last = max(last, first + 1)
    if total_frames is not None:
        last = min(last, total_frames)
        first = min(first, max(0, last - 1))
    return ExcerptRange(first, last)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """A WAV file holding ``samples`` (channels, frames) in their own format, byte-for-byte reproducible."""
    subtype = _SUBTYPES.get(samples.dtype)
    if subtype is None:
        raise ValueError(f"no lossless WAV subtype for {samples.dtype}")
    buffer = io.BytesIO()
    sf.write(buffer, np.ascontiguousarray(samples.T), sample_rate, subtype=subtype, format="WAV")
    return _zero_peak_timestamp(buffer.getvalue())


def _zero_peak_timestamp(data: bytes) -> bytes:
    """libsndfile writes the time of writing into a float WAV's PEAK chunk; zero it (reproducible)."""
    position = 12
    while position + 8 <= len(data):
        chunk_id, size = data[position:position + 4], struct.unpack_from("<I", data, position + 4)[0]
        if chunk_id == b"PEAK" and size >= 8:
            return data[:position + 12] + b"\0\0\0\0" + data[position + 16:]
        if chunk_id == b"data":
            break
        position += 8 + size + (size & 1)
    return data


def read_wav(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    """An excerpt's samples (channels, frames) in the format it stores, and its sample rate."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    info = sf.info(handle)
    if isinstance(handle, io.BytesIO):
        handle.seek(0)
    dtype = _READ_DTYPES.get(info.subtype)
    if dtype is None:
        raise ValueError(f"not a lossless excerpt subtype: {info.subtype}")
    data, rate = sf.read(handle, dtype=dtype, always_2d=True)
    return np.ascontiguousarray(data.T), int(rate)

