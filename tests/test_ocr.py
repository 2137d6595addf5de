"""Screenshots rendered from known Chinese text (light and dark, phone resolutions), read offline
with the network blocked: text accuracy, sides, times, flags on the right lines and boxes, the
annotated copy, and the original left untouched."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import screenshot_fixtures as shots  # tests/ is on sys.path (pytest prepend import mode)

from pipeline.errors import InputError
from pipeline.messages.importer import discover_messages, import_messages
from pipeline.messages.layout import build_layout, join_lines
from pipeline.messages.model import OcrLine
from pipeline.messages.ocr import ScreenshotReader, heif_available, load_image
from pipeline.metrics import edit_distance
from pipeline.rules import load_engine
from pipeline.store.messages import open_store

FONT = shots.find_cjk_font()
pytestmark = pytest.mark.skipif(FONT is None, reason=f"no CJK font for rendering screenshots: {shots.APT_LINE}")

LIGHT = [
    shots.Bubble("left", "您好，我是XX金融催收部的，您的借款已经逾期三十天了，今天必须还款。", "昨天 22:31"),
    shots.Bubble("right", "我知道了，这个月底一定还。"),
    shots.Bubble("left", "再不还钱就爆你通讯录，让你全家都知道你欠钱不还！"),
    shots.Bubble("left", "老赖，你自己看着办吧", "23:05"),
    shots.Bubble("right", "请不要再打扰我的家人"),
]
DARK = [
    shots.Bubble("left", "你好，你的快递到了，放在门口了。", "1月15日 上午9:12"),
    shots.Bubble("right", "好的谢谢"),
    shots.Bubble("left", "我们已经联系了你的单位领导，下午三点上门核实。"),
    shots.Bubble("right", "你们这样是违法的，不要去我公司！"),
    shots.Bubble("left", "三天内不处理，就把你欠钱的事发到朋友圈曝光。", "晚上11:40"),
]
LIGHT_NAME = "Screenshot_2024-01-16-22-35-10-123_com.tencent.mm.png"
DARK_NAME = "微信图片_20240116090000.jpg"


@dataclass
class OcrCase:
    store: object
    truth: dict[str, shots.Screenshot]  # file name -> rendered truth
    sources: dict[str, object]  # file name -> MessageSourceRow
    originals: dict[str, tuple[bytes, float]]
    case_dir: Path


def _blocked(*args: object, **kwargs: object) -> None:
    raise OSError("network blocked by test_ocr")


@pytest.fixture(scope="module")
def ocr_case(tmp_path_factory: pytest.TempPathFactory) -> OcrCase:
    root = tmp_path_factory.mktemp("ocr")
    light = shots.render_chat(LIGHT, FONT, theme="light", size=(1080, 2400), title="138 0013 8000")
    dark = shots.render_chat(DARK, FONT, theme="dark", size=(1080, 2340), title="13912345678")
    (root / "INPUT" / "同事王某").mkdir(parents=True)
    (root / "INPUT" / "本人").mkdir()
    light.image.save(root / "INPUT" / "同事王某" / LIGHT_NAME)
    dark.image.save(root / "INPUT" / "本人" / DARK_NAME, quality=90)
    paths = discover_messages(root / "INPUT")
    originals = {p.name: (p.read_bytes(), p.stat().st_mtime) for p in paths}
    with pytest.MonkeyPatch.context() as mp:  # everything from model loading to OCR runs offline
        mp.setattr(socket.socket, "connect", _blocked)
        mp.setattr(socket, "create_connection", _blocked)
        mp.setattr(socket, "getaddrinfo", _blocked)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", 9))
        store = open_store(root / "case")
        report = import_messages(store, paths, load_engine(), root / "INPUT", reader=ScreenshotReader())
    assert [o.status for o in report.outcomes] == ["done", "done"], [o.error for o in report.outcomes]
    sources = {Path(s.source_path).name: s for s in store.message_sources()}
    yield OcrCase(store, {LIGHT_NAME: light, DARK_NAME: dark}, sources, originals, root / "case")
    store.close()


def _messages(case: OcrCase, name: str) -> list:
    return sorted(case.store.messages(case.sources[name].id), key=lambda m: m.idx)


def char_accuracy(truth: str, read: str) -> float:
    return 1 - edit_distance(truth, read) / max(1, len(truth))


@pytest.mark.parametrize("name", [LIGHT_NAME, DARK_NAME])
def test_text_and_sides(ocr_case: OcrCase, name: str) -> None:
    truth = ocr_case.truth[name].bubbles
    messages = _messages(ocr_case, name)
    assert len(messages) == len(truth)
    total = "".join(t.text for t in truth)
    accuracy = char_accuracy(total, "".join(m.text for m in messages))
    print(f"{name}: character accuracy {accuracy:.4f}")
    assert accuracy >= 0.95
    assert [m.direction for m in messages] == [{"left": "received", "right": "sent"}[t.side] for t in truth]
    for message in messages:
        assert message.ocr and all(0 < line["confidence"] <= 1 for line in message.ocr)
        assert message.confidence == min(line["confidence"] for line in message.ocr)
        assert len(message.ocr[0]["box"]) == 4


def test_counterpart_and_times(ocr_case: OcrCase) -> None:
    light, dark = _messages(ocr_case, LIGHT_NAME), _messages(ocr_case, DARK_NAME)
    assert {m.number for m in light} == {"13800138000"} and {m.number for m in dark} == {"13912345678"}
    # "昨天 22:31" / "23:05" against the capture time in the file name (2024-01-16 22:35)
    assert light[0].start == datetime(2024, 1, 15, 22, 31) and light[3].start == datetime(2024, 1, 16, 23, 5)
    assert dark[0].start == datetime(2024, 1, 15, 9, 12) and dark[4].start == datetime(2024, 1, 16, 23, 40)
    assert any("推算" in note for note in light[0].notes)


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller rectangle."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller


def _rect(box: list) -> tuple:
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    return min(xs), min(ys), max(xs), max(ys)


@pytest.mark.parametrize(("name", "expected"), [
    (LIGHT_NAME, {2: {"CONTACTS_BLAST"}, 3: {"INSULT"}}),
    (DARK_NAME, {2: {"THIRD_PARTY_CONTACT", "HOME_WORK_VISIT"}, 4: {"EXPOSURE"}}),
])
def test_flags_on_the_right_lines_and_boxes(ocr_case: OcrCase, name: str, expected: dict[int, set[str]]) -> None:
    truth = ocr_case.truth[name].bubbles
    messages = _messages(ocr_case, name)
    flags = ocr_case.store.message_flags(source_id=ocr_case.sources[name].id, level="text")
    found: dict[int, set[str]] = {}
    for flag in flags:
        index = next(m.idx for m in messages if m.id == flag.message_id)
        found.setdefault(index, set()).add(flag.category)
        bubble = truth[index]
        start = bubble.text.find(flag.match_text)
        assert start >= 0, (flag.match_text, bubble.text)
        offsets, lines_hit = 0, []
        for line, line_box in zip(bubble.lines, bubble.line_boxes, strict=True):
            if offsets < start + len(flag.match_text) and offsets + len(line) > start:
                lines_hit.append(line_box)
            offsets += len(line)
        assert len(flag.boxes) == len(lines_hit)
        for line_box in lines_hit:
            assert max(_overlap(_rect(b), line_box) for b in flag.boxes) > 0.8
    for index, categories in expected.items():
        assert categories <= found.get(index, set()), (index, found)
    assert all(truth[i].side == "left" for i in found)  # nothing on the borrower's own bubbles


def test_annotated_copy_and_original_untouched(ocr_case: OcrCase) -> None:
    from PIL import Image

    for name, (data, mtime) in ocr_case.originals.items():
        source = ocr_case.sources[name]
        path = Path(source.source_path)
        assert path.read_bytes() == data and path.stat().st_mtime == mtime
        annotated = ocr_case.case_dir / "messages" / source.id / "annotated.png"
        assert annotated.exists() and annotated.resolve() != path.resolve()
        with Image.open(annotated) as copy, Image.open(path) as original:
            assert copy.size == original.size
            flag = ocr_case.store.message_flags(source_id=source.id, level="text")[0]
            x0, y0, x1, y1 = (int(v) for v in _rect(flag.boxes[0]))
            red = copy.convert("RGB").getpixel((x0 - 2, (y0 + y1) // 2))
            assert red[0] > 200 and red[1] < 60 and red[2] < 60  # the box outline is drawn


def test_heic_and_broken_images(tmp_path: Path) -> None:
    image = shots.render_chat(LIGHT[:2], FONT, size=(720, 1600)).image
    broken = tmp_path / "broken.png"
    image.save(broken)
    broken.write_bytes(broken.read_bytes()[:300])
    with pytest.raises(InputError, match="图片损坏"):
        load_image(broken)
    if not heif_available():
        pytest.skip("pillow-heif not installed: HEIC screenshots are refused with a clear message")
    heic = tmp_path / "IMG_0001.HEIC"
    image.save(heic, format="HEIF", quality=90)
    decoded, _ = load_image(heic)
    assert decoded.size == (720, 1600) and decoded.mode == "RGB"


def test_ocr_models_recorded(ocr_case: OcrCase) -> None:
    meta = ocr_case.sources[LIGHT_NAME].meta
    assert meta["ocr"]["package"] == "rapidocr-onnxruntime"
    assert {"ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"} <= set(meta["ocr"]["models"])
    assert meta["title"] == "138 0013 8000" and meta["size"] == [1080, 2400]


def _line(text: str, x0: float, y0: float, x1: float, y1: float) -> OcrLine:
    return OcrLine(text, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], 0.99)


def test_layout_without_ocr_full_width_bubbles_by_colour() -> None:
    """Every bubble spans nearly the whole width: sides come from the bubble colour."""
    import numpy as np

    width, height = 1000, 2200
    image = np.full((height, width, 3), 237, dtype=np.uint8)
    image[400:560, 150:860] = (255, 255, 255)  # received: white
    image[600:700, 140:850] = (149, 236, 105)  # sent: WeChat green
    lines = [
        _line("14:02", 420, 40, 500, 80),  # status bar
        _line("张三", 440, 140, 560, 190),  # title
        _line("昨天 22:31", 420, 320, 580, 360),  # centred time label
        _line("第一行很长很长很长很长很长很长很长", 180, 420, 840, 470),
        _line("第二行", 180, 490, 300, 540),
        _line("我这边的回复也很长很长很长很长很长", 170, 620, 830, 670),
        _line("以下为新消息", 400, 760, 600, 800),  # centred, not a time: a separator
        _line("发送", 880, 2100, 960, 2150),  # input bar
    ]
    layout = build_layout(lines, width, height, image=image, captured=datetime(2024, 1, 16, 9, 0))
    assert layout.title == "张三" and [line.text for line in layout.separators] == ["昨天 22:31", "以下为新消息"]
    assert [[line.text for line in b.lines] for b in layout.bubbles] == [
        ["第一行很长很长很长很长很长很长很长", "第二行"], ["我这边的回复也很长很长很长很长很长"]]
    assert [(b.side, b.side_reason) for b in layout.bubbles] == [("left", "saturation"), ("right", "saturation")]
    assert layout.bubbles[0].time == datetime(2024, 1, 15, 22, 31)
    assert join_lines(["wrapped Eng", "lish", "中文"]) == ("wrapped Eng lish中文", [(0, 11), (12, 16), (16, 18)])
