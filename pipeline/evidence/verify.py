"""``verify``: is a pack (zip or unpacked folder) exactly what ``export`` wrote?

Checks, each problem one line (Chinese, then English): every SHA256SUMS hash; no file missing
or unlisted; manifest.json agrees with SHA256SUMS; the custody chain is intact, ends with the
export event, and that event's file hashes match the pack; each original (recordings and message
files) matches its intake hash; each excerpt's samples equal the matching frames of its original
decoded again; each annotated screenshot's pixels equal its original with the listed boxes drawn.

A zip is unpacked into a private temporary folder first; entries that could land outside it
(absolute paths, drive letters, ``..``, backslashes, links) are refused, never written.
"""

from __future__ import annotations

import hashlib
import io
import json
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
from pipeline.store import verify_jsonl

_DRIVE = re.compile(r"^[A-Za-z]:")
_MESSAGE_SUFFIXES = (".xml", ".csv", ".txt", ".png", ".jpg", ".jpeg", ".webp", ".heic", ".heif")
_KINDS = (("originals/", "原始录音", "original recording"), ("excerpts/", "录音摘录", "excerpt"),
          ("screenshots_annotated/", "截图标注副本", "annotated screenshot"), ("messages/", "消息文本", "message text"),
          (CUSTODY, "保管链", "custody log"), (MANIFEST, "清单", "manifest"))


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    excerpts_checked: int = 0
    annotated_checked: int = 0
    custody_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


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


def _pack_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _check_sums(root: Path, report: VerifyReport) -> dict[str, str]:
    """Hashes of every listed file; returns the listed path -> actual sha256 of those present."""
    sums_path = root / SUMS
    if not sums_path.is_file():
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
        path = root / name
        zh, en = _kind(name)
        if not path.is_file():
            report.problems.append(f"缺少{zh} {name} (missing {en}: {name})")
            continue
        actual[name] = _file_sha256(path)
        report.files_checked += 1
        if actual[name] != expected:
            report.problems.append(f"{zh} {name} 被改动：SHA-256 与 {SUMS} 不符 ({en} {name} altered: sha256 mismatch)")
    for name in sorted(_pack_files(root) - set(listed) - {SUMS}):
        report.problems.append(f"多出未登记的文件 {name} (file not listed in {SUMS}: {name})")
    return actual


def _load_manifest(root: Path, report: VerifyReport) -> dict[str, Any]:
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("schema") != PACK_SCHEMA:
            raise ValueError(f"schema is not {PACK_SCHEMA}")
        return manifest
    except FileNotFoundError:
        report.problems.append(f"缺少 {MANIFEST} ({MANIFEST} missing)")
    except (ValueError, UnicodeDecodeError) as exc:
        report.problems.append(f"{MANIFEST} 无法读取或不是 callproof 证据包清单 ({MANIFEST} unreadable: {exc})")
    return {}


def _check_manifest(root: Path, manifest: dict[str, Any], actual: dict[str, str], report: VerifyReport) -> None:
    listed = {f.get("path"): f for f in manifest.get("files", []) if isinstance(f, dict)}
    for name, entry in sorted(listed.items()):
        if name in actual and entry.get("sha256") != actual[name]:
            report.problems.append(f"{MANIFEST} 中 {name} 的哈希与文件不符 ({MANIFEST}: sha256 of {name} does not match)")
    for name in sorted(set(actual) - set(listed) - {MANIFEST}):
        report.problems.append(f"{MANIFEST} 没有登记 {name} ({MANIFEST} does not list {name})")
    for name in sorted(n for n in set(listed) - set(actual) if isinstance(n, str)):
        if not (root / name).is_file() or _unsafe_reason(name):
            report.problems.append(f"{MANIFEST} 登记的文件 {name} 不在包中 ({MANIFEST} lists {name}, which is missing)")


