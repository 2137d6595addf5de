"""Complaint drafts and the pack's README, rendered from Jinja2 templates in configs/templates/.

An NGO adapts the wording by copying configs/templates/ and passing ``--templates DIR``; a
template missing from that folder falls back to the default one. Templates see one context
(``complaint_context``): the case's numbers, calls, packed flags with times and quoted
excerpts, categories, and the legal bases cited by article (only those TAXONOMY.md marks V or N).
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
from pipeline.render.categories import CATEGORIES, DIRECTION_LABELS, SOURCE_LABELS
from pipeline.render.html_call import duration_zh
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
    }


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
    categories = []
    counts = Counter(f.row.category for f in case.flags)
    for code in [c for c in CATEGORIES if c in counts] + sorted(c for c in counts if c not in CATEGORIES):
        members = [f for f in flags if f["category"] == code]
        bases = citable_bases(b for f in case.flags if f.row.category == code for b in f.row.legal_basis)
        categories.append({"code": code, "label": members[0]["label"], "count": counts[code], "flags": members,
                           "legal": [basis_citation(b) for b in bases], "pending": all(f["pending"] for f in members)})
    cited = citable_bases(b for f in case.flags for b in f.row.legal_basis)
    threats = sorted((f for f in flags if f["category"] in THREAT_CATEGORIES and not f["call_level"]),
                     key=lambda f: f["no"])
    return {
        "notice": MACHINE_NOTICE, "tool_version": __version__, "case_id": case.case_info.get("case_id", ""),
        "numbers": _numbers(case), "calls": calls, "flags": flags, "categories": categories,
        "threats": threats, "call_level": [f for f in flags if f["call_level"]],
        "segment_flags": [f for f in flags if not f["call_level"]],
        "legal_bases": [{"id": b, "citation": basis_citation(b)} for b in cited],
        "has": {code: code in counts for code in CATEGORIES},
        "any_pending": any(f["pending"] for f in flags), "options": dict(options),
        "redacted": bool(options.get("redact")), "left_out": dict(case.left_out),
        "first_call": next((c["start"] for c in calls if c["start"] != "时间未知"), "时间未知"),
        "last_call": next((c["start"] for c in reversed(calls) if c["start"] != "时间未知"), "时间未知"),
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
