"""A case with calls and messages, for the case HTML, review-app and evidence-pack tests.

The sample calls come from ``review_fixtures.build_case`` (real store, real rules, no ASR);
the messages from the real importer on files written here: an SMS backup for 本人, a QQ chat
export for 母亲 and a WeChat screenshot for 同事王某 (rendered with PIL, read by the real
RapidOCR). OCR of the same pixels runs once per test session (``SessionReader``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import screenshot_fixtures as shots
from review_fixtures import SAMPLES, build_case

from pipeline.messages.importer import discover_messages, import_messages
from pipeline.messages.model import OcrLine
from pipeline.messages.ocr import ScreenshotReader
from pipeline.rules import load_engine
from pipeline.store import CaseStore

COLLECTOR = "13800138000"  # also calls in samples/
PLANTED = "13712345678"  # a third party's number inside a collector's SMS (for --redact)
# epoch ms: 2024-01-15 23:40:00 and 2024-01-16 10:00:00, 10:00:30, 09:00:00 Beijing time
SMS_XML = f"""<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="5">
  <sms address="+86 138 0013 8000" date="1705333200000" type="1" body="再不还钱就爆你通讯录，让全家都知道你是老赖 &lt;script&gt;" />
  <sms address="13800138000" date="1705333260000" type="2" body="请不要再骚扰我" />
  <sms address="95588" date="1705366800000" type="1" body="【工商银行】您尾号1234的卡入账工资5,000.00元。" />
  <sms address="13800138000" date="1705370400000" type="1" body="明天上门催收，你表哥{PLANTED}我们也会打" />
  <sms address="13800138000" date="1705370430000" type="1" body="今天下午三点前务必处理" />
</smses>
"""
QQ_CHAT = """消息记录（此消息记录为文本格式，不支持重新导入）

================================================================
消息分组:我的好友
================================================================
消息对象:催收-李四
================================================================

2024-01-16 12:00:00 催收-李四
你儿子欠钱不还，我们会把他欠钱的事发到朋友圈曝光

2024-01-16 12:05:00 妈妈
你们不要再打了
"""
SHOT_NAME = "Screenshot_2024-01-17-14-05-10-123_com.tencent.mm.png"
SHOT_BUBBLES = [
    shots.Bubble("left", "我们已经联系了你的单位领导，下午三点上门核实。", "14:01"),
    shots.Bubble("right", "不要去我公司"),
]


class SessionReader(ScreenshotReader):
    """The real OCR, remembered by image content: the same screenshot is read once per session."""

    _seen: dict[str, list[OcrLine]] = {}

    def read_lines(self, rgb: np.ndarray) -> list[OcrLine]:
        key = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
        if key not in self._seen:
            self._seen[key] = super().read_lines(rgb)
        return self._seen[key]


READER = SessionReader()


@dataclass
class MessageCase:
    case_dir: Path
    inputs: Path
    store: CaseStore
    sms_id: str
    chat_id: str
    shot_id: str


def write_inputs(root: Path, with_screenshot: bool = True) -> Path:
    inputs = root / "INPUT"
    (inputs / "本人").mkdir(parents=True)
    (inputs / "本人" / "sms-20240116.xml").write_text(SMS_XML, encoding="utf-8")
    (inputs / "母亲").mkdir()
    (inputs / "母亲" / "qq.txt").write_text(QQ_CHAT, encoding="utf-8")
    if with_screenshot:
        font = shots.find_cjk_font()
        assert font is not None, f"no CJK font for rendering screenshots: {shots.APT_LINE}"
        shot = shots.render_chat(SHOT_BUBBLES, font, size=(720, 1600), title="138 0013 8000")
        (inputs / "同事王某").mkdir()
        shot.image.save(inputs / "同事王某" / SHOT_NAME)
    return inputs


def build_message_case(root: Path, samples: Path = SAMPLES, with_screenshot: bool = True) -> MessageCase:
    """The sample calls plus the three message files; the caller closes ``.store``."""
    inputs = write_inputs(root, with_screenshot)
    store = build_case(root / "case", samples)
    report = import_messages(store, discover_messages(inputs), load_engine(), inputs, reader=READER)
    assert not report.failed, [o.error for o in report.failed]
    ids = {Path(s.source_path).name: s.id for s in store.message_sources()}
    return MessageCase(root / "case", inputs, store, ids["sms-20240116.xml"], ids["qq.txt"], ids.get(SHOT_NAME, ""))