def _check_custody(root: Path, manifest: dict[str, Any], actual: dict[str, str], report: VerifyReport) -> None:
    path = root / CUSTODY
    if not path.is_file():
        return  # reported as missing by the hash check
    text = path.read_text(encoding="utf-8", errors="replace")
    report.problems += [f"保管链：{p}" for p in verify_jsonl(text)]
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            return  # verify_jsonl said which line
    report.custody_events = len(events)
    last = events[-1] if events else {}
    if last.get("action") != "export":
        report.problems.append("保管链的最后一条不是本次导出的记录 (custody log does not end with the export event)")
    else:
        recorded = (last.get("detail") or {}).get("files") or {}
        for name in sorted(recorded):
            if name in actual and recorded[name] != actual[name]:
                report.problems.append(f"{name} 与保管链导出记录中的哈希不符 ({name}: sha256 differs from the export event)")
    intakes = {(e.get("object"), e.get("sha256")) for e in events if e.get("action") == "intake"}
    kinds = (("calls", "call", "原始录音", "original"), ("message_files", "msgfile", "消息原件", "message original"))
    for key, prefix, label_zh, label_en in kinds:
        for item in manifest.get(key, []):
            original = item.get("original")
            if (f"{prefix}:{item.get('id')}", item.get("sha256")) not in intakes:
                report.problems.append(f"{label_zh} {original} 在保管链中没有对应哈希的接收记录 "
                                       f"(no intake event with the sha256 of {original})")
            if original in actual and actual[original] != item.get("sha256"):
                report.problems.append(f"{label_zh} {original} 与接收时记录的 SHA-256 不符 "
                                       f"({label_en} {original} does not match its intake sha256)")


def _check_excerpts(root: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    described = {e.get("path"): e for e in manifest.get("excerpts", []) if isinstance(e, dict)}
    for name in sorted(n for n in _pack_files(root) if n.startswith("excerpts/") and n not in described):
        report.problems.append(f"录音摘录 {name} 没有在清单中登记 (excerpt {name} not described in the manifest)")
    by_original: dict[str, list[tuple[str, ExcerptRange]]] = {}
    for name, entry in sorted(described.items()):
        original = str(entry.get("original"))
        if _unsafe_reason(str(name)) or _unsafe_reason(original) or not (root / name).is_file():
            continue  # missing files are reported by the hash check
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


def _check_annotated(root: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    """Each annotated screenshot must be its original with the manifest's boxes drawn, pixel for pixel."""
    from PIL import Image, UnidentifiedImageError

    from pipeline.messages.annotated import annotation_versions
    from pipeline.messages.ocr import annotated_png

    described = {e.get("path"): e for e in manifest.get("annotated", []) if isinstance(e, dict)}
    for name in sorted(n for n in _pack_files(root) if n.startswith("screenshots_annotated/") and n not in described):
        report.problems.append(f"截图标注副本 {name} 没有在清单中登记 (annotated copy {name} not described in the manifest)")
    for name, entry in sorted(described.items()):
        original = str(entry.get("original"))
        if _unsafe_reason(str(name)) or _unsafe_reason(original) or not (root / name).is_file() \
                or not (root / original).is_file():
            continue  # missing files are reported by the hash check
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


def verify_dir(root: Path) -> VerifyReport:
    report = VerifyReport()
    actual = _check_sums(root, report)
    manifest = _load_manifest(root, report)
    _check_manifest(root, manifest, actual, report)
    _check_custody(root, manifest, actual, report)
    _check_excerpts(root, manifest, report)
    _check_annotated(root, manifest, report)
    return report


def verify_pack(path: Path) -> VerifyReport:
    """Verify a pack zip or an unpacked pack folder."""
    path = Path(path)
    if path.is_dir():
        return verify_dir(path)
    if not path.is_file():
        raise InputError(path, "找不到证据包", "no such file or folder")
    with tempfile.TemporaryDirectory(prefix="callproof-verify-") as tmp:
        problems = safe_extract(path, Path(tmp))
        report = verify_dir(Path(tmp))
        report.problems[:0] = problems
        return report
