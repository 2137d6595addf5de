"""Screenshots of SMS / chat threads -> messages, read offline with rapidocr-onnxruntime.

The ``rapidocr-onnxruntime`` wheel ships its PP-OCRv4 Chinese detection and recognition models
(and a direction classifier) inside the package; nothing is downloaded (tests block the network
while reading). PNG, JPEG and WebP are decoded by Pillow, HEIC/HEIF only when the
``pillow-heif`` wheel is installed. Each text line keeps its box and confidence; lines become
message bubbles by layout (``pipeline.messages.layout``). ``annotate_screenshot`` writes a copy
with chosen lines boxed; the original is only ever opened for reading.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.calls import canonical_number, is_number_like
from pipeline.errors import InputError
from pipeline.messages.layout import build_layout, join_lines
from pipeline.messages.model import Message, OcrLine, ParsedFile
from pipeline.messages.times import capture_time_from_name, parse_datetime

LOW_CONFIDENCE = 0.8
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")


def image_format(head: bytes) -> str | None:
    """png | jpeg | webp | heic from a file's first bytes (content, not extension), else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


@cache
def heif_available() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def load_image(path: Path) -> tuple[Any, datetime | None]:
    """The screenshot as an upright RGB PIL image, and the EXIF capture time if it has one."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    with open(path, "rb") as handle:
        kind = image_format(handle.read(16))
    if kind is None:
        raise InputError(path, "不是可识别的图片（PNG/JPEG/WebP/HEIC）", "not a PNG/JPEG/WebP/HEIC image")
    if kind == "heic" and not heif_available():
        raise InputError(path, "HEIC 图片需要安装 pillow-heif 才能读取，或先转换为 JPG",
                         "HEIC needs the pillow-heif package (or convert to JPEG)")
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(path, f"图片损坏，无法解码：{exc}", f"damaged image, cannot decode: {exc}") from exc
    stamp = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, else DateTime
    captured = None
    if isinstance(stamp, str) and len(stamp) >= 19:
        captured = parse_datetime(stamp[:10].replace(":", "-") + " " + stamp[11:19])
    return upright, captured


@dataclass(frozen=True)
class OcrInfo:
    package: str
    version: str
    models: dict[str, str]  # model file name -> sha256


class ScreenshotReader:
    """One RapidOCR instance (models loaded once, on first use); safe to share between threads."""

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # the dependency is in requirements.txt; this is a broken install
                raise RuntimeError("rapidocr-onnxruntime is not installed (pip install -r requirements.txt)") from exc
            options: dict[str, Any] = {"print_verbose": False}
            if self._threads:
                options.update({"intra_op_num_threads": self._threads, "inter_op_num_threads": 1})
            self._engine = RapidOCR(**options)
        return self._engine

    def read_lines(self, rgb: np.ndarray) -> list[OcrLine]:
        """Every text line of an RGB image: text, four-corner box (pixels), confidence."""
        with self._lock:
            result, _ = self._load()(np.ascontiguousarray(rgb[:, :, ::-1]))
        return [OcrLine(str(text), [[round(float(x), 1), round(float(y), 1)] for x, y in box], round(float(score), 4))
                for box, text, score in (result or []) if str(text).strip()]

    @property
    def info(self) -> OcrInfo:
        return ocr_info()


@cache
def ocr_info() -> OcrInfo:
    """Package version and model hashes: recorded with every screenshot read."""
    import rapidocr_onnxruntime

    models = Path(rapidocr_onnxruntime.__file__).parent / "models"
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(models.glob("*.onnx"))}
    return OcrInfo("rapidocr-onnxruntime", metadata.version("rapidocr-onnxruntime"), hashes)


_shared: ScreenshotReader | None = None


def shared_reader() -> ScreenshotReader:
    global _shared
    if _shared is None:
        _shared = ScreenshotReader()
    return _shared


def parse_screenshot(path: Path, reader: ScreenshotReader | None = None) -> ParsedFile:
    """The messages of one screenshot, in reading order, with line boxes and confidences."""
    path = Path(path)
    image, exif_time = load_image(path)
    rgb = np.asarray(image)
    lines = (reader or shared_reader()).read_lines(rgb)
    captured = capture_time_from_name(path.name) or exif_time
    layout = build_layout(lines, image.width, image.height, image=rgb, captured=captured)
    title = layout.title
    number = canonical_number(title) if title and is_number_like(title) else None
    messages = []
    for bubble in layout.bubbles:
        text, spans = join_lines([line.text for line in bubble.lines])
        confidence = min(line.confidence for line in bubble.lines)
        message = Message(
            index=len(messages), kind="screenshot",
            direction={"left": "received", "right": "sent"}.get(bubble.side or ""),
            text=text, number=number, number_raw=title if number else None,
            contact_name=None if number else title, time=bubble.time,
            time_source="screenshot" if bubble.time else None, time_text=bubble.time_text,
            ocr_lines=bubble.lines, confidence=confidence,
            meta={"line_spans": spans, "side_reason": bubble.side_reason})
        if bubble.time and bubble.time_text and not bubble.time_text.strip()[:4].isdigit():
            message.notes.append("日期由截图时间推算（文件名或 EXIF），请核对")
        if bubble.time is None and bubble.time_text:
            message.notes.append(f"时间“{bubble.time_text}”缺少日期，无法确定")
        if message.direction is None:
            message.notes.append("无法判断是收到还是发出的消息")
        if confidence < LOW_CONFIDENCE:
            message.notes.append(f"文字识别置信度低（{confidence:.2f}），请对照原图核对")
        messages.append(message)
    info = ocr_info()
    meta = {"title": title, "captured": captured.isoformat() if captured else None,
            "size": [image.width, image.height], "separators": [s.text for s in layout.separators],
            "chrome": [c.text for c in layout.chrome],
            "ocr": {"package": info.package, "version": info.version, "models": info.models}}
    return ParsedFile("screenshot", "screenshot", messages, [], meta=meta)


def draw_boxes(image: Any, boxes: list[tuple[list[list[float]], str]]) -> Any:
    """Draw each (box, label) in red on ``image`` (a PIL RGB image, changed in place) and return it."""
    from PIL import ImageDraw, ImageFont

    draw = ImageDraw.Draw(image)
    stroke = max(3, image.width // 270)
    font = ImageFont.load_default(size=max(14, image.width // 40))
    for box, label in boxes:
        points = [(x, y) for x, y in box]
        pad = [(x + (-stroke if i in (0, 3) else stroke), y + (-stroke if i in (0, 1) else stroke))
               for i, (x, y) in enumerate(points)]
        draw.polygon(pad, outline=(230, 0, 0), width=stroke)
        if label:
            left, top = pad[0]
            bbox = draw.textbbox((left, top), label, font=font, anchor="lb")
            draw.rectangle(bbox, fill=(230, 0, 0))
            draw.text((left, top), label, fill=(255, 255, 255), font=font, anchor="lb")
    return image


def annotated_png(source: Path, boxes: list[tuple[list[list[float]], str]]) -> bytes:
    """PNG bytes of a copy of ``source`` with the boxes drawn; the same inputs give the same bytes.

    The original is opened read-only and never written.
    """
    image, _ = load_image(Path(source))
    buffer = io.BytesIO()
    draw_boxes(image, boxes).save(buffer, format="PNG")
    return buffer.getvalue()


def annotate_screenshot(source: Path, boxes: list[tuple[list[list[float]], str]], out_path: Path) -> Path:
    """A copy of ``source`` with each (box, label) drawn in red, written atomically to ``out_path``.

    The original is opened read-only and never written; ``out_path`` must be another file.
    """
    source, out_path = Path(source), Path(out_path)
    if out_path.resolve() == source.resolve():
        raise ValueError("the annotated copy must not overwrite the original")
    data = annotated_png(source, boxes)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = out_path.with_name(out_path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, out_path)
    return out_path
