"""Whisper's two input convolutions computed in numpy, so the encoder's output does not depend on the CPU.

CTranslate2 runs the encoder's convolutions through oneDNN's brgemm convolution, which picks its
blocking, and so the order in which it sums 240 (conv1) or 1536 (conv2) products, from the CPU's
cache sizes. With every other code path pinned (pipeline/determinism.py), that alone made the same
recording give different text on an AMD EPYC and an Intel Xeon. The linear layers do not have this
problem: their int8 products sum exactly, and single-threaded sgemm blocks by constants.

So the convolutions move out of CTranslate2. ``exact_copy`` is a copy of the model whose
convolutions are exact by construction: conv1 is the identity (weight 1 on the centre tap of each
channel, 0 elsewhere, no bias), conv2 the identity with bias ``-SHIFT``. A sum of exact zeros and
one product by 1.0 is exact in any order. ``ConvFrontEnd`` computes the real conv1 → GELU → conv2
in float64 (rounded once, to float32, at the end) and hands CTranslate2, at every even frame,
``max(conv2 output, -CLIP) + SHIFT``. CTranslate2 then computes GELU(that) = that (every input is
≥ SHIFT - CLIP = 8, where GELU is exactly the identity in float32), the identity conv2 takes the
even frames and subtracts SHIFT (exact for inputs up to 2 × SHIFT), and its own second GELU gets
the real conv2 output: the rest of the encoder runs on what the original model computes, to
within float32 rounding (the clipped values have GELU < 1e-14).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.asr.ct2_convert import CT2Model
from pipeline.errors import ConfigError

FRONTEND_VERSION = 1
FRONTEND_NAME = f"numpy-conv-f64-v{FRONTEND_VERSION}"
SHIFT = 16.0  # exact in float16; SHIFT - CLIP keeps CTranslate2's first GELU an exact identity
CLIP = 8.0  # conv2 outputs below -8 are clipped: GELU(-8) = -5e-15, i.e. 0 in float32
_CONV1, _CONV2 = "encoder/conv1", "encoder/conv2"


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float64, Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, about float32's step)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * np.sqrt(0.5)))


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Kernel-3, padding-1 convolution of (channels, frames) by (out, in, 3), as one matrix product."""
    padded = np.pad(x, ((0, 0), (1, 1)))
    frames = (x.shape[1] - 1) // stride + 1
    taps = [padded[:, k : k + stride * (frames - 1) + 1 : stride] for k in range(3)]
    stacked = np.concatenate(taps, axis=0)  # (3 * in, frames), tap-major
    flat = np.transpose(weight, (0, 2, 1)).reshape(weight.shape[0], -1)  # (out, 3 * in), tap-major
    return flat @ stacked + bias[:, None]


class ConvFrontEnd:
    """The real conv1 → GELU → conv2 of a Whisper model, as CTranslate2 input for its exact copy."""

    def __init__(self, model: CT2Model) -> None:
        self.w1 = model.weight(f"{_CONV1}/weight").astype(np.float64)
        self.b1 = model.weight(f"{_CONV1}/bias").astype(np.float64)
        self.w2 = model.weight(f"{_CONV2}/weight").astype(np.float64)
        self.b2 = model.weight(f"{_CONV2}/bias").astype(np.float64)
        self.width = self.w2.shape[0]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(n_mels, frames) or (batch, n_mels, frames) log-mel → (…, width, frames) float32."""
        batch = features if features.ndim == 3 else features[None]
        out = np.full((batch.shape[0], self.width, batch.shape[2]), SHIFT, dtype=np.float32)
        for i, mel in enumerate(batch):
            hidden = gelu(_conv1d(mel.astype(np.float64), self.w1, self.b1, 1))
            z = _conv1d(hidden, self.w2, self.b2, 2)
            out[i, :, 0::2] = (np.maximum(z, -CLIP) + SHIFT).astype(np.float32)
        return out if features.ndim == 3 else out[0]


def exact_copy(model: CT2Model) -> CT2Model:
    """The model with identity convolutions, to be fed ``ConvFrontEnd``'s output."""
    if model.spec != "WhisperSpec" or not model.has(f"{_CONV1}/weight") or not model.has(f"{_CONV2}/weight"):
        raise ConfigError("不是 Whisper 模型 (not a CTranslate2 Whisper model)")
    conv2 = model.raw(f"{_CONV2}/weight")
    width = conv2.shape[0]
    identity = np.zeros((width, width, 3), dtype=conv2.dtype)
    identity[np.arange(width), np.arange(width), 1] = 1
    variables = dict(model.variables)
    variables[f"{_CONV1}/weight"] = identity
    variables[f"{_CONV1}/bias"] = np.zeros(width, dtype=model.raw(f"{_CONV1}/bias").dtype)
    variables[f"{_CONV2}/weight"] = identity
    variables[f"{_CONV2}/bias"] = np.full(width, -SHIFT, dtype=model.raw(f"{_CONV2}/bias").dtype)
    return replace(model, variables=variables)
