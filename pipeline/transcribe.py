"""One recording → one Transcript: hash, decode in bounded blocks, transcribe, clean up.

Audio is decoded in blocks and each block is cut at the quietest moment near its end,
so an hour-long call is transcribed with memory bounded by the block size, and no word
is cut in half at a block boundary.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pipeline import __version__
from pipeline.asr.base import SAMPLE_RATE, DecodeOptions, Engine, engine_slots
from pipeline.asr.postprocess import CleanResult, clean_segments
from pipeline.audio import AudioInfo, DecodeReport, iter_decode, probe, sha256_file
from pipeline.transcript import Segment, SourceInfo, Transcript

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class TranscribeConfig:
    options: DecodeOptions = DecodeOptions()
    block_seconds: float = 60.0  # blocks are decoded in parallel; the cuts never depend on the worker count
    cut_search_seconds: float = 20.0
    # "auto": transcribe stereo channels separately when they carry different content.
    channel_mode: str = "auto"  # auto | mix | split
    # split stereo: "mix" = decode the mix once, words go to the channel carrying them, speech a channel
    # has without words is decoded on that channel alone (pipeline.asr.channels); "channels" = each
    # channel decoded on its own (before issue 18's second round: less accurate)
    stereo_decode: str = "mix"  # mix | channels


def quietest_cut(samples: np.ndarray, search_seconds: float) -> int:
    """Index of the quietest 200 ms window in the last ``search_seconds`` of ``samples`` (mono)."""
    n = len(samples)
    search = min(n, int(search_seconds * SAMPLE_RATE))
    tail = samples[n - search :]
    win = int(0.2 * SAMPLE_RATE)
    if len(tail) < win * 2:
        return n
    frames = len(tail) // win
    energy = (tail[: frames * win].reshape(frames, win) ** 2).mean(axis=1)
    best = int(np.argmin(energy))
    return n - search + best * win + win // 2


def iter_cut_blocks(blocks: Iterator[np.ndarray], config: TranscribeConfig) -> Iterator[tuple[float, np.ndarray]]:
    """Re-cut decoded blocks (channels, n) at quiet points; yield (offset seconds, block)."""
    carry: np.ndarray | None = None
    offset = 0
    limit = int(config.block_seconds * SAMPLE_RATE)
    for block in blocks:
        buf = block if carry is None else np.concatenate([carry, block], axis=1)
        while buf.shape[1] >= limit + int(config.cut_search_seconds * SAMPLE_RATE):
            head = buf[:, :limit]
            cut = quietest_cut(head.mean(axis=0), config.cut_search_seconds)
            yield offset / SAMPLE_RATE, buf[:, :cut]
            offset += cut
            buf = buf[:, cut:]
        carry = buf
    if carry is not None and carry.shape[1] > 0:
        yield offset / SAMPLE_RATE, carry


def channels_differ(block: np.ndarray) -> bool:
    if block.shape[0] < 2:
        return False
    from pipeline.speakers.stereo import channels_are_distinct

    return bool(channels_are_distinct(block[:2]))


def _merge_by_time(per_channel: list[CleanResult]) -> list[Segment]:
    merged = [seg for result in per_channel for seg in result.segments]
    merged.sort(key=lambda s: (s.start, s.channel or 0))
    for i, seg in enumerate(merged):
        seg.index = i
    return merged


Results = list[CleanResult]  # one per channel of the block (one for a mono block)


@dataclass
class _Block:
    offset: float
    seconds: float
    jobs: list[Future[Results] | Results]  # their results, concatenated, are the block's channels


def _transcribe_track(engine: Engine, audio: np.ndarray, options: DecodeOptions, offset: float) -> Results:
    return [clean_segments(engine.transcribe(np.ascontiguousarray(audio, dtype=np.float32), options), options, offset)]


def _transcribe_stereo(engine: Engine, block: np.ndarray, options: DecodeOptions, offset: float) -> Results:
    from pipeline.asr.channels import transcribe_channels

    return [clean_segments(raw, options, offset) for raw in transcribe_channels(engine, block, options)]


def _block_jobs(block: np.ndarray, split: bool, stereo_decode: str) -> list[tuple[Callable[..., Results], np.ndarray]]:
    """(function, audio) per job of one block: the mix; each channel; or the channels decoded from their mix."""
    if not split:
        return [(_transcribe_track, block.mean(axis=0))]
    if stereo_decode == "channels":
        return [(_transcribe_track, channel) for channel in block]
    return [(_transcribe_stereo, block)]


def transcribe_file(
    path: Path,
    engine: Engine,
    config: TranscribeConfig = TranscribeConfig(),
    progress: ProgressFn | None = None,
    info: AudioInfo | None = None,
    sha256: str | None = None,
    pool: Executor | None = None,
) -> Transcript:
    """Transcribe one recording. Raises InputError for bad input; the original is only read.

    Blocks (and the channels of a split stereo block) are decoded in parallel, as many at once as
    the engine serves (``engine_slots``: its workers times its decode batch, 1 when it has none).
    Where a block is cut does not depend on the number of workers, and each block is one
    ``engine.transcribe`` call, so the transcript is the same for any number of workers or any
    batch. ``pool``: an executor of ``engine_slots(engine)`` threads shared
    with other recordings transcribed at the same time (``run``), so a recording's blocks use every
    worker that the others leave free; by default the recording gets a pool of its own.
    """
    started = time.perf_counter()
    info = info or probe(path)
    digest = sha256 or sha256_file(path)
    split: bool | None = None if config.channel_mode == "auto" else config.channel_mode == "split"
    per_channel: list[CleanResult] = []
    dropped: list[dict] = []
    report = DecodeReport()
    slots = engine_slots(engine)
    own_pool = pool is None and slots > 1
    if own_pool:
        pool = ThreadPoolExecutor(slots, thread_name_prefix="asr-block")
    in_flight: deque[_Block] = deque()

    def collect(block: _Block) -> None:
        results = [r for job in block.jobs for r in (job.result() if isinstance(job, Future) else job)]
        for ch, result in enumerate(results):
            for seg in result.segments:
                seg.channel = ch if split else None
                seg.speaker = f"S{ch}" if split else None
            per_channel[ch].segments.extend(result.segments)
            dropped.extend(result.dropped)
        if progress:
            progress(block.offset + block.seconds)

    try:
        for offset, block in iter_cut_blocks(iter_decode(path, report=report), config):
            if split is None:
                split = channels_differ(block)
            while len(per_channel) < (len(block) if split else 1):
                per_channel.append(CleanResult())
            jobs: list[Future[Results] | Results] = [
                pool.submit(fn, engine, audio, config.options, offset) if pool else fn(engine, audio, config.options, offset)
                for fn, audio in _block_jobs(block, bool(split), config.stereo_decode)
            ]
            in_flight.append(_Block(offset, block.shape[1] / SAMPLE_RATE, jobs))
            while len(in_flight) > slots:  # a few blocks decoded ahead, memory stays bounded
                collect(in_flight.popleft())
        while in_flight:
            collect(in_flight.popleft())
    finally:
        if own_pool and pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for block in in_flight:  # an error left blocks behind in a shared pool: drop the ones not started
            for job in block.jobs:
                if isinstance(job, Future):
                    job.cancel()
    segments = _merge_by_time(per_channel)
    options = {**asdict(config.options), "channel_mode": "split" if split else "mix", "block_seconds": config.block_seconds,
               "compute": dict(getattr(engine, "compute", {}))}
    if split:
        options["stereo_decode"] = config.stereo_decode
    transcript = Transcript(
        source=SourceInfo(
            path=str(path),
            sha256=digest,
            size=info.size,
            duration=round(info.duration, 3),
            channels=info.channels,
            sample_rate=info.sample_rate,
            codec=info.codec,
            container=info.container,
            damage=report.damage.to_dict() if report.damage else None,
        ),
        model=engine.model,
        segments=segments,
        language=config.options.language,
        options=options,
        tool_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        processing_seconds=round(time.perf_counter() - started, 3),
        dropped=dropped,
    )
    return transcript


def with_options(config: TranscribeConfig, **changes: object) -> TranscribeConfig:
    return replace(config, options=replace(config.options, **changes))
