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
from pipeline.config import PROJECT_ROOT
from pipeline.errors import ConfigError
from pipeline.evidence.legal import basis_citation, citable_bases
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import PackCase, PackFlag
from pipeline.evidence.select_messages import PackMessageFlag
from pipeline.render.categories import CATEGORIES, DIRECTION_LABELS, SOURCE_LABELS
from pipeline.render.html_call import duration_zh
from pipeline.render.message_view import kind_label
from pipeline.render.writers import MACHINE_NOTICE

DEFAULT_TEMPLATES = PROJECT_ROOT / "configs" / "templates"
COMPLAINTS = {"complaints/12321.txt": "12321.txt.j2", "complaints/12378.txt": "12378.txt.j2",
              "complaints/110_statement.txt": "110_statement.txt.j2", "complaints/nifa.txt": "nifa.txt.j2"}
README = ("README.txt", "README.txt.j2")
# the conduct a police statement quotes as threats, in this order
THREAT_CATEGORIES = ("VIOLENCE_THREAT", "HOME_WORK_VISIT", "CONTACTS_BLAST", "EXPOSURE", "IMPERSONATION",
                     "FALSE_LEGAL", "OBSCENE", "INSULT", "THIRD_PARTY_DISCLOSURE", "THIRD_PARTY_CONTACT")


def _when(flag: PackFlag) -> str:
    wall = flag.wall_time()
    inside = flag.time_range()
    if wall and not flag.is_call_level:
        return f"{wall}（录音 {inside}）"
    return wall or f"录音 {inside}"


def flag_context(flag: PackFlag, originals: Mapping[str, str]) -> dict[str, Any]:
    return {
        "no": flag.number, "call_id": flag.call.id, "number": flag.call.number or "号码未知",
        "when": _when(flag), "time_range": flag.time_range(), "wall_time": flag.wall_time(),
        "category": flag.row.category, "label": flag.label, "match": flag.row.match_text or "",
        "excerpt": flag.excerpt_text(),
        "quoted": flag.excerpt_text() if flag.is_call_level else f"“{flag.excerpt_text()}”",
        "excerpt_file": flag.excerpt_name, "original": originals[flag.call.id],
        "legal": [basis_citation(b) for b in citable_bases(flag.row.legal_basis)],
        "legal_ids": citable_bases(flag.row.legal_basis), "pending": flag.pending,
        "status_label": flag.status_label, "note": flag.row.note or "", "call_level": flag.is_call_level,
        "source": "call", "kind_label": "通话录音", "received_by": flag.call.received_by or "",
    }


def message_flag_context(flag: PackMessageFlag, originals: Mapping[str, str]) -> dict[str, Any]:
    """A packed message flag in the shape of ``flag_context`` (``call_level`` = a log rule)."""
    message = flag.message
    person = flag.source.received_by
    label = flag.kind_label + (f"，接收人：{person}" if person else "")
    number = (message.number or message.contact_name) if message is not None else None
    return {
        "no": flag.number, "call_id": None, "message_id": flag.row.message_id, "number": number or "号码未知",
        "when": f"{flag.when()}（{label}）", "time_range": "", "wall_time": flag.wall_time(),
        "category": flag.row.category, "label": flag.label, "match": flag.row.match_text or "",
        "excerpt": flag.excerpt_text(),
        "quoted": flag.excerpt_text() if flag.is_log else f"“{flag.excerpt_text()}”",
        "excerpt_file": None, "original": originals[flag.source.id],
        "legal": [basis_citation(b) for b in citable_bases(flag.row.legal_basis)],
        "legal_ids": citable_bases(flag.row.legal_basis), "pending": flag.pending,
        "status_label": flag.status_label, "note": flag.row.note or "", "call_level": flag.is_log,
        "source": "message", "kind": flag.source.kind, "kind_label": flag.kind_label, "received_by": person or "",
    }


