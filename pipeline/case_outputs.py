"""Files a case folder holds besides its database: per-call outputs and summary.json."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.render import write_all
from pipeline.render.writers import atomic_write_text
from pipeline.store import CaseStore

SUMMARY_SCHEMA = "callproof.case-summary/1"
FLAGS_SCHEMA = "callproof.flags/1"


def call_dir(case_dir: Path, call_id: str) -> Path:
    return case_dir / "calls" / call_id


def flag_entry(flag: Any) -> dict[str, Any]:
    """One flags.json entry (FlagRow → dict with the fields reviewers and exports rely on)."""
    data = flag.to_dict()
    data["match"] = data.pop("match_text", None)
    return data


def write_call_outputs(store: CaseStore, case_dir: Path, call_id: str, formats: tuple[str, ...], rule_packs: list[dict],
                       detector: dict | None = None) -> Path:
    out = call_dir(case_dir, call_id)
    out.mkdir(parents=True, exist_ok=True)
    transcript = store.load_transcript(call_id)
    write_all(transcript, out, "transcript", formats)
    call = store.get_call(call_id)
    flags = [flag_entry(f) for f in store.call_flags(call_id)]
    document = {
        "schema": FLAGS_SCHEMA,
        "call_id": call_id,
        "source": {"path": call.source_path, "sha256": call.sha256},
        "tool_version": __version__,
        "model": {"engine": call.engine, "name": call.model_name, "sha256": call.model_sha256},
        "rule_packs": rule_packs,
        **({"detector": detector} if detector else {}),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "flags": flags,
    }
    atomic_write_text(out / "flags.json", json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return out


def build_summary(store: CaseStore, outcomes: list[Any], skipped: list[tuple[str, str]], elapsed: float,
                  run_info: dict[str, Any]) -> dict[str, Any]:
    calls = list(store.iter_calls())
    done = [c for c in calls if c.status == "done"]
    flags = store.all_flags()
    per_category = Counter(f.category for f in flags if not f.stale)
    per_number = Counter(c.number or "未知号码" for c in done)
    return {
        "schema": SUMMARY_SCHEMA,
        "tool_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **run_info,
        "calls": len(done),
        "audio_minutes": round(sum(c.duration or 0 for c in done) / 60, 2),
        "flags_per_category": dict(sorted(per_category.items())),
        "flags_by_status": dict(Counter(f.status for f in flags)),
        "calls_per_number": dict(per_number.most_common()),
        "this_run": {
            "seconds": round(elapsed, 1),
            "processed": sum(o.status == "done" for o in outcomes),
            "skipped_already_done": sum(o.status == "skipped" for o in outcomes),
            "reflagged": sum(o.status == "reflagged" for o in outcomes),
            "failed": [{"file": str(o.path), "error": o.error} for o in outcomes if o.status == "failed"],
            "non_audio_skipped": [{"file": f, "reason": r} for f, r in skipped],
        },
        "call_list": [
            {
                "id": c.id, "file": c.source_path, "sha256": c.sha256, "number": c.number, "start": c.start_time,
                "start_source": c.start_source, "direction": c.direction, "duration": c.duration,
                "status": c.status, "error": c.error,
                "flags": dict(Counter(f.category for f in flags if f.call_id == c.id and not f.stale)),
            }
            for c in calls
        ],
    }


def write_summary(case_dir: Path, summary: dict[str, Any]) -> Path:
    path = case_dir / "summary.json"
    atomic_write_text(path, json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    return path
