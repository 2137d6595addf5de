"""Convert a CTranslate2 (faster-whisper) Whisper model into an openai-whisper checkpoint.

The bundled weights ship only in CTranslate2 format (ASR.md). openai-whisper loads a
``{"dims": ..., "model_state_dict": ...}`` checkpoint, so the variables of ``model.bin`` are
renamed, CTranslate2's fused projections are split, and the alignment heads from the
model's ``config.json`` are stored beside the weights (``load_model`` ignores extra keys;
``load_converted`` applies them, without which word timestamps are wrong).

``model.bin`` layout (ctranslate2/specs/model_spec.py ``_serialize``), little-endian:
uint32 binary version; string spec name; uint32 spec revision; uint32 variable count; per
variable: string name, uint8 rank, uint32 dims[rank], uint8 dtype id, uint32 byte count,
raw bytes; then uint32 alias count and (alias, target) string pairs. A string is a uint16
length (counting a trailing NUL) followed by that many bytes.
"""

from __future__ import annotations

import base64
import gzip
import json
import mmap
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError

CONVERTER_VERSION = 1

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_CT2_DTYPES: tuple[str, ...] = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


@dataclass
class CT2Model:
    """The parsed contents of a CTranslate2 ``model.bin``."""

    spec: str
    spec_revision: int
    binary_version: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        return self.aliases.get(name, name)

    def has(self, name: str) -> bool:
        return self.resolve(name) in self.variables

    def raw(self, name: str) -> np.ndarray:
        try:
            return self.variables[self.resolve(name)]
        except KeyError:
            raise ConfigError(f"CTranslate2 模型缺少变量 {name} (variable {name} missing from model.bin)") from None

    def weight(self, name: str) -> np.ndarray:
        """A float tensor; int8/int16-quantized weights are dequantized with their ``*_scale``."""
        value = self.raw(name)
        if value.dtype in (np.float16, np.float32):
            return value
        scale_name = f"{name}_scale"
        if value.dtype in (np.int8, np.int16) and self.has(scale_name):
            scale = self.raw(scale_name).astype(np.float32)
            if scale.ndim == 1 and value.ndim >= 1:
                scale = scale.reshape(-1, *([1] * (value.ndim - 1)))
            return value.astype(np.float32) / scale
        if value.dtype == np.uint16:  # bfloat16, kept as its raw bits
            return (value.astype(np.uint32) << 16).view(np.float32)
        raise ConfigError(f"无法转换变量 {name} 的类型 {value.dtype} (unsupported dtype {value.dtype} for {name})")

    def scalar(self, name: str) -> int | None:
        return int(self.raw(name).reshape(-1)[0]) if self.has(name) else None


def read_ct2_model(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 ``model.bin``; tensors are read-only views of a memory map."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        raise ConfigError(f"{path}: 无法读取模型文件 (cannot read model file: {exc})") from exc
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, buffer, pos)
        pos += struct.calcsize(fmt)
        return value

    def take_string() -> str:
        nonlocal pos
        length = take("H")
        text = bytes(buffer[pos : pos + length]).rstrip(b"\0").decode("utf-8")
        pos += length
        return text

    try:
        version = take("I")
        if version < 4:
            raise ConfigError(
                f"{path}: CTranslate2 模型格式版本 {version} 过旧，请用新版 ctranslate2 重新转换 "
                f"(model.bin binary version {version} is too old; re-convert with a recent ctranslate2)"
            )
        spec = take_string()
        revision = take("I")
        variables: dict[str, np.ndarray] = {}
        for _ in range(take("I")):
            name = take_string()
            shape = tuple(take("I") for _ in range(take("B")))
            dtype_id = take("B")
            num_bytes = take("I")
            if dtype_id >= len(_CT2_DTYPES):
                raise ConfigError(f"{path}: 未知数据类型 {dtype_id} (unknown dtype id {dtype_id} for {name})")
            dtype_name = _CT2_DTYPES[dtype_id]
            np_dtype = np.dtype(np.uint16 if dtype_name == "bfloat16" else dtype_name)
            count = num_bytes // np_dtype.itemsize
            variables[name] = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=pos).reshape(shape)
            pos += num_bytes
        aliases = {}
        for _ in range(take("I")):
            alias = take_string()
            aliases[alias] = take_string()
    except (struct.error, ValueError) as exc:
        raise ConfigError(f"{path}: 不是有效的 CTranslate2 model.bin (not a valid CTranslate2 model.bin: {exc})") from exc
    return CT2Model(spec=spec, spec_revision=revision, binary_version=version, variables=variables, aliases=aliases)


