"""``--redact`` over a whole pack: what may go into a pack meant for sharing.

The renderers mask the text they take from the case; this module is the last pass that makes
that hold for every file, whatever a renderer forgot (a ``received_by`` label, a contact name, a
file name): every text output is masked again as a whole (JSON value by value, so hashes, keys
and numbers stay valid), and each message original that is text (SMS XML/CSV, chat exports) is
replaced by a redacted copy under ``originals_redacted/`` with the original's SHA-256 recorded
beside it in the manifest. Message originals that cannot be masked byte-safely (SQLite SMS
databases, MHT web archives with encoded parts) are left out of a redacted pack and listed;
recordings, excerpts and screenshots cannot be masked and go in unchanged, listed as such.
The unredacted pack keeps every original byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.errors import ConfigError
from pipeline.evidence.message_names import masked_name, name_message_files
from pipeline.evidence.redact import Redactor

REDACTED_ORIGINALS = "originals_redacted/"
# formats whose original is plain text in which a number can be masked in place (a JSON export is not:
# a masked unquoted number would break it)
TEXT_ORIGINALS = ("sms_xml", "sms_csv", "chat_text", "qce_txt", "wechat_exporter_txt", "wechat_exporter_html",
                  "memotrace_html", "vmsg")
_TEXT_OUTPUTS = (".txt", ".csv", ".html", ".htm", ".md", ".srt", ".vtt", ".xml")
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _decode(raw: bytes) -> tuple[bytes, str, str] | None:
    """(BOM, encoding, text) of a text file, or None when it is not text we can write back."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return bom, encoding, raw[len(bom):].decode(encoding)
            except UnicodeDecodeError:
                return None
    for encoding in ("utf-8", "gb18030"):
        try:
            return b"", encoding, raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def redacted_original(raw: bytes, fmt: str | None, redactor: Redactor) -> bytes | None:
    """A masked copy of a text message original in its own encoding; None when it cannot be masked."""
    if fmt not in TEXT_ORIGINALS:
        return None
    decoded = _decode(raw)
    if decoded is None:
        return None
    bom, encoding, text = decoded
    return bom + redactor.text(text).encode(encoding)


def redacted_name(original_name: str) -> str:
    """``originals/<name>`` -> ``originals_redacted/<name>``."""
    return REDACTED_ORIGINALS + PurePosixPath(original_name).name


def mask_output(name: str, data: bytes, redactor: Redactor) -> bytes:
    """A rendered text file of the pack with every number masked (other files unchanged)."""
    lower = name.lower()
    if lower.endswith(".json"):
        value: Any = json.loads(data.decode("utf-8"))
        masked = redactor.value(value)
        return data if masked == value else (json.dumps(masked, ensure_ascii=False, indent=1) + "\n").encode()
    if lower.endswith(_TEXT_OUTPUTS):
        text = data.decode("utf-8")
        masked_text = redactor.text(text)
        return data if masked_text == text else masked_text.encode("utf-8")
    return data


def mask_names(case: Any, redactor: Redactor) -> None:
    """Mask numbers in the pack paths of originals, annotated copies and message pages (names come
    from the user's files and contacts); a pack path must be the same in every file that cites it,
    the manifest too."""
    name_message_files(case.message_files, redactor.text)  # unique again once masked
    seen: dict[str, str] = {}
    for item in [*case.calls, *case.message_files]:  # masked_name: '*' is not allowed in a Windows file name
        item.original_name = masked_name(redactor.text(item.original_name))
        if getattr(item, "annotated_name", None):
            item.annotated_name = masked_name(redactor.text(item.annotated_name))
        for name in (item.original_name, getattr(item, "annotated_name", None)):
            if name and seen.setdefault(name, repr(item)) != repr(item):
                raise ConfigError(f"打码后两个文件同名（{name}），无法导出打码版；请把其中一个原件改名后重新运行 "
                                  f"(two files have the same name once masked)")


@dataclass
class RedactedOriginals:
    """Message originals of a redacted pack: masked copies and the ones left out."""

    copies: dict[str, dict[str, Any]] = field(default_factory=dict)  # source id -> path, sha256, size
    withheld: dict[str, str] = field(default_factory=dict)  # source id -> why
    original_names: dict[str, str] = field(default_factory=dict)  # source id -> originals/<name>

    def packed_as_is(self, source_id: str) -> bool:
        return source_id not in self.copies and source_id not in self.withheld


def redact_message_originals(case: Any, staged: dict[str, Path], redactor: Redactor,
                             files: dict[str, bytes]) -> RedactedOriginals:
    """Put a masked copy of each text message original in ``files`` (its cited name changes to
    the copy's); binary ones that hold text are withheld; screenshots go in unchanged."""
    result = RedactedOriginals()
    for pack_file in case.message_files:
        source = pack_file.source
        if pack_file.is_screenshot:
            continue
        result.original_names[source.id] = pack_file.original_name
        data = redacted_original(staged[source.id].read_bytes(), source.format, redactor)
        if data is None:
            result.withheld[source.id] = (f"{source.format or 'unknown'}: cannot be masked byte-safely; "
                                          "only in the unredacted pack")
            pack_file.withheld = True  # its pages name it and say where it is, without a link
            continue
        pack_file.original_name = redacted_name(pack_file.original_name)
        files[pack_file.original_name] = data
        result.copies[source.id] = {"path": pack_file.original_name, "sha256": hashlib.sha256(data).hexdigest(),
                                    "size": len(data), "original_sha256": source.sha256}
    return result


def manifest_redaction(case: Any, redactor: Redactor | None, originals: RedactedOriginals | None,
                       rechained: bool) -> dict[str, Any]:
    """The manifest's ``redaction`` entry: what was masked, what was replaced, what could not be."""
    if redactor is None or originals is None:
        return {"applied": False, "occurrences_masked": 0, "what": [], "scope": "", "custody_rechained": False}
    not_masked = [pc.original_name for pc in case.calls]
    not_masked += [f.original_name for f in case.message_files if f.is_screenshot]
    not_masked += [f.annotated_name for f in case.message_files if f.annotated_name]
    return {
        "applied": True, "occurrences_masked": redactor.masked,
        "what": ["third-party phone numbers (first 3 + last 4 kept)", "ID numbers (last 4 kept)",
                 "bank card numbers (last 4 kept)"],
        "scope": "every text file, the manifest and file names; text message originals replaced by masked "
                 "copies under originals_redacted/ (the untouched originals are in the unredacted pack); "
                 "recordings, excerpts and screenshots cannot be masked and are unchanged",
        "redacted_originals": [{"id": sid, "original": originals.original_names[sid], **copy}
                               for sid, copy in originals.copies.items()],
        "withheld_originals": [{"id": sid, "original": originals.original_names[sid], "reason": why}
                               for sid, why in originals.withheld.items()],
        "not_masked": sorted(not_masked) + ["excerpts/"],
        "custody_rechained": rechained}
