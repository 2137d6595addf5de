"""Probe, hash and decode phone recordings to float32 16 kHz, one row per channel, via PyAV.

Originals are only ever opened with ``open(path, "rb")``; FFmpeg reads through that file object,
so it can neither write to the file nor follow a URL or playlist inside it. Only the audio
demuxers in `ALLOWED_DEMUXERS` may open a file. Every user-side problem (missing, empty,
truncated, corrupt, not audio, no audio stream, unsupported codec) becomes
`pipeline.errors.InputError`; PyAV exceptions never escape.

A file cut off at the end (a recorder killed mid-call) decodes up to the cut and, where the
header says how long it should be, is marked `incomplete`; a corrupt packet in the middle is
skipped and counted in `decode_errors`. Only when nothing at all decodes is it an error. An
MP4/M4A/3GP cut before its index (the ``moov`` box, written when recording stops) cannot be
read at all and is reported as truncated or corrupt. What the container's own structure says
about a cut (WAV data size, AMR's last frame, Ogg's end page) is read by
``pipeline.audio_complete``; the verdict is ``damage`` (``DecodedAudio``, or a ``DecodeReport``
passed to ``iter_decode``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from pipeline.audio_complete import Damage, assess
from pipeline.audio_errors import check_file, open_error, unreadable_error
from pipeline.errors import InputError

SAMPLE_RATE = 16000

# FFmpeg demuxer names that may open a file: audio containers and the video containers phones
# and chat apps use. Playlist/network/image demuxers (hls, concat, image2...) are excluded.
ALLOWED_DEMUXERS = (
    "wav,w64,mp3,mov,amr,amrnb,amrwb,ogg,flac,aac,matroska,asf,aiff,caf,au,wv,ape,"
    "gsm,g722,g729,ac3,eac3,dts,mpc,tta,avi,flv,mpegts,voc,xwma,m4a"
)

# Raw AMR has no duration field; FFmpeg estimates one from the bit rate (seen 3% off), so
# probe() sums packet durations instead (cheap: packets are read, not decoded).
_COUNT_PACKETS_FOR = {"amr", "amrnb", "amrwb"}

_MAX_PREALLOCATED_SECONDS = 3 * 3600

# What reading a damaged file can raise from PyAV's demuxer: FFmpeg errors, and IndexError when
# corrupt data makes FFmpeg add a stream PyAV did not know about (seen with a damaged FLV).
_DEMUX_FAILURES = (av.FFmpegError, IndexError)


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about a file's (first) audio stream."""

    path: str
    size: int
    container: str  # FFmpeg demuxer name, e.g. "wav", "mov,mp4,m4a,3gp,3g2,mj2", "amr"
    codec: str  # FFmpeg codec name (as ffprobe shows it): "pcm_s16le", "mp3", "aac", "amr_nb", "opus"
    sample_rate: int
    channels: int
    duration: float  # seconds
    bit_rate: int | None
    tags: dict[str, str] = field(default_factory=dict)  # container tags, e.g. creation_time


@dataclass
class DecodedAudio:
    """Decoded samples, float32 shape (channels, n) at `sample_rate`; channels kept apart."""

    info: AudioInfo
    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    decode_errors: int = 0  # corrupt packets skipped
    # Decoded audio ends well short of the container's stated duration (file cut off, or
    # corrupt data skipped). Only detectable where the header states a duration (MP3 with a
    # Xing/Info tag, FLAC, MP4), or the container's structure shows a cut (WAV data size, AMR
    # frame, Ogg end page: pipeline.audio_complete).
    incomplete: bool = False
    damage: Damage | None = None  # why it is incomplete or damaged, with the decoded length

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / self.sample_rate

    def mono(self) -> np.ndarray:
        """The mean of all channels, float32 shape (n,)."""
        if self.channels == 1:
            return self.samples[0]
        return self.samples.mean(axis=0, dtype=np.float32)


@dataclass
class _DecodeStats:
    samples: int = 0
    errors: int = 0
    read_failed: bool = False


