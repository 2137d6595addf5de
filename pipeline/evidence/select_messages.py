"""What a pack holds of the case's messages: the message files (SMS backups, chat exports,
screenshots) and the message flags a reviewer let through, numbered after the call flags.

Every message file of the case goes in as an original (the date filter keeps a file when one of
its messages falls in the range); its flags go in when accepted (pending ones with
``include_pending``), never when rejected. ``--calls`` chooses calls only; ``--no-messages``
leaves every message file out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipeline.contacts_reached import UNKNOWN_PERSON, contacts_reached
from pipeline.evidence.items import EvidenceItem, group_message_flags
from pipeline.evidence.message_names import name_message_files
from pipeline.evidence.select import (
    PackCase,
    ReviewedFlag,
    _digits,
    _original_names,
    _rule_packs,
    _utc,
    sentence_around,
)
from pipeline.render.message_view import kind_label, local_time, when_text


@dataclass
class PackMessageFlag(ReviewedFlag):
    number: int  # 序号 in the evidence list, after the call flags
    row: Any  # MessageFlagRow
    message: Any | None  # MessageRow
    source: Any  # MessageSourceRow

    @property
    def is_log(self) -> bool:
        """A rule over the message log (sent at night, too many a day), not words in the text."""
        return self.row.level == "log" or self.row.start_char is None

    @property
    def kind_label(self) -> str:
        return kind_label(self.source.kind)

    def wall_time(self) -> str | None:
        when = local_time(self.message.time) if self.message is not None else None
        return when.isoformat(sep=" ", timespec="seconds") if when else None

    def when(self) -> str:
        return when_text(self.message) if self.message is not None else "时间未知"

    def excerpt_text(self) -> str:
        """The sentence with the flagged words (the rule's description for a log flag)."""
        if self.is_log or self.message is None:
            return str((self.row.extra or {}).get("description_zh") or self.row.text or "")
        return sentence_around(self.message.text, self.row.start_char, self.row.end_char)


@dataclass
class PackMessageFile:
    source: Any  # MessageSourceRow
    original_name: str  # "originals/<file name>"
    messages: list[Any]  # MessageRow, all of the file's
    flags: list[PackMessageFlag] = field(default_factory=list)
    annotated_name: str | None = None  # "screenshots_annotated/<name>.annotated.png" when a packed flag has boxes
    stem: str = ""  # readable stem of its pages: "2024-01-15_2340_13800138000_短信" (message_names)
    withheld: bool = False  # a redacted pack leaves the original out (cannot be masked): only its name is cited

    @property
    def is_screenshot(self) -> bool:
        return self.source.kind == "screenshot" or self.source.format == "screenshot"


def _in_range(message: Any, start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    when = local_time(message.time)
    if when is None:
        return False
    return (start is None or when.date() >= start) and (end is None or when.date() <= end)


def choose_message_files(store: Any, options: Any) -> list[Any]:
    """The case's message files the pack holds (``MessageSourceRow``s, in store order)."""
    if not getattr(options, "messages", True) or not hasattr(store, "message_sources"):
        return []
    sources = store.message_sources()
    if options.date_from is None and options.date_to is None:
        return sources
    return [s for s in sources
            if any(_in_range(m, options.date_from, options.date_to) for m in store.messages(s.id))]


def collect_messages(store: Any, sources: list[Any], names: dict[str, str], options: Any, first_number: int
                     ) -> tuple[list[PackMessageFile], list[PackMessageFlag], dict[str, int], list[Any]]:
    """(files, packed flags, left-out counts by status, every flag row seen) for ``sources``.

    Packed flags are grouped per message (one evidence item) and numbered in message time order
    (unknown times last), across files, from ``first_number``.
    """
    statuses = ("accepted", "pending") if options.include_pending else ("accepted",)
    files: list[PackMessageFile] = []
    chosen: list[tuple[tuple, Any, Any, PackMessageFile]] = []
    left_out = {"rejected": 0, "pending": 0}
    seen: list[Any] = []
    for number, source in enumerate(sources):
        messages = store.messages(source.id)
        by_id = {m.id: m for m in messages}
        pack_file = PackMessageFile(source, names[source.id], messages)
        for row in store.message_flags(source_id=source.id):
            seen.append(row)
            message = by_id.get(row.message_id)
            if row.status not in statuses or (message is not None and not _in_range(
                    message, options.date_from, options.date_to)):
                if row.status != "accepted":
                    left_out[row.status] = left_out.get(row.status, 0) + 1
                continue
            when = local_time(message.time) if message is not None else None
            key = (when is None, when or 0, number, message.idx if message else 0, row.level != "log",
                   row.start_char or 0, row.id)
            chosen.append((key, row, message, pack_file))
        files.append(pack_file)
    ordered: list[PackMessageFlag] = []
    owner: dict[int, PackMessageFile] = {}
    for _, row, message, pack_file in sorted(chosen, key=lambda item: item[0]):
        ordered.append(PackMessageFlag(0, row, message, pack_file.source))
        owner[id(ordered[-1])] = pack_file
    packed: list[PackMessageFlag] = []
    for number, group in enumerate(group_message_flags(ordered), start=first_number):
        for flag in group:
            flag.number = number
            packed.append(flag)
            owner[id(flag)].flags.append(flag)
    for pack_file in files:
        if pack_file.is_screenshot and any(f.row.boxes for f in pack_file.flags):
            stem = pack_file.original_name.split("/", 1)[1]
            pack_file.annotated_name = f"screenshots_annotated/{stem}.annotated.png"
    return files, packed, left_out, seen


def message_items(flags: list[PackMessageFlag]) -> list[EvidenceItem]:
    """The packed message flags (numbered per message) as evidence items, in number order."""
    groups: dict[int, list[PackMessageFlag]] = {}
    for flag in flags:
        groups.setdefault(flag.number, []).append(flag)
    return [EvidenceItem(number, group, source="message") for number, group in sorted(groups.items())]


def attach_messages(case: PackCase, store: Any, options: Any) -> None:
    """Add the message files, their packed flags and the contacts-reached table to ``case``."""
    sources = choose_message_files(store, options)
    names = _original_names(sources, {pc.original_name for pc in case.calls})
    files, flags, left_out, seen = collect_messages(store, sources, names, options, len(case.items) + 1)
    name_message_files(files)
    case.message_files, case.message_flags, case.message_left_out = files, flags, left_out
    case.message_items = message_items(flags)
    times = [s.intake_at for s in sources] + [f.row.reviewed_at for f in flags if f.row.reviewed_at]
    case.content_as_of = max([case.content_as_of, *(_utc(t) for t in times if t)])
    case.kept_numbers |= {d for f in files for m in f.messages if (d := _digits(m.number))}
    known = {(p["name"], p["version"], p["sha256"]) for p in case.rule_packs}
    case.rule_packs += [p for p in _rule_packs(store, seen) if (p["name"], p["version"], p["sha256"]) not in known]
    statuses = ("accepted", "pending") if options.include_pending else ("accepted",)
    rows = contacts_reached(store, call_ids={pc.call.id for pc in case.calls}, source_ids={s.id for s in sources},
                            flag_statuses=statuses)
    if sources or any(r.person != UNKNOWN_PERSON for r in rows):
        case.contacts = rows
