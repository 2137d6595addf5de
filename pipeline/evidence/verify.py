"""``verify``: is a pack (zip or unpacked folder) exactly what ``export`` wrote?

Checks, each problem one line (Chinese, then English): every SHA256SUMS hash; no file missing
or unlisted; manifest.json agrees with SHA256SUMS; manifest.sig is a valid Ed25519 signature of
manifest.json by the signer it names (a pack recomputed after an edit fails here unless the
forger signed it with a key of their own, whose fingerprint then differs); the custody chain is
intact, ends with the export event, its head is the one the manifest records, and that event's
file hashes match the pack; each original (recordings and message files) matches its intake
hash; each excerpt's samples equal the matching frames of its original decoded again; each
annotated screenshot's pixels equal its original with the listed boxes drawn. Optionally the
pack must match a 存证码 or SHA-256 (``expect``) or an export recorded in a case (``case_dir``).

A zip is unpacked into a private temporary folder first; entries that could land outside it
(absolute paths, drive letters, ``..``, backslashes, links) are refused, never written. In an
unpacked folder, a member that is a symbolic link (even to an identical file) or not a regular
file (a FIFO, a device) is a problem and is never read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pipeline.errors import InputError
from pipeline.evidence.excerpts import ExcerptRange, cut_native, decoder_versions, read_wav
from pipeline.evidence.manifest import CUSTODY, MANIFEST, PACK_SCHEMA, SUMS, parse_sums
from pipeline.evidence.pack_code import Expectation, pack_code
from pipeline.evidence.signing import SIGNATURE, check_signature
from pipeline.store import verify_jsonl

_DRIVE = re.compile(r"^[A-Za-z]:")
_MESSAGE_SUFFIXES = (".xml", ".csv", ".txt", ".png", ".jpg", ".jpeg", ".webp", ".heic", ".heif")
_KINDS = (("originals/", "原始录音", "original recording"), ("originals_redacted/", "打码副本", "redacted copy"), ("excerpts/", "录音摘录", "excerpt"),
          ("screenshots_annotated/", "截图标注副本", "annotated screenshot"), ("messages/", "消息文本", "message text"),
          (CUSTODY, "保管链", "custody log"), (MANIFEST, "清单", "manifest"), (SIGNATURE, "签名", "signature"))


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    excerpts_checked: int = 0
    annotated_checked: int = 0
    custody_events: int = 0
    manifest_sha256: str | None = None
    signer: str | None = None  # fingerprint of the key whose signature is valid
    zip_sha256: str | None = None  # None for a folder
    notes: list[str] = field(default_factory=list)  # what an optional check confirmed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def code(self) -> str | None:
        """The pack's 存证码, when it carries a valid signature."""
        return pack_code(self.manifest_sha256, self.signer) if self.manifest_sha256 and self.signer else None


@dataclass
class _Scan:
    """An unpacked pack's members: regular files, and what may not be read (path -> reason)."""

    files: set[str]
    odd: dict[str, tuple[str, str]]

    def blocked(self, name: str) -> bool:
        """``name`` or one of its folders is a link or not a regular file."""
        parts = name.split("/")
        return any("/".join(parts[:i]) in self.odd for i in range(1, len(parts) + 1))

    def member(self, root: Path, name: str) -> Path | None:
        return root / name if name in self.files else None


def _scan(root: Path) -> _Scan:
    files: set[str] = set()
    odd: dict[str, tuple[str, str]] = {}
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in [*dirs, *names]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISLNK(mode):
                odd[rel] = ("是符号链接（即使指向相同的文件，也不是包里的文件本身），不予读取",
                            "symbolic link, not read")
            elif stat.S_ISREG(mode):
                files.add(rel)
            elif not stat.S_ISDIR(mode):
                odd[rel] = ("不是普通文件（管道、设备等），不予读取", "not a regular file, not read")
        dirs[:] = [d for d in dirs if (base / d).relative_to(root).as_posix() not in odd]
    return _Scan(files, odd)