@dataclass
class DecodeReport:
    """Filled in by ``iter_decode`` once its last block was read: how the whole file decoded."""

    seconds: float = 0.0
    decode_errors: int = 0
    damage: Damage | None = None


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (read-only)."""
    path = check_file(path)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise unreadable_error(path, exc) from None
    return digest.hexdigest()


def probe(path: str | Path) -> AudioInfo:
    """Read container and stream facts without decoding; raise InputError for a bad file."""
    path = check_file(path)
    with _open_container(path) as container:
        stream = _audio_stream(path, container)
        duration = _duration(container, stream)
        if duration <= 0:
            raise InputError(path, "音频时长为零", "zero-duration audio")
        ctx = stream.codec_context
        tags = {str(k): str(v) for k, v in (*stream.metadata.items(), *container.metadata.items())}
        return AudioInfo(
            path=str(path),
            size=path.stat().st_size,
            container=container.format.name,
            codec=ctx.codec.canonical_name,
            sample_rate=int(ctx.sample_rate),
            channels=int(ctx.channels),
            duration=float(duration),
            bit_rate=int(container.bit_rate or stream.bit_rate or 0) or None,
            tags=tags,
        )


def decode(path: str | Path, sample_rate: int = SAMPLE_RATE) -> DecodedAudio:
    """Decode the whole file to float32 (channels, n) at `sample_rate`, channels kept apart."""
    info = probe(path)
    stats = _DecodeStats()
    block = 60 * sample_rate
    # Sized from the header's duration so an hour-long call is not copied while growing; capped
    # in case a corrupt header claims days.
    capacity = int(min(info.duration, _MAX_PREALLOCATED_SECONDS) * sample_rate) + sample_rate
    buffer = np.empty((info.channels, capacity), dtype=np.float32)
    filled = 0
    for chunk in _decode_blocks(Path(info.path), sample_rate, block, stats):
        if filled == 0 and chunk.shape[0] != buffer.shape[0]:  # header channel count was wrong
            buffer = np.empty((chunk.shape[0], capacity), dtype=np.float32)
        end = filled + chunk.shape[1]
        if end > buffer.shape[1]:
            grown = np.empty((buffer.shape[0], max(end, buffer.shape[1] * 3 // 2)), dtype=np.float32)
            grown[:, :filled] = buffer[:, :filled]
            buffer = grown
        buffer[:, filled:end] = chunk
        filled = end
    _raise_if_nothing_decoded(info.path, stats)
    damage = assess(Path(info.path), info.container, info.duration, filled / sample_rate, stats.errors,
                    stats.read_failed)
    return DecodedAudio(
        info=info,
        samples=buffer[:, :filled],
        sample_rate=sample_rate,
        decode_errors=stats.errors,
        incomplete=damage is not None and damage.kind == "truncated",
        damage=damage,
    )


def iter_decode(
    path: str | Path, block_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE,
    report: DecodeReport | None = None,
) -> Iterator[np.ndarray]:
    """Blocks of float32 (channels, n), `block_seconds` long (the last one shorter).

    Memory stays at about one block however long the recording is. A bad file raises
    InputError here, at the call; a file in which nothing decodes raises at the end. ``report``,
    when given, holds the decoded length, errors and damage once the last block was read.
    """
    info = probe(path)
    block = max(1, round(block_seconds * sample_rate))
    return _iter_blocks_checked(info, sample_rate, block, report)


def is_audio(path: str | Path) -> bool:
    """True when the content (not the name) is audio that decodes: for batch discovery."""
    try:
        path = check_file(path)
        with _open_container(path) as container:
            stream = _audio_stream(path, container)
            for packet in container.demux(stream):
                if packet.size and stream.codec_context.decode(packet):
                    return True
    except (InputError, OSError, ValueError, *_DEMUX_FAILURES):
        return False
    return False


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write float32 samples, shape (n,) or (channels, n), to a WAV file (16-bit PCM by default)."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 2:
        data = data.T  # soundfile wants (n, channels)
    path = Path(path)
    sf.write(path, np.clip(data, -1.0, 1.0), sample_rate, subtype=subtype, format="WAV")
    return path


# --- internals ------------------------------------------------------------------------------


@contextmanager
def _open_container(path: Path) -> Iterator[av.container.InputContainer]:
    """av.open on a read-only file object (never a path FFmpeg could treat as a URL)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with-block below
    except OSError as exc:
        raise unreadable_error(path, exc) from None
    with handle:
        try:
            container = av.open(handle, mode="r", container_options={"format_whitelist": ALLOWED_DEMUXERS})
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise open_error(path, exc) from None
        with container:
            yield container