def _message_numbers(case: PackCase, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per party of the packed message flags: how many messages, when, what kind."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for flag in messages:
        groups.setdefault(flag["number"], []).append(flag)
    out = []
    for number, flags in groups.items():
        times = sorted(f["wall_time"] for f in flags if f["wall_time"])
        out.append({"number": number, "messages": len({f["message_id"] for f in flags}), "flags": len(flags),
                    "kinds": sorted({f["kind_label"] for f in flags}),
                    "span": (times[0] if len(set(times)) == 1 else f"{times[0]} 至 {times[-1]}") if times else "时间未知"})
    return out


def _message_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per flagged message (its flags' labels together), in time order: what a statement
    quotes once, however many rules the message raised."""
    items: dict[str, dict[str, Any]] = {}
    for flag in sorted(messages, key=lambda f: (f["wall_time"] is None, f["wall_time"] or "", f["no"])):
        item = items.get(flag["message_id"])
        if item is None:
            item = items[flag["message_id"]] = {**flag, "labels": [], "nos": [], "notes": [], "quoted": None}
        if flag["label"] not in item["labels"]:
            item["labels"].append(flag["label"])
        item["nos"].append(flag["no"])
        item["pending"] = item["pending"] or flag["pending"]
        if flag["call_level"]:
            item["notes"].append(flag["excerpt"])
        elif item["quoted"] is None:
            item["quoted"], item["excerpt"], item["call_level"] = flag["quoted"], flag["excerpt"], False
    for item in items.values():
        item["label"] = "、".join(item["labels"])
        if item["quoted"] is None:  # only log rules: the message itself is not quoted text evidence
            item["quoted"] = item["excerpt"] = item["notes"][0]
    return list(items.values())


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
                    "names": sorted({c.contact_name for c in calls if c.contact_name}),
                    "first": starts[0] if starts else "时间未知", "last": starts[-1] if starts else "时间未知",
                    "span": (starts[0] if len(set(starts)) == 1 else f"{starts[0]} 至 {starts[-1]}") if starts
                    else "时间未知",
                    "total_duration": duration_zh(sum(c.duration or 0 for c in calls)),
                    "flags": sum(len(pc.flags) for pc in case.calls if (pc.call.number or "号码未知") == number)})
    return out


def complaint_context(case: PackCase, options: Mapping[str, Any]) -> dict[str, Any]:
    """Everything a template may use (see configs/templates/README.md for the list)."""
    originals = {c.call.id: c.original_name for c in case.calls}
    flags = [flag_context(f, originals) for f in case.flags]
    calls = []
    for number, pack_call in enumerate(case.calls, start=1):
        call = pack_call.call
        calls.append({
            "no": number, "id": call.id, "number": call.number or "号码未知", "contact_name": call.contact_name or "",
            "start": (call.start_time or "").replace("T", " ")[:19] or "时间未知",
            "start_source": SOURCE_LABELS.get(call.start_source or "", ""),
            "direction": DIRECTION_LABELS.get(call.direction or "", "未知"),
            "direction_known": call.direction in DIRECTION_LABELS,
            "duration": duration_zh(call.duration), "duration_s": round(call.duration or 0, 1),
            "original": pack_call.original_name, "sha256": call.sha256,
            "labels": sorted({f.label for f in pack_call.flags}),
            "notes": [f"{f.label}：{f.excerpt_text()}" for f in pack_call.flags if f.is_call_level],
        })
    originals.update({f.source.id: f.original_name for f in case.message_files})
    messages = [message_flag_context(f, originals) for f in case.message_flags]
    everything = [*flags, *messages]
    rows = [*case.flags, *case.message_flags]
    categories = []
    counts = Counter(f.row.category for f in rows)
    for code in [c for c in CATEGORIES if c in counts] + sorted(c for c in counts if c not in CATEGORIES):
        members = [f for f in flags if f["category"] == code]
        quoted: set[str] = set()  # a message with two flags of one category is quoted once
        members += [f for f in messages if f["category"] == code
                    and not (f["message_id"] in quoted or quoted.add(f["message_id"]))]
        bases = citable_bases(b for f in rows if f.row.category == code for b in f.row.legal_basis)
        categories.append({"code": code, "label": members[0]["label"], "count": counts[code], "flags": members,
                           "legal": [basis_citation(b) for b in bases], "pending": all(f["pending"] for f in members)})
    cited = citable_bases(b for f in rows for b in f.row.legal_basis)
    items = _message_items(messages)
    threat_items = [i for i in items if not i["call_level"] and any(
        f["category"] in THREAT_CATEGORIES for f in messages if f["message_id"] == i["message_id"])]
    threats = sorted((f for f in flags if f["category"] in THREAT_CATEGORIES and not f["call_level"]),
                     key=lambda f: f["no"]) + threat_items
    message_times = sorted(f["wall_time"] for f in messages if f["wall_time"])
    return {
        "notice": MACHINE_NOTICE, "tool_version": __version__, "case_id": case.case_info.get("case_id", ""),
        "numbers": _numbers(case), "calls": calls, "flags": everything, "categories": categories,
        "threats": threats, "call_level": [f for f in flags if f["call_level"]],
        "segment_flags": [f for f in flags if not f["call_level"]],
        "messages": items,
        "message_flags": messages,
        "message_threats": threat_items,
        "message_numbers": _message_numbers(case, messages),
        "message_files": [{"original": f.original_name, "sha256": f.source.sha256, "kind_label": kind_label(f.source.kind),
                           "received_by": f.source.received_by or "未注明", "messages": len(f.messages),
                           "annotated": f.annotated_name} for f in case.message_files],
        "contacts": _contacts(case),
        "legal_bases": [{"id": b, "citation": basis_citation(b)} for b in cited],
        "has": {code: code in counts for code in CATEGORIES},
        "any_pending": any(f["pending"] for f in everything), "options": dict(options),
        "redacted": bool(options.get("redact")),
        "left_out": {k: case.left_out.get(k, 0) + case.message_left_out.get(k, 0)
                     for k in sorted({*case.left_out, *case.message_left_out})},
        "first_call": next((c["start"] for c in calls if c["start"] != "时间未知"), "时间未知"),
        "last_call": next((c["start"] for c in reversed(calls) if c["start"] != "时间未知"), "时间未知"),
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
        for name in [*COMPLAINTS.values(), README[1]]:
            source, _, _ = self.env.loader.get_source(self.env, name)
            out[name] = hashlib.sha256(source.encode("utf-8")).hexdigest()
        return out


def render_complaints(templates: TemplateSet, context: Mapping[str, Any], redactor: Redactor | None) -> dict[str, str]:
    """complaints/<channel>.txt -> text."""
    out = {}
    for path, name in COMPLAINTS.items():
        text = templates.render(name, context)
        out[path] = redactor.text(text) if redactor else text
    return out


def render_readme(templates: TemplateSet, context: Mapping[str, Any], redactor: Redactor | None) -> str:
    text = templates.render(README[1], context)
    return redactor.text(text) if redactor else text