def _unsafe_reason(name: str, info: zipfile.ZipInfo | None = None) -> tuple[str, str] | None:
    """Why an archive entry or listed path may not be used, or None when it is safe."""
    if not name or "\x00" in name:
        return "名称为空或含空字符", "empty name or NUL"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "是绝对路径", "absolute path"
    if "\\" in name:
        return "含反斜杠（Windows 路径分隔符）", "backslash in name"
    if any(part == ".." for part in name.split("/")):
        return "含 ..，会写到解压目录之外", "'..' would escape the output folder"
    if info is not None and stat.S_ISLNK(info.external_attr >> 16):
        return "是符号链接", "symbolic link"
    return None


def safe_extract(archive_path: Path, dest: Path) -> list[str]:
    """Unpack into ``dest``; returns one problem line per refused or unreadable entry."""
    dest = dest.resolve()
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(archive_path, "不是有效的 zip 证据包", f"not a valid zip: {exc}") from exc
    with archive:
        infos = archive.infolist()
        declared = sum(info.file_size for info in infos)
        if declared > shutil.disk_usage(dest).free:
            raise InputError(archive_path, f"解压需要 {declared} 字节，磁盘空间不足", "not enough disk space to unpack")
        seen: set[str] = set()
        for info in infos:
            name = info.filename
            reason = _unsafe_reason(name, info)
            target = dest.joinpath(*PurePosixPath(name).parts) if reason is None else dest
            if reason is None and not target.resolve().is_relative_to(dest):
                reason = ("会写到解压目录之外", "escapes the output folder")
            if reason is None and name.rstrip("/") in seen:
                reason = ("与前面的条目重名", "duplicate entry")
            if reason is not None:
                problems.append(f"压缩包条目 {name!r} {reason[0]}，已拒绝 (zip entry {name!r}: {reason[1]}; refused)")
                continue
            seen.add(name.rstrip("/"))
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                problems.append(f"压缩包条目 {name!r} 无法解压（已损坏） (zip entry {name!r} unreadable: {exc})")
    return problems


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _kind(name: str) -> tuple[str, str]:
    if name.startswith("originals/") and name.lower().endswith(_MESSAGE_SUFFIXES):
        return "消息原件", "message original"
    for prefix, zh, en in _KINDS:
        if name == prefix or (prefix.endswith("/") and name.startswith(prefix)):
            return zh, en
    return "文件", "file"


def _check_sums(root: Path, scan: _Scan, report: VerifyReport) -> dict[str, str]:
    """Hashes of every listed file; returns the listed path -> actual sha256 of those present."""
    sums_path = scan.member(root, SUMS)
    if sums_path is None:
        if not scan.blocked(SUMS):
            report.problems.append(f"缺少 {SUMS}，无法核对文件哈希 ({SUMS} missing)")
        return {}
    listed, problems = parse_sums(sums_path.read_text(encoding="utf-8", errors="replace"))
    report.problems += problems
    actual: dict[str, str] = {}
    for name, expected in sorted(listed.items()):
        reason = _unsafe_reason(name)
        if reason is not None:
            report.problems.append(f"{SUMS} 列出的路径 {name!r} {reason[0]}，不予读取 ({SUMS} lists {name!r}: {reason[1]})")
            continue
        if scan.blocked(name):
            continue  # reported once, as a link or an odd file
        path = scan.member(root, name)
        zh, en = _kind(name)
        if path is None:
            report.problems.append(f"缺少{zh} {name} (missing {en}: {name})")
            continue
        actual[name] = _file_sha256(path)
        report.files_checked += 1
        if actual[name] != expected:
            report.problems.append(f"{zh} {name} 被改动：SHA-256 与 {SUMS} 不符 ({en} {name} altered: sha256 mismatch)")
    for name in sorted(scan.files - set(listed) - {SUMS}):
        report.problems.append(f"多出未登记的文件 {name} (file not listed in {SUMS}: {name})")
    return actual


