"""Message import per export format: entries in the file vs imported vs with a time, and recall of
the collector threats planted in each (flagged by the real rule engine after a real import).

    python bench/eval_messages.py            # markdown table on stdout
    python bench/eval_messages.py --json     # the same figures as JSON

The files are tests/message_format_fixtures.py and tests/message_format_fixtures_cn.py: invented
people and numbers in the shapes QQ, WeChat (PC copy, 留痕 CSV/HTML, WechatExporter TXT/HTML),
QQChatExporter (JSON/TXT), SMS Backup & Restore, vMessage (.vmsg/.vmg), Android / MIUI backups,
iMazing, PhoneView, iOS sms.db and Android / HarmonyOS-style SMS databases write. "Entries" counts everything the file holds (drafts, images,
system notices too); "expected" those with text, which should be imported.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))

import message_format_fixtures as fixtures_module  # noqa: E402
import message_format_fixtures_cn as fixtures_cn  # noqa: E402

from pipeline.messages.importer import discover_messages, import_messages  # noqa: E402
from pipeline.rules import load_engine  # noqa: E402
from pipeline.store.messages import open_store  # noqa: E402


def measure(fixture: fixtures_module.Fixture, root: Path, rules) -> dict:  # noqa: ANN001
    inputs = root / "INPUT"
    path = fixture.write(inputs)
    started = time.perf_counter()
    with open_store(root / "case") as store:
        report = import_messages(store, discover_messages(inputs), rules, inputs)
        outcome = next(o for o in report.outcomes if o.path == path)
        rows = store.messages(outcome.source_id) if outcome.source_id else []
        by_id = {m.id: m for m in rows}
        flagged = {by_id[f.message_id].text for f in store.message_flags(source_id=outcome.source_id, level="text")
                   if f.message_id in by_id} if outcome.source_id else set()
    seconds = time.perf_counter() - started
    found = sum(1 for threat in fixture.planted if any(threat in text for text in flagged))
    return {"format": fixture.name, "status": outcome.status, "entries": fixture.entries, "expected": fixture.texts,
            "imported": outcome.messages, "with_time": sum(1 for m in rows if m.time),
            "skipped_reported": outcome.skipped, "planted": len(fixture.planted), "flagged": found,
            "recall": found / len(fixture.planted) if fixture.planted else None,
            "notices": outcome.notices, "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = parser.parse_args()
    rules = load_engine()
    with tempfile.TemporaryDirectory() as tmp:
        every = fixtures_module.fixtures(Path(tmp) / "build") + fixtures_cn.fixtures(Path(tmp) / "build_cn")
        rows = [measure(fx, Path(tmp) / f"f{i}", rules) for i, fx in enumerate(every)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    print("| format | entries in file | expected (with text) | imported | with a time | skipped, reported "
          "| planted threats flagged |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['format']} | {r['entries']} | {r['expected']} | {r['imported']} | {r['with_time']} "
              f"| {r['skipped_reported']} | {r['flagged']}/{r['planted']} |")
    planted = sum(r["planted"] for r in rows)
    found = sum(r["flagged"] for r in rows)
    imported = sum(r["imported"] for r in rows)
    expected = sum(r["expected"] for r in rows)
    print(f"\nTotal: {imported}/{expected} expected messages imported, "
          f"{sum(r['with_time'] for r in rows)} with a time; planted threats flagged {found}/{planted} "
          f"(recall {found / planted:.2f}).")


if __name__ == "__main__":
    main()
