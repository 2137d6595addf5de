"""Resemblyzer's speaker encoder run in plain numpy (no torch at run time).

The weights are the ``pretrained.pt`` that the ``resemblyzer`` wheel ships (17 MB, a
legacy-format torch pickle). We read that file ourselves and run the same network:
40-band mel power spectrogram (25 ms window, 10 ms hop) -> 3-layer LSTM (256) ->
linear -> ReLU -> L2 norm, one 256-d embedding per 1.6 s window. Importing the
``resemblyzer`` package itself would import torch; we only locate its data file.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import hashlib
import importlib.util
import pickle
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
N_FFT = 400  # 25 ms
N_MELS = 40
AUDIO_NORM_DBFS = -30.0
BATCH = 128  # windows per LSTM pass
MODEL_NAME = "resemblyzer-0.1.4-pretrained"
# SHA-256 of resemblyzer 0.1.4's pretrained.pt; recorded in outputs as the speaker model's hash.
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


def default_weights_path() -> Path:
    """``pretrained.pt`` inside the installed ``resemblyzer`` package (found without importing it)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "找不到说话人模型：请安装 resemblyzer==0.1.4 (speaker model missing: pip install --no-deps resemblyzer==0.1.4)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise ConfigError(f"说话人模型文件缺失 (speaker model file missing): {path}")
    if sha256_of(path) != WEIGHTS_SHA256:
        raise ConfigError(f"说话人模型文件校验失败 (speaker model file has an unexpected SHA-256): {path}")
    return path


@lru_cache(maxsize=4)
def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    def __init__(self, dtype: type) -> None:
        self.dtype = dtype
        self.data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        last = self.offset + sum((n - 1) * st for n, st in zip(self.size, self.stride, strict=True) if n > 0)
        if data is None or self.offset < 0 or min(self.stride, default=0) < 0 or last >= len(data):
            raise pickle.UnpicklingError("tensor outside its storage in weights file")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
        )
        return np.array(view, dtype=np.float32)


def _rebuild_tensor(storage, offset, size, stride, *_rest) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _LegacyTorchUnpickler(pickle.Unpickler):
    """Only the few globals a state dict needs; anything else is refused (no code execution)."""

    def __init__(self, file, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"unexpected global in weights file: {module}.{name}")

    def persistent_load(self, pid):
        _kind, storage_type, key, _location, _numel = pid[:5]
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype)
        return self.storages[key]


def load_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Tensors of ``checkpoint["model_state"]`` from a torch<1.6 (non-zip) ``torch.save`` file."""
    with open(path, "rb") as f:
        for _header in range(3):  # magic number, protocol version, sys info
            pickle.load(f)
        storages: dict[str, _Storage] = {}
        checkpoint = _LegacyTorchUnpickler(f, storages).load()
        for key in pickle.load(f):
            (numel,) = struct.unpack("<q", f.read(8))
            storage = storages[key]
            raw = f.read(numel * np.dtype(storage.dtype).itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return {name: ref.array() for name, ref in checkpoint["model_state"].items()}


def _mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangles (librosa.filters.mel defaults)."""

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        f_sp = 200.0 / 3
        mel = hz / f_sp
        min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
        min_log_mel = min_log_hz / f_sp
        return np.where(
            hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mel
        )

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        f_sp = 200.0 / 3
        min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
        min_log_mel = min_log_hz / f_sp
        return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)

    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


_MEL = _mel_filterbank()
_HANN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(n_frames, 40) mel power frames, frame i centred on sample ``i * 160`` (librosa, center=True)."""
    padded = np.pad(wav.astype(np.float32), (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    power = np.abs(np.fft.rfft(frames * _HANN, axis=1)) ** 2
    return (power.astype(np.float32) @ _MEL.T).astype(np.float32)


class SpeakerEncoder:
    """d-vector encoder: ``embed_windows(mels)`` -> (n, 256) L2-normalised embeddings."""

    def __init__(self, weights_path: Path | None = None) -> None:
        state = load_legacy_state_dict(weights_path or default_weights_path())
        self.layers = []
        # Gate rows in torch order: input, forget, cell, output. sigmoid(x) = (tanh(x/2) + 1) / 2,
        # so halving the sigmoid gates' weights lets one tanh call serve all four gates.
        half = np.ones(4 * 256, dtype=np.float32)
        half[:512] = 0.5
        half[768:] = 0.5
        for i in range(3):
            w_ih = state[f"lstm.weight_ih_l{i}"] * half[:, None]
            w_hh = state[f"lstm.weight_hh_l{i}"] * half[:, None]
            bias = (state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"]) * half
            self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), bias))
        self.linear_w = np.ascontiguousarray(state["linear.weight"].T)
        self.linear_b = state["linear.bias"]

    def embed_windows(self, mels: np.ndarray) -> np.ndarray:
        """``mels``: (n, frames, 40) -> (n, 256); the LSTM's last hidden state of the top layer."""
        if len(mels) == 0:
            return np.zeros((0, 256), dtype=np.float32)
        with single_threaded_blas():
            # Batches bound the memory: the LSTM keeps (frames, batch, 1024) gate inputs.
            return np.concatenate([self._embed(mels[i : i + BATCH]) for i in range(0, len(mels), BATCH)])

    def _embed(self, mels: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(mels.astype(np.float32).transpose(1, 0, 2))  # (steps, n, features)
        steps, n, _ = x.shape
        h = np.zeros((n, 256), dtype=np.float32)
        for w_ih, w_hh, bias in self.layers:
            gates_in = (x.reshape(steps * n, -1) @ w_ih + bias).reshape(steps, n, -1)
            h = np.zeros((n, 256), dtype=np.float32)
            c = np.zeros_like(h)
            outputs = np.empty((steps, n, 256), dtype=np.float32)
            for t in range(steps):
                g = gates_in[t]
                g += h @ w_hh
                np.tanh(g, out=g)
                g[:, :512] += 1.0
                g[:, 768:] += 1.0
                g[:, :512] *= 0.5
                g[:, 768:] *= 0.5
                c *= g[:, 256:512]
                c += g[:, :256] * g[:, 512:768]
                h = g[:, 768:] * np.tanh(c)
                outputs[t] = h
            x = outputs
        raw = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-8)


def normalize_volume(wav: np.ndarray, target_dbfs: float = AUDIO_NORM_DBFS) -> np.ndarray:
    """Raise (never lower) the level to ``target_dbfs`` RMS, as resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) if len(wav) else 0.0
    if rms <= 1e-9:
        return wav
    change = target_dbfs - 20 * np.log10(rms)
    return wav if change < 0 else (wav * 10 ** (change / 20)).astype(np.float32)


@lru_cache(maxsize=1)
def _openblas() -> tuple | None:
    """numpy's bundled OpenBLAS thread setters (None when numpy uses another BLAS)."""
    libs = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("*openblas*"))
    for path in libs:
        with contextlib.suppress(OSError):
            lib = ctypes.CDLL(str(path))
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", "_64_", ""):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        return get, put
    return None


@contextlib.contextmanager
def single_threaded_blas():
    """The LSTM's small matmuls run fastest on one thread, and BLAS worker threads stall
    badly when the cores are busy (measured: 7x slower on a loaded 2-core machine)."""
    setters = _openblas()
    if setters is None:
        yield
        return
    get, put = setters
    before = int(get())
    put(1)
    try:
        yield
    finally:
        put(before)


@lru_cache(maxsize=2)
def load_encoder(weights_path: str | None = None) -> SpeakerEncoder:
    """One encoder per process (loading takes ~0.1 s)."""
    return SpeakerEncoder(Path(weights_path) if weights_path else None)