def _load_manifest(root: Path, scan: _Scan, report: VerifyReport) -> tuple[dict[str, Any], bytes]:
    """The manifest and its exact bytes (what the signature covers)."""
    path = scan.member(root, MANIFEST)
    if path is None:
        if not scan.blocked(MANIFEST):
            report.problems.append(f"缺少 {MANIFEST} ({MANIFEST} missing)")
        return {}, b""
    data = path.read_bytes()
    try:
        manifest = json.loads(data.decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("schema") != PACK_SCHEMA:
            raise ValueError(f"schema is not {PACK_SCHEMA}")
    except (ValueError, UnicodeDecodeError) as exc:
        report.problems.append(f"{MANIFEST} 无法读取或不是 callproof 证据包清单 ({MANIFEST} unreadable: {exc})")
        return {}, data
    report.manifest_sha256 = hashlib.sha256(data).hexdigest()
    return manifest, data


def _check_signature(root: Path, scan: _Scan, manifest: dict[str, Any], data: bytes, report: VerifyReport) -> None:
    if not manifest:
        return  # nothing that could have been signed
    path = scan.member(root, SIGNATURE)
    if path is None and scan.blocked(SIGNATURE):
        return
    text = path.read_text(encoding="utf-8", errors="replace") if path is not None else None
    check = check_signature(text, data, manifest)
    report.problems += check.problems or []
    report.signer = check.fingerprint


def _check_manifest(scan: _Scan, manifest: dict[str, Any], actual: dict[str, str], report: VerifyReport) -> None:
    listed = {f.get("path"): f for f in manifest.get("files", []) if isinstance(f, dict)}
    for name, entry in sorted(listed.items()):
        if name in actual and entry.get("sha256") != actual[name]:
            report.problems.append(f"{MANIFEST} 中 {name} 的哈希与文件不符 ({MANIFEST}: sha256 of {name} does not match)")
    for name in sorted(set(actual) - set(listed) - {MANIFEST, SIGNATURE}):
        report.problems.append(f"{MANIFEST} 没有登记 {name} ({MANIFEST} does not list {name})")
    for name in sorted(n for n in set(listed) - set(actual) if isinstance(n, str)):
        if (name not in scan.files and not scan.blocked(name)) or _unsafe_reason(name):
            report.problems.append(f"{MANIFEST} 登记的文件 {name} 不在包中 ({MANIFEST} lists {name}, which is missing)")


def _check_custody(root: Path, scan: _Scan, manifest: dict[str, Any], actual: dict[str, str],
                   report: VerifyReport) -> list[dict[str, Any]]:
    """Returns the pack's custody events (empty when unreadable)."""
    path = scan.member(root, CUSTODY)
    if path is None:
        return []  # reported as missing by the hash check
    text = path.read_text(encoding="utf-8", errors="replace")
    report.problems += [f"保管链：{p}" for p in verify_jsonl(text)]
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
            event["hash"] = hashlib.sha256(line.encode("utf-8")).hexdigest()  # a line's hash is its event's
            events.append(event)
        except (ValueError, TypeError):
            return []  # verify_jsonl said which line
    report.custody_events = len(events)
    last = events[-1] if events else {}
    if last.get("action") != "export":
        report.problems.append("保管链的最后一条不是本次导出的记录 (custody log does not end with the export event)")
    else:
        recorded = (last.get("detail") or {}).get("files") or {}
        for name in sorted(recorded):
            if name in actual and recorded[name] != actual[name]:
                report.problems.append(f"{name} 与保管链导出记录中的哈希不符 ({name}: sha256 differs from the export event)")
    head = manifest.get("custody") if isinstance(manifest.get("custody"), dict) else {}
    if manifest and (head.get("head") != last.get("hash") or head.get("events") != len(events)):
        report.problems.append(f"保管链的末端与清单记录的不同（清单：{head.get('events')} 条，末条哈希 "
                               f"{str(head.get('head'))[:16]}…） (custody head differs from the manifest's)")
    intakes = {(e.get("object"), e.get("sha256")) for e in events if e.get("action") == "intake"}
    kinds = (("calls", "call", "原始录音", "original"), ("message_files", "msgfile", "消息原件", "message original"),
             ("call_log_files", "calllog", "通话记录原件", "call-log original"))
    for key, prefix, label_zh, label_en in kinds:
        for item in manifest.get(key, []):
            original = item.get("original")
            if (f"{prefix}:{item.get('id')}", item.get("sha256")) not in intakes:
                report.problems.append(f"{label_zh} {original} 在保管链中没有对应哈希的接收记录 "
                                       f"(no intake event with the sha256 of {original})")
            if original in actual and actual[original] != item.get("sha256"):
                report.problems.append(f"{label_zh} {original} 与接收时记录的 SHA-256 不符 "
                                       f"({label_en} {original} does not match its intake sha256)")
    return events


def _check_excerpts(root: Path, scan: _Scan, manifest: dict[str, Any], report: VerifyReport) -> None:
    described = {e.get("path"): e for e in manifest.get("excerpts", []) if isinstance(e, dict)}
    for name in sorted(n for n in scan.files if n.startswith("excerpts/") and n not in described):
        report.problems.append(f"录音摘录 {name} 没有在清单中登记 (excerpt {name} not described in the manifest)")
    by_original: dict[str, list[tuple[str, ExcerptRange]]] = {}
    for name, entry in sorted(described.items()):
        original = str(entry.get("original"))
        if _unsafe_reason(str(name)) or _unsafe_reason(original) or str(name) not in scan.files \
                or original not in scan.files:
            continue  # missing files and links are reported by the hash check
        span = ExcerptRange(int(entry.get("start_frame", 0)), int(entry.get("end_frame", 0)))
        by_original.setdefault(original, []).append((str(name), span))
    versions = manifest.get("excerpt_decoder") or {}
    for original, clips in by_original.items():
        try:
            audio = cut_native(root / original, lambda rate, clips=clips: [span for _, span in clips])
        except InputError as exc:
            report.problems.append(f"原始录音 {original} 无法解码：{exc.reason_zh} (original cannot be decoded)")
            continue
        for (name, span), expected in zip(clips, audio.clips, strict=True):
            try:
                samples, rate = read_wav(root / name)
            except (ValueError, RuntimeError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
                report.problems.append(f"录音摘录 {name} 不是可读的无损 WAV (excerpt {name} unreadable: {exc})")
                continue
            report.excerpts_checked += 1
            if rate != audio.sample_rate or expected.shape[1] != span.frames or samples.shape != expected.shape \
                    or samples.dtype != expected.dtype or not np.array_equal(samples, expected):
                note = ""
                if versions and versions != decoder_versions():
                    note = f"；本机解码器 {decoder_versions()} 与导出时 {versions} 不同"
                report.problems.append(f"录音摘录 {name} 与原始录音 {original} 解码后的对应片段不一致{note} "
                                       f"(excerpt {name} differs from frames {span.start_frame}..{span.end_frame} "
                                       f"of {original})")


def _check_annotated(root: Path, scan: _Scan, manifest: dict[str, Any], report: VerifyReport) -> None:
    """Each annotated screenshot must be its original with the manifest's boxes drawn, pixel for pixel."""
    from PIL import Image, UnidentifiedImageError

    from pipeline.messages.annotated import annotation_versions
    from pipeline.messages.ocr import annotated_png

    described = {e.get("path"): e for e in manifest.get("annotated", []) if isinstance(e, dict)}
    for name in sorted(n for n in scan.files if n.startswith("screenshots_annotated/") and n not in described):
        report.problems.append(f"截图标注副本 {name} 没有在清单中登记 (annotated copy {name} not described in the manifest)")
    for name, entry in sorted(described.items()):
        original = str(entry.get("original"))
        if _unsafe_reason(str(name)) or _unsafe_reason(original) or str(name) not in scan.files \
                or original not in scan.files:
            continue  # missing files and links are reported by the hash check
        boxes = [(b.get("box"), str(b.get("label", ""))) for b in entry.get("boxes", []) if isinstance(b, dict)]
        try:
            expected = annotated_png(root / original, boxes)
            with Image.open(io.BytesIO(expected)) as want, Image.open(root / name) as got:
                same = want.size == got.size and want.convert("RGB").tobytes() == got.convert("RGB").tobytes()
        except (InputError, UnidentifiedImageError, OSError, ValueError, TypeError) as exc:
            report.problems.append(f"截图标注副本 {name} 无法核对：{exc} (annotated copy {name} cannot be checked)")
            continue
        report.annotated_checked += 1
        if not same:
            drawn = manifest.get("annotation_drawer") or {}
            note = f"；本机绘图库 {annotation_versions()} 与导出时 {drawn} 不同" if drawn and drawn != annotation_versions() else ""
            report.problems.append(f"截图标注副本 {name} 不是原图 {original} 加上清单所列红框{note} "
                                   f"(annotated copy {name} is not {original} with the listed boxes drawn)")


def verify_dir(root: Path, *, expect: Expectation | None = None, case_dir: Path | None = None,
               zip_sha256: str | None = None) -> VerifyReport:
    """Verify an unpacked pack (``zip_sha256``: of the zip it came from, when it did)."""
    root = Path(root).resolve()
    report = VerifyReport(zip_sha256=zip_sha256)
    scan = _scan(root)
    for name, (zh, en) in sorted(scan.odd.items()):
        report.problems.append(f"{_kind(name)[0]} {name} {zh} ({name}: {en})")
    actual = _check_sums(root, scan, report)
    manifest, manifest_bytes = _load_manifest(root, scan, report)
    _check_signature(root, scan, manifest, manifest_bytes, report)
    _check_manifest(scan, manifest, actual, report)
    events = _check_custody(root, scan, manifest, actual, report)
    _check_excerpts(root, scan, manifest, report)
    _check_annotated(root, scan, manifest, report)
    if expect is not None:
        report.problems += expect.problems(report.manifest_sha256, report.signer, zip_sha256)
        if not report.problems:
            report.notes.append(f"与预期的 {expect.text} 一致 (matches --expect)")
    if case_dir is not None:
        from pipeline.evidence.case_check import check_against_case

        problems, notes = check_against_case(case_dir, report.manifest_sha256, report.signer, zip_sha256, events,
                                             bool((manifest.get("redaction") or {}).get("custody_rechained")))
        report.problems += problems
        report.notes += notes
    return report


def verify_pack(path: Path, *, expect: str | None = None, case_dir: Path | None = None) -> VerifyReport:
    """Verify a pack zip or an unpacked pack folder.

    ``expect``: a 存证码 or SHA-256 the pack must match; ``case_dir``: a case whose custody log
    must record this pack's export. ConfigError for a malformed ``expect``.
    """
    path = Path(path)
    expectation = Expectation.parse(expect) if expect is not None else None
    if path.is_dir():
        return verify_dir(path, expect=expectation, case_dir=case_dir)
    if not path.is_file():
        kind = "不是普通文件" if path.exists() else "找不到证据包"
        raise InputError(path, kind, "not a regular file" if path.exists() else "no such file or folder")
    with tempfile.TemporaryDirectory(prefix="callproof-verify-") as tmp:
        problems = safe_extract(path, Path(tmp))
        report = verify_dir(Path(tmp), expect=expectation, case_dir=case_dir, zip_sha256=_file_sha256(path))
        report.problems[:0] = problems
        return report
