"""Write a case's HTML from its store: CASE_DIR/calls/<call_id>/transcript.html,
CASE_DIR/messages/<file_id>/messages.html (with a screenshot's annotated.png) and CASE_DIR/index.html."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline.audio_complete import Damage
from pipeline.messages.annotated import ANNOTATED_NAME, sync_annotated_copy
from pipeline.render.call_log_charts import call_log_section, log_chart_data
from pipeline.render.html_call import render_call_html
from pipeline.render.html_index import render_case_index
from pipeline.render.html_index_messages import collect_index_messages, message_page_path
from pipeline.render.html_messages import render_message_page
from pipeline.render.writers import atomic_write_text
from pipeline.store import CaseStore, NotFoundError
from pipeline.store.rows import CallRow

INDEX_NAME = "index.html"
CALL_PAGE = "transcript.html"


def call_page_path(case_dir: Path, call_id: str) -> Path:
    return Path(case_dir) / "calls" / call_id / CALL_PAGE


def relative_href(target: str | Path, from_dir: Path) -> str:
    """URL of ``target`` relative to ``from_dir`` (percent-encoded); a file: URI across drives."""
    target = Path(target).absolute()
    try:
        rel = os.path.relpath(target, Path(from_dir).absolute())
    except ValueError:  # Windows: another drive has no relative path
        return target.as_uri()
    return "/".join(quote(part) for part in Path(rel).parts)


def corrections_of(store: CaseStore, call_id: str) -> dict[int, dict[str, Any]]:
    return {s.idx: {"text": s.corrected_text, "by": s.corrected_by, "at": s.corrected_at}
            for s in store.segments(call_id) if s.corrected_text is not None}


def call_summary(call: CallRow, href: str | None, damage: dict[str, Any] | None = None) -> dict[str, Any]:
    """``damage``: the stored ``source.damage`` (a recording cut short), shown as 完成（录音不完整）."""
    return {"id": call.id, "number": call.number, "contact_name": call.contact_name, "start_time": call.start_time,
            "direction": call.direction, "duration": call.duration, "href": href,
            "error": call.error if call.status == "failed" else None,
            "damage": Damage.from_dict(damage).summary if damage else None}


def write_call_html(case_dir: Path, store: CaseStore, call: CallRow) -> Path | None:
    """The call's annotated page (rejected flags left out); None when it has no transcript yet."""
    try:
        transcript = store.load_transcript(call.id)
    except NotFoundError:
        return None
    page = call_page_path(case_dir, call.id)
    page.parent.mkdir(parents=True, exist_ok=True)
    flags = [f.to_dict() for f in store.call_flags(call.id) if f.status != "rejected"]
    html = render_call_html(transcript, flags, dataclasses.asdict(call), relative_href(call.source_path, page.parent),
                            corrections=corrections_of(store, call.id))
    atomic_write_text(page, html)
    return page


def write_message_html(case_dir: Path, store: CaseStore, source_id: str) -> Path | None:
    """A message file's page (rejected flags left out) and, for a screenshot, its annotated copy
    brought in step with the flags; None when the file could not be read."""
    source = store.get_message_source(source_id)
    if source.status != "done":
        return None
    page = message_page_path(case_dir, source.id)
    page.parent.mkdir(parents=True, exist_ok=True)
    flags = [f for f in store.message_flags(source_id=source.id) if f.status != "rejected"]
    annotated = sync_annotated_copy(case_dir, source, flags)
    image = ANNOTATED_NAME if annotated else relative_href(source.source_path, page.parent)
    html = render_message_page(source, store.messages(source.id), flags,
                               original_href=relative_href(source.source_path, page.parent), image_href=image,
                               annotated=annotated is not None)
    atomic_write_text(page, html)
    return page


def write_index_html(case_dir: Path, store: CaseStore) -> Path:
    """CASE_DIR/index.html, linking every call page and message page that exists."""
    case_dir = Path(case_dir)
    calls, numbers, named = [], [], False
    for call in store.iter_calls():
        page = call_page_path(case_dir, call.id)
        calls.append(call_summary(call, page.relative_to(case_dir).as_posix() if page.is_file() else None,
                                  store.source_damage(call.id)))
        numbers.append(call.number)
        named = named or bool(call.received_by)
    flags = [{"call_id": f.call_id, "category": f.category, "status": f.status} for f in store.all_flags()]
    index = case_dir / INDEX_NAME
    messages = collect_index_messages(case_dir, store, numbers, named)
    atomic_write_text(index, render_case_index(calls, flags, messages=messages, call_log=call_log_html(store)))
    return index


def call_log_html(store: CaseStore) -> str:
    """The case index's call-log charts over every incoming call, recorded or only logged."""
    from pipeline.calllog.rules import DIGEST_KEY, case_call_log  # the rules import the contacts table

    digest = json.loads(store.case_info().get(DIGEST_KEY) or "{}")
    return call_log_section(log_chart_data(case_call_log(store)[0]), digest.get("numbers", []))


def write_case_html(case_dir: Path, store: CaseStore) -> list[Path]:
    """Render every transcribed call's page, every message file's page and the case index."""
    case_dir = Path(case_dir)
    written = [page for call in store.iter_calls() if (page := write_call_html(case_dir, store, call))]
    written += [page for source in store.message_sources() if (page := write_message_html(case_dir, store, source.id))]
    return [*written, write_index_html(case_dir, store)]
