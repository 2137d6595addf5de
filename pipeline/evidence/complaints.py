"""Complaint drafts and the pack's README, rendered from Jinja2 templates in configs/templates/.

An NGO adapts the wording by copying configs/templates/ and passing ``--templates DIR``; a
template missing from that folder falls back to the default one. Templates see one context
(``complaint_context``): the case's numbers, calls, packed flags with times and quoted
excerpts, categories, and the legal bases cited by article (only those TAXONOMY.md marks V or N).
Message flags (SMS, chats, screenshots) join ``flags``, ``categories`` and ``threats`` with a
``source`` of 'message'; ``messages``, ``message_numbers``, ``message_files`` and ``contacts``
describe them on their own.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from pipeline import __version__
from pipeline.calllog.rules import FORMAT_LABELS
from pipeline.config import PROJECT_ROOT
from pipeline.errors import ConfigError
from pipeline.evidence.call_files import transcript_path
from pipeline.evidence.channels import CHANNEL_DRAFTS, call_log_context
from pipeline.evidence.facts import facts_only
from pipeline.evidence.items import EvidenceItem, is_borrower_label, sentence_bounds, speaker_label
from pipeline.evidence.legal import basis_citation, citable_bases, conduct_day, law_citations
from pipeline.evidence.message_files import message_page
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import PackCase, PackFlag
from pipeline.evidence.select_messages import PackMessageFlag
from pipeline.render.categories import CATEGORIES, DIRECTION_LABELS, SOURCE_LABELS, category_label
from pipeline.render.html_call import LOW_CONFIDENCE, duration_zh
from pipeline.render.html_pack_index import PACK_INDEX, pack_index_html
from pipeline.render.legal_bases import UNVERIFIED
from pipeline.render.message_view import kind_label
from pipeline.render.writers import MACHINE_NOTICE

DEFAULT_TEMPLATES = PROJECT_ROOT / "configs" / "templates"
# one entry per channel: pack path -> template. A new channel (another module) adds its own with
# ``register_channel``; every channel gets the same context (``complaint_context``).
COMPLAINTS = {"complaints/12321.txt": "12321.txt.j2", "complaints/12378.txt": "12378.txt.j2",
              "complaints/110_statement.txt": "110_statement.txt.j2", "complaints/nifa.txt": "nifa.txt.j2"}
COMPLAINTS.update(CHANNEL_DRAFTS)  # 信用中国, 民事起诉状, 行为保全, 媒体求助 (pipeline/evidence/channels.py)
CHECKLIST = ("complaints/核对清单.txt", "checklist.txt.j2")  # the user's own list: hints, never pasted
README = ("README.txt", "README.txt.j2")
QUOTE_LIMIT = 5  # items a draft with a length limit quotes (the most severe confirmed first)
# the conduct a police statement lists as threats, in this order
THREAT_CATEGORIES = ("VIOLENCE_THREAT", "HOME_WORK_VISIT", "CONTACTS_BLAST", "EXPOSURE", "IMPERSONATION",
                     "FALSE_LEGAL", "OBSCENE", "INSULT", "THIRD_PARTY_DISCLOSURE", "THIRD_PARTY_CONTACT")


def register_channel(pack_path: str, template: str) -> None:
    """Add a draft for another channel: ``complaints/<name>.txt`` rendered from ``template``."""
    COMPLAINTS[pack_path] = template


def recipient(received_by: str | None) -> str:
    """Who took the call or got the message, as the borrower writes it: 我, or the named contact."""
    return "我" if is_borrower_label(received_by) else f"我的联系人{received_by}"


def call_fact(call: Any) -> str:
    """Who called whom, in facts only: 'X 打给我', '我打给 X', 'X 与我母亲通话' (direction unknown)."""
    number = call.number or "号码未知的对方"
    whom = recipient(call.received_by)
    if call.direction == "incoming":
        return f"{number} 打给{whom}"
    if call.direction == "outgoing":
        return f"{whom}打给 {number}"
    return f"{number} 与{whom}通话"


def _when(flag: PackFlag) -> str:
    wall = flag.wall_time()
    inside = flag.time_range()
    if wall and not flag.is_call_level:
        return f"{wall}（录音 {inside}）"
    return wall or f"录音 {inside}"


def _cited(basis_ids: Any, wall_time: str | None) -> list[str]:
    return citable_bases(basis_ids, conduct_day(wall_time))


def flag_context(flag: PackFlag, originals: Mapping[str, str]) -> dict[str, Any]:
    """One packed call flag (one category of an item; ``no`` is its item's number)."""
    cited = _cited(flag.row.legal_basis, flag.wall_time())
    excerpt = _item_text(flag)
    return {
        "no": flag.number, "call_id": flag.call.id, "number": flag.call.number or "号码未知",
        "when": _when(flag), "time_range": flag.time_range(), "wall_time": flag.wall_time(),
        "category": flag.row.category, "label": flag.label, "match": flag.row.match_text or "",
        "excerpt": excerpt, "quoted": excerpt if flag.is_call_level else f"“{excerpt}”",
        "excerpt_file": flag.excerpt_name, "original": originals[flag.call.id],
        "legal": [basis_citation(b) for b in cited], "legal_ids": cited, "pending": flag.pending,
        "status_label": flag.status_label, "note": flag.row.note or "", "call_level": flag.is_call_level,
        "source": "call", "kind_label": "通话录音", "received_by": flag.call.received_by or "",
        "severity": flag.row.severity or 0, "to_whom": recipient(flag.call.received_by),
    }


def _item_text(flag: Any) -> str:
    """The flag's quoted text; for a call-level or log flag, its description without hints."""
    text = flag.excerpt_text()
    if getattr(flag, "is_call_level", False):
        return facts_only(text, direction_known=flag.call.direction in DIRECTION_LABELS)
    if getattr(flag, "is_log", False):
        return facts_only(text, direction_known=flag.message is None or flag.message.direction is not None)
    return text


def message_flag_context(flag: PackMessageFlag, originals: Mapping[str, str]) -> dict[str, Any]:
    """A packed message flag in the shape of ``flag_context`` (``call_level`` = a log rule)."""
    message = flag.message
    person = flag.source.received_by
    label = flag.kind_label + (f"，接收人：{person}" if person else "")
    number = (message.number or message.contact_name) if message is not None else None
    cited = _cited(flag.row.legal_basis, flag.wall_time())
    excerpt = _item_text(flag)
    return {
        "no": flag.number, "call_id": None, "message_id": flag.row.message_id, "number": number or "号码未知",
        "when": f"{flag.when()}（{label}）", "time_range": "", "wall_time": flag.wall_time(),
        "category": flag.row.category, "label": flag.label, "match": flag.row.match_text or "",
        "excerpt": excerpt, "quoted": excerpt if flag.is_log else f"“{excerpt}”",
        "excerpt_file": None, "original": originals[flag.source.id],
        "legal": [basis_citation(b) for b in cited], "legal_ids": cited, "pending": flag.pending,
        "status_label": flag.status_label, "note": flag.row.note or "", "call_level": flag.is_log,
        "source": "message", "kind": flag.source.kind, "kind_label": flag.kind_label, "received_by": person or "",
        "severity": flag.row.severity or 0, "to_whom": recipient(person),
    }


def item_context(item: EvidenceItem, originals: Mapping[str, str], pages: Mapping[str, str] | None = None
                 ) -> dict[str, Any]:
    """One evidence item (a sentence or message with all its categories), as the drafts quote it;
    ``pages``: message file id -> its page in the pack (a message item links to its message there)."""
    lead = item.lead
    wall = item.wall_time()
    cited = _cited(item.legal_basis, wall)
    excerpt = "；".join(dict.fromkeys(_item_text(f) for f in item.flags if _item_text(f))) if item.is_call_level \
        else _item_text(lead)
    page: str | None = None  # a message item's place on its message page
    if item.source == "calllog":  # calls known only from a call log: no recording, no quote
        number = lead.row.number or "号码未知"
        original, kind_label_ = lead.files[0].original_name, lead.kind_label
        to_whom = recipient(lead.received_by)
        when = f"{lead.when()}（通话记录，无录音）"
        fact = f"{number} 打给{to_whom}（通话记录，共 {lead.row.count or len(lead.entries)} 次）"
        direction_known = True
    elif item.source == "call":
        call = lead.call
        number, original, kind_label_ = call.number or "号码未知", originals[call.id], "通话录音"
        when = _when(lead)
        to_whom, fact = recipient(call.received_by), call_fact(call)
        direction_known = call.direction in DIRECTION_LABELS
    else:
        message = lead.message
        number = ((message.number or message.contact_name) if message is not None else None) or "号码未知"
        original, kind_label_ = originals[lead.source.id], lead.kind_label
        to_whom = recipient(lead.source.received_by)
        when = f"{lead.when()}（{kind_label_}）"
        fact = f"{number} 发给{to_whom}的{kind_label_}"
        direction_known = message is not None and message.direction is not None
        page = (pages or {}).get(lead.source.id)
        if page and message is not None:
            page = f"{page}#msg-{message.idx}"
    return {
        "no": item.number, "source": item.source, "call_id": lead.call.id if item.source == "call" else None,
        "message_id": lead.row.message_id if item.source == "message" else None,
        "number": number, "when": when, "wall_time": wall, "to_whom": to_whom, "fact": fact,
        "direction_known": direction_known, "time_range": lead.time_range() if item.source == "call" else "",
        "categories": item.categories, "labels": item.labels, "label": item.label, "labelled": item.labelled(),
        "category_entries": item.category_entries(), "count": len(item.flags),
        "excerpt": excerpt, "quoted": excerpt if item.is_call_level else f"“{excerpt}”",
        "excerpt_file": item.excerpt_name, "excerpt_files": item.excerpt_names, "original": original,
        "legal": [basis_citation(b) for b in cited], "legal_ids": cited, "pending": item.pending,
        "status_label": "待复核" if item.pending else "已确认", "mark": "【待复核】" if item.pending else "",
        "severity": item.severity, "score": item.score, "speaker": speaker_label(lead),
        "call_level": item.is_call_level, "kind_label": kind_label_, "matches": item.matches,
        "notes": item.notes, "nos": [item.number],
        "page": page,
    }


def _message_numbers(case: PackCase, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per party of the packed message items: how many messages, when, what kind."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in messages:
        groups.setdefault(item["number"], []).append(item)
    out = []
    for number, items in groups.items():
        times = sorted(i["wall_time"] for i in items if i["wall_time"])
        out.append({"number": number, "messages": len({i["message_id"] for i in items}),
                    "flags": sum(i["count"] for i in items), "kinds": sorted({i["kind_label"] for i in items}),
                    "span": (times[0] if len(set(times)) == 1 else f"{times[0]} 至 {times[-1]}") if times else "时间未知"})
    return out


def _contacts(case: PackCase) -> list[dict[str, Any]]:
    return [{"person": r.person, "relation": r.relation or "—", "calls": r.calls, "messages": r.messages,
             "screenshots": r.screenshots, "numbers": "、".join(r.numbers) or "—", "first": (r.first or "—")[:19],
             "last": (r.last or "—")[:19], "is_borrower": r.is_borrower,
             "categories": "、".join(f"{CATEGORIES[c].label if c in CATEGORIES else c}×{n}"
                                     for c, n in r.categories.items()) or "—"} for r in case.contacts]


def _numbers(case: PackCase) -> list[dict[str, Any]]:
    groups: dict[str, list] = {}
    for pack_call in case.calls:
        groups.setdefault(pack_call.call.number or "号码未知", []).append(pack_call.call)
    out = []
    for number, calls in groups.items():
        starts = sorted((c.start_time or "").replace("T", " ")[:19] for c in calls if c.start_time)
        out.append({"number": number, "calls": len(calls),
                    "incoming": sum(c.direction == "incoming" for c in calls),
                    "outgoing": sum(c.direction == "outgoing" for c in calls),
                    "names": sorted({c.contact_name for c in calls if c.contact_name}),
                    "first": starts[0] if starts else "时间未知", "last": starts[-1] if starts else "时间未知",
                    "span": (starts[0] if len(set(starts)) == 1 else f"{starts[0]} 至 {starts[-1]}") if starts
                    else "时间未知",
                    "total_duration": duration_zh(sum(c.duration or 0 for c in calls)),
                    "flags": sum(len(pc.flags) for pc in case.calls if (pc.call.number or "号码未知") == number)})
    return out


def count_text(flags: int, items: int, pending: int = 0) -> str:
    """'3 处（2 句）': flags and the sentences (items) they are in; '2 处' when they are equal;
    '3 处（2 句，其中 1 句待复核）' with pending items."""
    inside = [] if flags == items else [f"{items} 句"]
    if pending:
        inside.append(f"其中 {pending} 句待复核")
    return f"{flags} 处" + (f"（{'，'.join(inside)}）" if inside else "")


def severity_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Confirmed before pending, then most severe, then highest score, then evidence number."""
    return sorted(items, key=lambda i: (i["pending"], -i["severity"], -i["score"], i["no"]))


def _call_entries(case: PackCase, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = []
    for number, pack_call in enumerate(case.calls, start=1):
        call = pack_call.call
        own = [i for i in items if i["call_id"] == call.id]
        start = (call.start_time or "").replace("T", " ")[:19] or "时间未知"
        calls.append({
            "no": number, "id": call.id, "number": call.number or "号码未知", "contact_name": call.contact_name or "",
            "start": start, "start_source": SOURCE_LABELS.get(call.start_source or "", ""),
            "direction": DIRECTION_LABELS.get(call.direction or "", "未知"),
            "direction_known": call.direction in DIRECTION_LABELS,
            "duration": duration_zh(call.duration), "duration_s": round(call.duration or 0, 1),
            "original": pack_call.original_name, "sha256": call.sha256,
            "to_whom": recipient(call.received_by), "fact": call_fact(call),
            "transcript": transcript_path(pack_call, "html") if pack_call.transcript is not None else None,
            "labels": [c for c in dict.fromkeys(lbl for i in own for lbl in i["labels"])],
            "quotes": [i for i in own if not i["call_level"]],
            "notes": [f"{i['label']}：{i['excerpt']}" for i in own if i["call_level"]],
        })
    return calls


def _checks(case: PackCase, calls: list[dict[str, Any]], items: list[dict[str, Any]],
            cited: list[str]) -> list[str]:
    """What the user must check or fill in before filing: never part of a draft's text."""
    out: list[str] = []
    for entry, pack_call in zip(calls, case.calls, strict=True):
        where = f"第 {entry['no']} 通电话（{entry['start']}，{entry['number']}）"
        if not entry["direction_known"]:
            out.append(f"{where}：通话方向未知（可能是本人拨出），请核对。草稿只写“通话”，不写“来电”；"
                       "若是对方打来，可在 calls.csv 的 direction 列写 来电 后重新运行。")
        if pack_call.call.start_source == "mtime":
            out.append(f"{where}：开始时间取自文件修改时间，复制文件可能改变它，请以手机通话记录为准。")
    unsure = _unsure_words(case)
    for item in items:
        where = f"证据 {item['no']}（{item['when']}）"
        if item["pending"]:
            out.append(f"{where}：尚未复核，草稿中标为【待复核】；请听录音后在复核页确认或排除。")
        if item["speaker"] == "说话人未确认":
            out.append(f"{where}：说话人未确认，请听录音确认是催收方所说。")
        words = unsure.get(item["no"])
        if words:
            out.append(f"{where}：引用的原话中“{'、'.join(words)}”识别把握不大，请核听录音；如有错字请在复核页校对。")
    for version_id in cited:
        citation = basis_citation(version_id)
        if citation.endswith(UNVERIFIED):
            out.append(f"法律依据“{citation}”的条文序号尚未与公布的法律文本核对，提交前请核实。")
    return out


def _unsure_words(case: PackCase) -> dict[int, list[str]]:
    """Item number -> the words of its quoted sentence the recogniser was unsure of (not corrected)."""
    out: dict[int, list[str]] = {}
    for item in case.items:
        flag = item.lead
        if item.is_call_level or flag.segment is None or flag.segment.corrected_text is not None:
            continue
        transcript = next((pc.transcript for pc in case.calls if pc.call.id == flag.call.id), None)
        seg = next((s for s in transcript.segments if s.index == flag.segment.idx), None) if transcript else None
        bounds = sentence_bounds(flag.segment.text, flag.row.start_char, flag.row.end_char) if seg else None
        if seg is None or bounds is None:
            continue
        words = [w.text for w in seg.words if bounds[0] <= w.offset < bounds[1]
                 and w.probability < LOW_CONFIDENCE and w.text.strip()]
        if words:
            out[item.number] = list(dict.fromkeys(words))
    return out


def complaint_context(case: PackCase, options: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a template may use (see configs/templates/README.md for the list)."""
    originals = {c.call.id: c.original_name for c in case.calls}
    originals.update({f.source.id: f.original_name for f in case.message_files})
    pages = {f.source.id: page for f in case.message_files if (page := message_page(f))}
    flags = [flag_context(f, originals) for f in case.flags]
    messages_flags = [message_flag_context(f, originals) for f in case.message_flags]
    call_items = [item_context(i, originals) for i in case.items]
    message_items = [item_context(i, originals, pages) for i in case.message_items]
    log_items = [item_context(i, originals) for i in case.log_items]
    items = [*call_items, *message_items, *log_items]
    calls = _call_entries(case, call_items)
    rows = [*case.flags, *case.message_flags, *case.log_flags]
    counts = Counter(f.row.category for f in rows)
    categories = []
    for code in [c for c in CATEGORIES if c in counts] + sorted(c for c in counts if c not in CATEGORIES):
        members = [i for i in items if code in i["categories"]]
        cited_here = list(dict.fromkeys(b for i in members for b in i["legal_ids"]
                                        if b in _cited([b2 for f in rows if f.row.category == code
                                                        for b2 in f.row.legal_basis], i["wall_time"])))
        pending = sum(1 for i in members if any(e["code"] == code and e["pending"] for e in i["category_entries"]))
        categories.append({"code": code, "label": category_label(code), "count": counts[code],
                           "sentences": len(members), "count_text": count_text(counts[code], len(members), pending),
                           "members": members, "flags": members, "nos": [i["no"] for i in members],
                           "legal": [basis_citation(b) for b in cited_here], "pending": pending == len(members),
                           "pending_count": pending})
    cited = list(dict.fromkeys(b for i in items for b in i["legal_ids"]))
    threats = [i for i in items if not i["call_level"] and any(c in THREAT_CATEGORIES for c in i["categories"])]
    quotable = severity_order([i for i in items if not i["call_level"]])
    message_times = sorted(i["wall_time"] for i in message_items if i["wall_time"])
    pending_items = [i for i in items if i["pending"]]
    return {
        "notice": MACHINE_NOTICE, "tool_version": __version__, "case_id": case.case_info.get("case_id", ""),
        "numbers": _numbers(case), "calls": calls, "flags": [*flags, *messages_flags], "items": items,
        "categories": categories, "threats": threats,
        "call_level": [i for i in call_items if i["call_level"]],
        "segment_flags": [i for i in call_items if not i["call_level"]],
        "call_items": [i for i in call_items if not i["call_level"]],
        "top_items": quotable[:QUOTE_LIMIT], "more_items": max(0, len(quotable) - QUOTE_LIMIT),
        "quote_limit": QUOTE_LIMIT,
        "messages": message_items, "message_flags": messages_flags, "log_items": log_items,
        "call_log_chart": case.log_chart,
        "call_log_files": [{"original": f.original_name, "name": f.original_name.split("/", 1)[-1],
                            "sha256": f.source.sha256, "format_label": FORMAT_LABELS.get(f.source.format or "", ""),
                            "received_by": f.source.received_by or "未注明", "entries": len(f.entries),
                            "withheld": f.withheld}
                           for f in case.log_files],
        "message_threats": [i for i in threats if i["source"] == "message"],
        "message_numbers": _message_numbers(case, message_items),
        "message_files": [{"original": f.original_name, "sha256": f.source.sha256, "kind_label": kind_label(f.source.kind),
                           "received_by": f.source.received_by or "未注明", "messages": len(f.messages),
                           "annotated": f.annotated_name, "name": f.original_name.split("/", 1)[-1],
                           "page": message_page(f), "withheld": f.withheld}
                          for f in case.message_files],
        "contacts": _contacts(case),
        "legal_bases": [{"id": b, "citation": basis_citation(b)} for b in cited],
        "law": law_citations(),
        "has": {code: code in counts for code in CATEGORIES},
        "totals": {"flags": len(rows), "sentences": len(items), "text": count_text(len(rows), len(items)),
                   "pending_items": len(pending_items)},
        "any_pending": bool(pending_items), "options": dict(options),
        "checks": _checks(case, calls, items, cited),
        "incoming_calls": sum(c["direction"] == "来电" for c in calls),
        "redacted": bool(options.get("redact")),
        "left_out": {k: case.left_out.get(k, 0) + case.message_left_out.get(k, 0)
                     for k in sorted({*case.left_out, *case.message_left_out})},
        "first_call": next((c["start"] for c in calls if c["start"] != "时间未知"), "时间未知"),
        "last_call": next((c["start"] for c in reversed(calls) if c["start"] != "时间未知"), "时间未知"),
        "call_log": call_log_context(case),
        "first_message": message_times[0] if message_times else "时间未知",
        "last_message": message_times[-1] if message_times else "时间未知",
    }


class TemplateSet:
    """The default templates, or an adapted folder with the defaults behind it."""

    def __init__(self, custom_dir: Path | None = None) -> None:
        folders = [str(custom_dir)] if custom_dir else []
        if custom_dir and not custom_dir.is_dir():
            raise ConfigError(f"--templates {custom_dir}: 不是文件夹 (not a folder)")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*folders, str(DEFAULT_TEMPLATES)], encoding="utf-8"),
            autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
            trim_blocks=True, lstrip_blocks=True)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            template = self.env.get_template(name)
            text = template.render(**context)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"{exc.filename or name}:{exc.lineno}: 模板语法错误 (template syntax error): "
                              f"{exc.message}") from exc
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(f"{name}: 找不到模板 (template not found)") from exc
        except (jinja2.UndefinedError, TypeError, ValueError) as exc:
            raise ConfigError(f"{template.filename}: 模板用到了不存在的字段 (template error): {exc}") from exc
        return text if text.endswith("\n") else text + "\n"

    def sources(self) -> dict[str, str]:
        """Template file name -> sha256 of the text used, for the manifest."""
        out = {}
        for name in [*COMPLAINTS.values(), CHECKLIST[1], README[1]]:
            source, _, _ = self.env.loader.get_source(self.env, name)
            out[name] = hashlib.sha256(source.encode("utf-8")).hexdigest()
        return out


def render_complaints(templates: TemplateSet, context: Mapping[str, Any], redactor: Redactor | None) -> dict[str, str]:
    """Pack path -> text of every document rendered from the case context: complaints/<channel>.txt,
    complaints/核对清单.txt (the user's checklist) and the pack overview index.html."""
    out = {}
    for path, name in [*COMPLAINTS.items(), CHECKLIST]:
        text = templates.render(name, context)
        out[path] = redactor.text(text) if redactor else text
    out[PACK_INDEX] = pack_index_html(context, redactor)
    return out


def render_readme(templates: TemplateSet, context: Mapping[str, Any], redactor: Redactor | None) -> str:
    text = templates.render(README[1], context)
    return redactor.text(text) if redactor else text
