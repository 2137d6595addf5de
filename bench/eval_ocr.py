"""OCR of chat screenshots rendered from known text: character accuracy, sides, speed.

    python bench/eval_ocr.py            # all screenshots (light/dark, 720p to 1440p, PNG and JPEG)
    python bench/eval_ocr.py --quick    # two screenshots

Character accuracy = 1 - edit distance / reference length over all bubbles of a screenshot, on
the raw text (punctuation counts) and in CER form (pipeline.metrics: no punctuation or spaces).
Also prints the rule engine's false-positive rate on tests/data/everyday_sms_zh.txt (every line
treated as a received message). Needs a CJK font (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))

import screenshot_fixtures as shots  # noqa: E402

from pipeline.messages.model import Message  # noqa: E402
from pipeline.messages.ocr import ScreenshotReader, parse_screenshot  # noqa: E402
from pipeline.metrics import cer, edit_distance  # noqa: E402
from pipeline.msgrules import flag_message_text  # noqa: E402
from pipeline.rules import load_engine  # noqa: E402

B = shots.Bubble
CONVERSATIONS = {
    "collector": [
        B("left", "您好，我是XX金融催收部的，您的借款已经逾期三十天了，今天必须还款。", "昨天 22:31"),
        B("right", "我知道了，这个月底一定还。"),
        B("left", "再不还钱就爆你通讯录，让你全家都知道你欠钱不还！"),
        B("left", "老赖，你自己看着办吧", "23:05"),
        B("right", "请不要再打扰我的家人"),
    ],
    "contacts": [
        B("left", "你好，请问你是王小明的同事吗？", "1月15日 上午9:12"),
        B("right", "是的，有什么事？"),
        B("left", "他在我们平台借款12,800元逾期未还，请转告他今天18:00前处理，否则我们会联系你们单位领导。"),
        B("right", "这是他的私事，请不要再联系我。"),
        B("left", "三天内不处理，就把他欠钱的事发到朋友圈曝光，案件编号2024-0115-0032。", "晚上11:40"),
    ],
    "everyday": [
        B("left", "妈，我今晚加班，晚点回家，你们先吃饭。", "星期一 18:20"),
        B("right", "好的，路上注意安全，饭给你留着。"),
        B("left", "周末带孩子回去看你们，顺便把体检报告拿给爸看看。"),
        B("right", "好，你爸血压最近挺稳定的，别担心。"),
        B("left", "快递到了帮我收一下，取件码3-2-1056。"),
    ],
}
SCREENSHOTS = [  # conversation, theme, size, format
    ("collector", "light", (1080, 2400), "png"),
    ("collector", "dark", (1080, 2400), "jpeg"),
    ("contacts", "light", (720, 1600), "jpeg"),
    ("contacts", "dark", (1170, 2532), "png"),
    ("everyday", "light", (1440, 3200), "png"),
    ("everyday", "dark", (1080, 2340), "jpeg"),
]


def evaluate(out_dir: Path, quick: bool) -> list[dict]:
    font = shots.find_cjk_font()
    if font is None:
        sys.exit(f"no CJK font: {shots.APT_LINE}")
    reader = ScreenshotReader()
    rows = []
    for i, (name, theme, size, fmt) in enumerate(SCREENSHOTS[:2] if quick else SCREENSHOTS):
        shot = shots.render_chat(CONVERSATIONS[name], font, theme=theme, size=size)
        path = out_dir / f"Screenshot_2024-01-16-22-35-{i:02d}_{name}_{theme}.{'jpg' if fmt == 'jpeg' else 'png'}"
        shot.image.save(path, quality=85) if fmt == "jpeg" else shot.image.save(path)
        t0 = time.perf_counter()
        parsed = parse_screenshot(path, reader)
        seconds = time.perf_counter() - t0
        truth = "".join(b.text for b in shot.bubbles)
        read = "".join(m.text for m in parsed.messages)
        sides_ok = [m.direction for m in parsed.messages] == [
            {"left": "received", "right": "sent"}[b.side] for b in shot.bubbles]
        rows.append({
            "screenshot": f"{name} {theme} {size[0]}×{size[1]} {fmt}",
            "chars": len(truth),
            "accuracy": 1 - edit_distance(truth, read) / len(truth),
            "accuracy_cer_form": 1 - cer(truth, read),
            "bubbles": f"{len(parsed.messages)}/{len(shot.bubbles)}",
            "sides_ok": sides_ok,
            "seconds": seconds,
        })
    return rows


def false_positive_rate() -> tuple[int, int, list[tuple[str, list[str]]]]:
    rules = load_engine()
    lines = [line for line in (ROOT / "tests" / "data" / "everyday_sms_zh.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    hits = []
    for line in lines:
        categories = [f.category for f in flag_message_text(Message(0, "sms", "received", line), rules)]
        if categories:
            hits.append((line, categories))
    return len(hits), len(lines), hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two screenshots only")
    parser.add_argument("--out", type=Path, default=Path("/tmp/callproof_eval_ocr"), help="where screenshots go")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = evaluate(args.out, args.quick)
    print("| screenshot | chars | char accuracy | accuracy (CER form) | bubbles | sides | s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['screenshot']} | {r['chars']} | {r['accuracy']:.4f} | {r['accuracy_cer_form']:.4f} | "
              f"{r['bubbles']} | {'ok' if r['sides_ok'] else 'WRONG'} | {r['seconds']:.1f} |")
    chars = sum(r["chars"] for r in rows)
    overall = sum(r["accuracy"] * r["chars"] for r in rows) / chars
    print(f"\noverall character accuracy {overall:.4f} over {chars} characters, {len(rows)} screenshots; "
          f"sides right in {sum(r['sides_ok'] for r in rows)}/{len(rows)}; "
          f"mean {sum(r['seconds'] for r in rows) / len(rows):.1f} s per screenshot")
    hits, total, examples = false_positive_rate()
    print(f"everyday SMS false-positive rate: {hits}/{total} = {hits / total:.3f}")
    for line, categories in examples:
        print(f"  {categories}: {line}")


if __name__ == "__main__":
    main()
