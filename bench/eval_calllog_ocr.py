"""Call-log screenshot reading: row accuracy (number or name, time, type) on rendered screens of five
phone styles (MIUI, EMUI, ColorOS, OriginOS, iOS; light and dark), read with the project's OCR.

    python bench/eval_calllog_ocr.py [--screens 30]

A row is right when the entry at its position has the same number (or contact name), the start the
production resolver gives its label, the type the screen conveys (icon-only styles: 'unknown' for
answered calls) and the count badge. Numbers are invented.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.calllog.screen import parse_call_log_lines  # noqa: E402
from pipeline.callmeta import canonical_number  # noqa: E402
from pipeline.messages.ocr import ScreenshotReader  # noqa: E402
from tests.calllog_fixtures import STYLES, CallRow, render_call_log  # noqa: E402
from tests.screenshot_fixtures import find_cjk_font  # noqa: E402

NAMES = ["催收王经理", "张律师", "某某金融", "快贷客服", "李主管", "法务部"]
LABELS = ["22:31", "08:05", "21:47", "昨天", "前天", "星期一", "星期六", "12月1日", "11月28日", "2023/11/20", "上午9:12",
          "下午3:05", "昨天 23:10"]
TYPES = ["missed", "missed", "missed", "incoming", "outgoing", "rejected", "blocked"]


def random_rows(rng: random.Random) -> list[CallRow]:
    rows = []
    for _ in range(rng.randint(6, 9)):
        who = rng.choice(NAMES) if rng.random() < 0.25 else \
            f"1{rng.choice('3578')}{rng.randint(0, 9)} {rng.randint(0, 9999):04d} {rng.randint(0, 9999):04d}"
        kind = rng.choice(TYPES)
        rows.append(CallRow(who, kind, rng.choice(LABELS), count=rng.choice([1, 1, 1, 2, 3]) if kind == "missed" else 1,
                            place=rng.choice(["广东深圳", "北京", "浙江杭州", "四川成都"]),
                            duration=rng.choice(["1分23秒", "45秒", "3分02秒"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screens", type=int, default=30)
    args = parser.parse_args()
    font = find_cjk_font()
    if font is None:
        sys.exit("no CJK font (apt-get install fonts-noto-cjk)")
    reader, rng = ScreenshotReader(), random.Random(15)
    captured = datetime(2024, 1, 17, 22, 35)
    totals: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    for i in range(args.screens):
        style, dark = STYLES[i % len(STYLES)], i % 3 == 2
        rows = random_rows(rng)
        image, truths = render_call_log(rows, font, style=style, dark=dark)
        lines = reader.read_lines(np.asarray(image))
        parsed = parse_call_log_lines(lines, image.width, image.height, image=np.asarray(image), captured=captured)
        stats = totals.setdefault(style, {"rows": 0, "found": 0, "party": 0, "time": 0, "type": 0, "all": 0})
        from pipeline.calllog.screen_times import resolve

        for index, truth in enumerate(truths):
            stats["rows"] += 1
            entry = parsed.entries[index] if index < len(parsed.entries) else None
            if entry is None:
                continue
            stats["found"] += 1
            row = truth.row
            party_ok = (entry.number == canonical_number(row.who)) if row.who[0].isdigit() else entry.contact_name == row.who
            time_ok = entry.start == resolve(row.time_label, captured).when
            type_ok = entry.type == truth.expected_type and entry.count == row.count
            stats["party"] += party_ok
            stats["time"] += time_ok
            stats["type"] += type_ok
            stats["all"] += party_ok and time_ok and type_ok
    seconds = time.perf_counter() - started
    print(f"{'style':10} rows  found  number/name  time   type+badge  all")
    grand = {k: 0 for k in ("rows", "found", "party", "time", "type", "all")}
    for style, s in totals.items():
        for k in grand:
            grand[k] += s[k]
        print(f"{style:10} {s['rows']:4}  {s['found']:5}  {s['party'] / s['rows']:.3f}        "
              f"{s['time'] / s['rows']:.3f}  {s['type'] / s['rows']:.3f}       {s['all'] / s['rows']:.3f}")
    g = grand
    print(f"{'all':10} {g['rows']:4}  {g['found']:5}  {g['party'] / g['rows']:.3f}        {g['time'] / g['rows']:.3f}  "
          f"{g['type'] / g['rows']:.3f}       {g['all'] / g['rows']:.3f}")
    print(f"{args.screens} screens in {seconds:.0f} s ({seconds / args.screens:.1f} s per screen, OCR included)")


if __name__ == "__main__":
    main()