def write_ct2_model(model: CT2Model, path: str | Path) -> None:
    """Write ``model`` as a CTranslate2 ``model.bin`` (the layout ``read_ct2_model`` parses)."""

    def string(text: str) -> bytes:
        raw = text.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", model.binary_version) + string(model.spec) + struct.pack("<I", model.spec_revision))
        fh.write(struct.pack("<I", len(model.variables)))
        for name, value in model.variables.items():
            dtype_name = "bfloat16" if value.dtype == np.uint16 else value.dtype.name
            fh.write(string(name) + struct.pack("<B", value.ndim))
            fh.write(b"".join(struct.pack("<I", dim) for dim in value.shape))
            fh.write(struct.pack("<BI", _CT2_DTYPES.index(dtype_name), value.nbytes))
            fh.write(np.ascontiguousarray(value).tobytes())
        fh.write(struct.pack("<I", len(model.aliases)))
        for alias, target in model.aliases.items():
            fh.write(string(alias) + string(target))


def _count_layers(model: CT2Model, prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in model.variables if (m := pattern.match(name))}
    return max(indices) + 1 if indices else 0


def whisper_dims(model: CT2Model) -> dict[str, int]:
    """openai-whisper ``ModelDimensions`` of a CTranslate2 Whisper model."""
    if model.spec != "WhisperSpec":
        raise ConfigError(f"不是 Whisper 模型 (CTranslate2 spec is {model.spec!r}, expected 'WhisperSpec')")
    n_mels = model.raw("encoder/conv1/weight").shape[1]
    audio_ctx, audio_state = model.raw("encoder/position_encodings/encodings").shape
    n_vocab, text_state = model.raw("decoder/embeddings/weight").shape
    text_ctx = model.raw("decoder/position_encodings/encodings").shape[0]
    # Every Whisper size uses 64-dimensional heads; older specs did not store num_heads.
    return {
        "n_mels": int(n_mels),
        "n_audio_ctx": int(audio_ctx),
        "n_audio_state": int(audio_state),
        "n_audio_head": model.scalar("encoder/num_heads") or audio_state // 64,
        "n_audio_layer": _count_layers(model, "encoder"),
        "n_vocab": int(n_vocab),
        "n_text_ctx": int(text_ctx),
        "n_text_state": int(text_state),
        "n_text_head": model.scalar("decoder/num_heads") or text_state // 64,
        "n_text_layer": _count_layers(model, "decoder"),
    }


def _linear(model: CT2Model, src: str, dst: str, out: dict[str, np.ndarray]) -> None:
    out[f"{dst}.weight"] = model.weight(f"{src}/weight")
    if model.has(f"{src}/bias"):
        out[f"{dst}.bias"] = model.weight(f"{src}/bias")


def _layer_norm(model: CT2Model, src: str, dst: str, out: dict[str, np.ndarray]) -> None:
    out[f"{dst}.weight"] = model.weight(f"{src}/gamma")
    out[f"{dst}.bias"] = model.weight(f"{src}/beta")


def _split_projection(model: CT2Model, src: str, dsts: tuple[str, ...], out: dict[str, np.ndarray]) -> None:
    """Split a fused linear into len(dsts) equal row blocks, in order (q, k, v or k, v).

    openai-whisper's key projection has no bias. CTranslate2 stores zeros there, and any key
    bias adds the same q·b to every score of a query, which softmax cancels: dropping it is exact.
    """
    weights = np.split(model.weight(f"{src}/weight"), len(dsts), axis=0)
    biases = np.split(model.weight(f"{src}/bias"), len(dsts), axis=0)
    for dst, weight, bias in zip(dsts, weights, biases, strict=True):
        out[f"{dst}.weight"] = weight
        if not dst.endswith(".key"):
            out[f"{dst}.bias"] = bias


