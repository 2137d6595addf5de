"""manifest.json and SHA256SUMS: what the pack holds, and the hash of every file.

SHA256SUMS lists every file but itself (manifest.json and manifest.sig included), in GNU
``sha256sum`` format, so ``sha256sum -c SHA256SUMS`` checks the pack with nothing installed.
manifest.json lists every file but itself, manifest.sig and SHA256SUMS (none can hold its own
hash), with sizes, plus the custody chain's head and the signer's public key; manifest.sig
signs manifest.json (``signing``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline import __version__

PACK_SCHEMA = "callproof.pack/1"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
CUSTODY = "custody.jsonl"
_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


@dataclass(frozen=True)
class FileHash:
    size: int
    sha256: str


def created_times(now: datetime | None = None) -> dict[str, str]:
    """The export time in UTC and in this machine's local zone."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    local = now.astimezone()
    return {"utc": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "local": local.isoformat(timespec="seconds"), "local_zone": local.tzname() or ""}


def build_manifest(*, case_info: Mapping[str, str], created: Mapping[str, str], content_as_of: str,
                   engines: list[dict[str, Any]], rule_packs: list[dict[str, Any]], options: Mapping[str, Any],
                   redaction: Mapping[str, Any], decoder: Mapping[str, str], templates: Mapping[str, str],
                   calls: list[dict[str, Any]], flags: Mapping[str, Any], excerpts: list[dict[str, Any]],
                   files: Mapping[str, FileHash], messages: Mapping[str, Any] | None = None,
                   signer: Mapping[str, str] | None = None, custody: Mapping[str, Any] | None = None
                   ) -> dict[str, Any]:
    """``messages``: message_files, message_flags, annotated (screenshot copies: original, boxes,
    labels) and annotation_drawer (library versions), as ``pack.export_pack`` gives them.
    ``signer``: the signing key (``SigningKey.signer()``); ``custody``: events and head hash."""
    return {
        "schema": PACK_SCHEMA,
        "tool": {"name": "callproof", "version": __version__},
        "created": dict(created),
        "content_as_of": content_as_of,
        "case": {k: case_info[k] for k in ("case_id", "created", "created_by_version") if k in case_info},
        "engines": engines,
        "rule_packs": rule_packs,
        "options": dict(options),
        "redaction": dict(redaction),
        "excerpt_decoder": dict(decoder),
        "templates": dict(templates),
        "calls": calls,
        "flags": dict(flags),
        "excerpts": excerpts,
        **dict(messages or {}),
        "custody": dict(custody or {}),
        "signer": dict(signer or {}),
        "files": [{"path": name, "size": h.size, "sha256": h.sha256} for name, h in sorted(files.items())],
    }


def manifest_text(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"


def sums_text(hashes: Mapping[str, str]) -> str:
    """GNU sha256sum lines ("<hash>  <path>"), sorted by path. Paths never hold newlines or backslashes."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items()))


def parse_sums(text: str) -> tuple[dict[str, str], list[str]]:
    """path -> sha256 from SHA256SUMS, and one problem line per line that is not a checksum."""
    entries: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _SUM_LINE.match(line)
        if match is None:
            problems.append(f"SHA256SUMS 第 {number} 行格式不对 (SHA256SUMS line {number}: not a checksum line)")
            continue
        entries[match.group(2)] = match.group(1)
    return entries, problems