def _audio_stream(path: Path, container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise InputError(path, "文件中没有音频流", "no audio stream in file")
    stream = container.streams.best("audio") or container.streams.audio[0]
    ctx = stream.codec_context  # None when this FFmpeg build has no decoder for the codec
    if ctx is None:
        raise InputError(path, "不支持的音频编码（没有解码器）", "unsupported audio codec: no decoder")
    if not ctx.sample_rate or not ctx.channels:
        raise InputError(
            path, f"音频流参数无效（{ctx.name}）", f"invalid audio stream parameters: {ctx.name}"
        )
    return stream


def _duration(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> float:
    if container.format.name not in _COUNT_PACKETS_FOR:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / av.time_base
    total = 0  # no usable header duration: add up packet durations (read, not decoded)
    with suppress(*_DEMUX_FAILURES):  # truncated or damaged: count what is there
        for packet in container.demux(stream):
            total += packet.duration or 0
    return float(total * stream.time_base) if stream.time_base else 0.0


def _iter_blocks_checked(info: AudioInfo, sample_rate: int, block: int,
                         report: DecodeReport | None) -> Iterator[np.ndarray]:
    path = Path(info.path)
    stats = _DecodeStats()
    yield from _decode_blocks(path, sample_rate, block, stats)
    _raise_if_nothing_decoded(path, stats)
    if report is not None:
        report.seconds = stats.samples / sample_rate
        report.decode_errors = stats.errors
        report.damage = assess(path, info.container, info.duration, report.seconds, stats.errors, stats.read_failed)


def _decode_blocks(path: Path, sample_rate: int, block: int, stats: _DecodeStats) -> Iterator[np.ndarray]:
    """Decode + resample; yield (channels, block) float32 arrays, the last one partial."""
    with _open_container(path) as container:
        stream = _audio_stream(path, container)
        pending: list[np.ndarray] = []
        pending_len = 0
        for chunk in _resampled_chunks(container, stream, sample_rate, stats):
            pending.append(chunk)
            pending_len += chunk.shape[1]
            while pending_len >= block:
                joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
                yield joined[:, :block]
                rest = joined[:, block:]
                pending = [rest] if rest.shape[1] else []
                pending_len = rest.shape[1]
        if pending_len:
            yield np.concatenate(pending, axis=1)


def _resampled_chunks(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    sample_rate: int,
    stats: _DecodeStats,
) -> Iterator[np.ndarray]:
    """Resample decoded audio to float32 planar at `sample_rate`, keeping the channel layout.

    Frames are pooled in a FIFO and resampled about every half second: AMR's 20 ms frames
    made per-frame resampling cost more than decoding.
    """
    fifo: av.AudioFifo | None = None
    resampler: av.AudioResampler | None = None
    signature: tuple[str, int, str] | None = None
    out_layout: av.AudioLayout | None = None
    batch = 1
    for frame in _decoded_frames(container, stream, stats):
        frame_signature = (frame.format.name, frame.sample_rate, frame.layout.name)
        if frame_signature != signature:  # first frame, or the stream changed rate/layout midway
            if fifo is not None and resampler is not None:
                yield from _resample(resampler, fifo.read(), stats, flush=True)
            out_layout = out_layout or frame.layout
            fifo = av.AudioFifo()
            resampler = av.AudioResampler(format="fltp", layout=out_layout, rate=sample_rate)
            signature, batch = frame_signature, max(1, frame.sample_rate // 2)
        frame.pts = None  # samples are laid end to end; the FIFO would reject timestamp gaps
        fifo.write(frame)
        if fifo.samples >= batch:
            yield from _resample(resampler, fifo.read(), stats)
    if fifo is not None and resampler is not None:
        yield from _resample(resampler, fifo.read(), stats, flush=True)


def _decoded_frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, stats: _DecodeStats
) -> Iterator[av.AudioFrame]:
    ctx = stream.codec_context
    try:
        for packet in container.demux(stream):
            try:
                yield from ctx.decode(packet)
            except av.FFmpegError:
                stats.errors += 1  # a corrupt packet: skip it, keep going
    except _DEMUX_FAILURES:
        stats.read_failed = True  # cut off: flush what the decoder holds (demux's own flush never came)
        with suppress(av.FFmpegError):
            yield from ctx.decode(None)


def _resample(
    resampler: av.AudioResampler, frame: av.AudioFrame | None, stats: _DecodeStats, flush: bool = False
) -> Iterator[np.ndarray]:
    try:
        frames = resampler.resample(frame) if frame is not None else []
        if flush:
            frames += resampler.resample(None)
    except (av.FFmpegError, ValueError):
        stats.errors += 1
        return
    for out in frames:
        array = out.to_ndarray()
        stats.samples += array.shape[1]
        yield array


def _raise_if_nothing_decoded(path: str | Path, stats: _DecodeStats) -> None:
    if stats.samples == 0:
        raise InputError(
            path,
            "没有可解码的音频（时长为零或数据损坏）",
            "no decodable audio: zero duration or corrupt data",
        )