def _block(model: CT2Model, src: str, dst: str, cross: bool, out: dict[str, np.ndarray]) -> None:
    self_attn = f"{src}/self_attention"
    _split_projection(model, f"{self_attn}/linear_0", (f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"), out)
    _linear(model, f"{self_attn}/linear_1", f"{dst}.attn.out", out)
    _layer_norm(model, f"{self_attn}/layer_norm", f"{dst}.attn_ln", out)
    if cross:
        attn = f"{src}/attention"
        _linear(model, f"{attn}/linear_0", f"{dst}.cross_attn.query", out)
        _split_projection(model, f"{attn}/linear_1", (f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"), out)
        _linear(model, f"{attn}/linear_2", f"{dst}.cross_attn.out", out)
        _layer_norm(model, f"{attn}/layer_norm", f"{dst}.cross_attn_ln", out)
    _linear(model, f"{src}/ffn/linear_0", f"{dst}.mlp.0", out)
    _linear(model, f"{src}/ffn/linear_1", f"{dst}.mlp.2", out)
    _layer_norm(model, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", out)


def openai_state_arrays(model: CT2Model) -> dict[str, np.ndarray]:
    """openai-whisper state-dict names → arrays (float16 stays float16, anything else float32)."""
    dims = whisper_dims(model)
    out: dict[str, np.ndarray] = {}
    for conv in ("conv1", "conv2"):
        _linear(model, f"encoder/{conv}", f"encoder.{conv}", out)
    out["encoder.positional_embedding"] = model.weight("encoder/position_encodings/encodings")
    for i in range(dims["n_audio_layer"]):
        _block(model, f"encoder/layer_{i}", f"encoder.blocks.{i}", False, out)
    _layer_norm(model, "encoder/layer_norm", "encoder.ln_post", out)

    out["decoder.token_embedding.weight"] = model.weight("decoder/embeddings/weight")
    out["decoder.positional_embedding"] = model.weight("decoder/position_encodings/encodings")
    for i in range(dims["n_text_layer"]):
        _block(model, f"decoder/layer_{i}", f"decoder.blocks.{i}", True, out)
    _layer_norm(model, "decoder/layer_norm", "decoder.ln", out)

    # openai-whisper ties the output projection to the token embedding.
    projection = model.resolve("decoder/projection/weight")
    untied = projection != model.resolve("decoder/embeddings/weight") and model.has(projection)
    if untied and not np.array_equal(model.weight(projection), out["decoder.token_embedding.weight"]):
        raise ConfigError("输出投影与词嵌入不一致，无法转换 (output projection is not tied to the embeddings)")
    if model.has("decoder/projection/bias"):
        raise ConfigError("输出投影带偏置，无法转换 (output projection has a bias; openai-whisper has none)")
    return {k: v if v.dtype == np.float16 else v.astype(np.float32) for k, v in out.items()}


def alignment_heads_dump(heads: list[list[int]], n_text_layer: int, n_text_head: int) -> bytes:
    """Encode (layer, head) pairs the way ``Whisper.set_alignment_heads`` reads them."""
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def read_alignment_heads(model_dir: Path) -> list[list[int]] | None:
    config = model_dir / "config.json"
    if not config.is_file():
        return None
    heads = json.loads(config.read_text(encoding="utf-8")).get("alignment_heads")
    return [[int(layer), int(head)] for layer, head in heads] if heads else None


@dataclass
class Conversion:
    output: Path
    dims: dict[str, int]
    alignment_heads: list[list[int]] | None
    tensors: int


def convert_ct2_to_openai(model_dir: str | Path, output: str | Path, *, metadata: dict[str, Any] | None = None) -> Conversion:
    """Write ``output`` (an openai-whisper checkpoint) from the CTranslate2 model in ``model_dir``.

    The file is written beside ``output`` and renamed into place, so a reader never sees half of it.
    The bytes are deterministic for a given model, metadata and torch version.
    """
    import torch

    model_dir, output = Path(model_dir), Path(output)
    model = read_ct2_model(model_dir / "model.bin")
    dims = whisper_dims(model)
    heads = read_alignment_heads(model_dir)
    state = {name: torch.from_numpy(np.array(array)) for name, array in openai_state_arrays(model).items()}
    checkpoint: dict[str, Any] = {"dims": dims, "model_state_dict": state}
    if heads:
        checkpoint["alignment_heads"] = heads
    checkpoint["callproof"] = {"converter_version": CONVERTER_VERSION, **(metadata or {})}
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f"{output.name}.{os.getpid()}.partial")
    # Saving through a file object names the archive "archive" instead of after the path,
    # so the same model and metadata always give the same bytes (and SHA-256).
    with open(partial, "wb") as fh:
        torch.save(checkpoint, fh)
    os.replace(partial, output)
    return Conversion(output=output, dims=dims, alignment_heads=heads, tensors=len(state))


def load_converted(path: str | Path, device: str = "cpu") -> Any:
    """Load an openai-whisper checkpoint and apply its stored alignment heads (or the official ones)."""
    import torch
    import whisper

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    del checkpoint["model_state_dict"]
    heads = checkpoint.get("alignment_heads")
    official = whisper._ALIGNMENT_HEADS.get(Path(path).stem)
    if heads:
        model.set_alignment_heads(alignment_heads_dump(heads, model.dims.n_text_layer, model.dims.n_text_head))
    elif official is not None and _official_fits(official, model.dims):
        model.set_alignment_heads(official)
    return model.to(device)


def _official_fits(dump: bytes, dims: Any) -> bool:
    size = len(gzip.decompress(base64.b85decode(dump)))
    return size == dims.n_text_layer * dims.n_text_head
