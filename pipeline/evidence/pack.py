"""``export``: write a case's evidence pack (zip) as EVIDENCE.md lays it out.

Order of work: check the custody chain; copy every original (recordings and message files) into
a private staging folder, hashing while copying, and stop if any no longer matches its intake
hash (changed or gone); cut the excerpts and draw the annotated screenshots from those copies;
render the text files; record an 'export' custody event
holding every content file's hash and the signer; write custody.jsonl, manifest.json (with the
custody head and the signer's public key), manifest.sig (the user's Ed25519 signature of the
manifest, ``signing``) and SHA256SUMS; write the zip beside its target and rename it into
place; record 'export_written' with the zip's and the manifest's hashes and the 存证码.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.audio import sha256_file
from pipeline.errors import InputError
from pipeline.evidence import call_files
from pipeline.evidence.complaints import TemplateSet, complaint_context, render_complaints, render_readme
from pipeline.evidence.docx import evidence_list_docx
from pipeline.evidence.excerpts import cut_native, decoder_versions, excerpt_range, wav_bytes
from pipeline.evidence.manifest import (
    CUSTODY,
    MANIFEST,
    SUMS,
    FileHash,
    build_manifest,
    created_times,
    manifest_text,
    sums_text,
)
from pipeline.evidence.message_files import (
    annotated_copy,
    contacts_csv,
    message_html,
    message_json,
    message_page,
    message_path,
    message_txt,
)
from pipeline.evidence.pack_code import pack_code
from pipeline.evidence.redact import Redactor, redact_custody
from pipeline.evidence.redact_pack import (
    REDACTED_ORIGINALS,
    RedactedOriginals,
    manifest_redaction,
    mask_names,
    mask_output,
    redact_message_originals,
)
from pipeline.evidence.select import PackCall, PackCase, PackOptions, collect
from pipeline.evidence.select_calllog import WITHHELD_REASON, attach_call_log, manifest_call_log
from pipeline.evidence.select_messages import attach_messages
from pipeline.evidence.signing import SIGNATURE, SigningKey, load_or_create_key
from pipeline.evidence.zipfiles import ZipDate, ZipEntry, write_zip
from pipeline.messages.annotated import annotation_versions
from pipeline.store import DB_NAME, CaseStore, to_jsonl
from pipeline.store.rows import CallRow

_COPY_CHUNK = 1 << 20
# zip entry order: the files a person opens first, then the bulk
_ORDER = ("index.html", "README.txt", MANIFEST, SIGNATURE, SUMS, CUSTODY, "evidence_list.docx", "timeline.csv", "contacts_reached.csv",
          "complaints/", "transcripts/", "messages/", "excerpts/", "screenshots_annotated/", "originals_redacted/",
          "originals/")
CONTACTS_CSV = "contacts_reached.csv"
_COMPRESSED = (".png", ".jpg", ".jpeg", ".webp", ".heic", ".heif")


@dataclass
class ExportResult:
    path: Path
    sha256: str
    size: int
    calls: int
    flags: int
    pending: int
    excerpts: int
    left_out: dict[str, int]
    redacted: bool
    masked: int = 0
    warnings: list[str] = field(default_factory=list)
    message_files: int = 0
    message_flags: int = 0
    message_pending: int = 0
    annotated: int = 0
    manifest_sha256: str = ""
    signer: str = ""  # the signing key's fingerprint
    code: str = ""  # 存证码 (``pack_code``)
    key_path: Path | None = None
    key_created: bool = False


def open_case(case_dir: Path) -> CaseStore:
    if not (case_dir / DB_NAME).is_file():
        raise InputError(case_dir, f"不是案件文件夹（没有 {DB_NAME}）；请先运行 python cli.py run 录音文件夹 -o {case_dir}",
                         f"not a case folder (no {DB_NAME})")
    return CaseStore.open(case_dir)


def stage_original(call: CallRow | Any, target: Path, what: str = "原始录音", item: str = "通话") -> None:
    """Copy the call's recording (or a message file: ``what``/``item`` name it) to ``target``;
    its bytes must hash to the intake sha256.

    The intake path is tried first, then the other paths the same bytes were found under.
    """
    changed: list[str] = []
    for candidate in [call.source_path, *getattr(call, "duplicate_paths", [])]:
        path = Path(candidate)
        if not path.is_file():
            continue
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as src, open(target, "wb") as dst:
                while chunk := src.read(_COPY_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
        except OSError as exc:
            raise InputError(path, f"无法读取{what}（{exc.strerror}）", f"cannot read the original: {exc.strerror}") from exc
        if digest.hexdigest() == call.sha256:
            return
        changed.append(candidate)
    if changed:
        raise InputError(changed[0], f"{what}已被改动：内容与接收时记录的 SHA-256（{call.sha256[:16]}…）不同，"
                         "不能作为原件导出；请找回未改动的原始文件放回原处后重试",
                         "the original changed since intake (sha256 differs): export stopped")
    raise InputError(call.source_path, f"{what}不见了（已移动或删除；{item} {call.id}）；请把原始文件放回原处后重试",
                     "the original is missing: export stopped")


def _zip_date(content_as_of: str) -> ZipDate:
    moment = datetime.fromisoformat(content_as_of.replace("Z", "+00:00")).astimezone(UTC)
    moment = max(moment, datetime(1980, 1, 1, tzinfo=UTC))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _excerpts(case: PackCase, staged: dict[str, Path], padding_s: float, files: dict[str, bytes],
              warnings: list[str]) -> list[dict[str, Any]]:
    described = []
    for pack_call in case.calls:
        wanted = [f for f in pack_call.flags if f.excerpt_name]
        if not wanted:
            continue
        spans: list[tuple[float, float]] = []
        for flag in wanted:
            start_s = float(flag.row.start_s or 0.0)
            spans.append((start_s, float(flag.row.end_s if flag.row.end_s is not None else start_s)))
        try:
            audio = cut_native(staged[pack_call.call.id],
                               lambda rate, spans=spans: [excerpt_range(a, b, padding_s, rate) for a, b in spans])
        except InputError as exc:
            warnings.append(f"通话 {pack_call.call.id} 无法截取录音摘录：{exc.reason_zh}（原件仍已收录）")
            for flag in wanted:
                flag.excerpt_name = None
            continue
        for flag, (start_s, end_s), span, clip in zip(wanted, spans, audio.ranges, audio.clips, strict=True):
            assert flag.excerpt_name is not None
            if clip.shape[1] == 0:
                warnings.append(f"标记 {flag.row.id} 的时间超出了录音长度，未截取摘录")
                flag.excerpt_name = None
                continue
            files[flag.excerpt_name] = wav_bytes(clip, audio.sample_rate)
            described.append({
                "path": flag.excerpt_name, "pack_number": flag.number, "flag_id": flag.row.id,
                "call_id": pack_call.call.id, "original": pack_call.original_name, "category": flag.row.category,
                "sample_rate": audio.sample_rate, "channels": audio.channels, "sample_format": audio.sample_format,
                "dtype": str(clip.dtype), "start_frame": span.start_frame, "end_frame": span.end_frame,
                "start_s": round(span.start_frame / audio.sample_rate, 6),
                "end_s": round(span.end_frame / audio.sample_rate, 6),
                "flag_start_s": start_s, "flag_end_s": end_s})
    return described


def _call_files(case: PackCase, redactor: Redactor | None, files: dict[str, bytes]) -> None:
    for pack_call in case.calls:
        if pack_call.transcript is None:
            continue
        files[call_files.transcript_path(pack_call, "html")] = call_files.call_html(pack_call, redactor).encode()
        files[call_files.transcript_path(pack_call, "json")] = call_files.call_json(pack_call, redactor).encode()
        files[call_files.transcript_path(pack_call, "txt")] = call_files.call_txt(pack_call, redactor).encode()
    files["timeline.csv"] = call_files.timeline_csv(case, redactor).encode()


def _message_files(case: PackCase, staged: dict[str, Path], redactor: Redactor | None,
                   files: dict[str, bytes]) -> list[dict[str, Any]]:
    """messages/<stem>.html|.json|.txt (stem: 2024-01-15_2340_13800138000_短信), screenshots_annotated/*.png
    and contacts_reached.csv;
    returns the annotated copies' manifest entries."""
    annotated = []
    for pack_file in case.message_files:
        if pack_file.annotated_name:
            data, entry = annotated_copy(pack_file, staged[pack_file.source.id])
            files[pack_file.annotated_name] = data
            annotated.append(entry)
        if pack_file.source.status == "done":
            files[message_path(pack_file, "html")] = message_html(pack_file, redactor).encode()
            files[message_path(pack_file, "json")] = message_json(pack_file, redactor).encode()
            files[message_path(pack_file, "txt")] = message_txt(pack_file, redactor).encode()
    if case.contacts:
        files[CONTACTS_CSV] = contacts_csv(case, redactor).encode()
    return annotated


def _manifest_message_file(pack_file: Any, redacted: RedactedOriginals | None) -> dict[str, Any]:
    """One message file; in a redacted pack ``original`` is where the unredacted pack holds it and
    ``redacted_copy`` (or ``withheld``) says what this pack holds instead."""
    source = pack_file.source
    extra: dict[str, Any] = {}
    original = pack_file.original_name
    if redacted is not None and source.id in redacted.original_names:
        original = redacted.original_names[source.id]
        if source.id in redacted.copies:
            extra["redacted_copy"] = redacted.copies[source.id]["path"]
        else:
            extra["withheld"] = redacted.withheld[source.id]
    return {"id": source.id, "original": original, **extra, "sha256": source.sha256, "size": source.size,
            "intake_at": source.intake_at, "format": source.format, "kind": source.kind,
            "received_by": source.received_by, "status": source.status, "parser": source.parser_key,
            "messages": len(pack_file.messages), "page": message_page(pack_file), "annotated": pack_file.annotated_name,
            "flags": [f.row.id for f in pack_file.flags]}


def _manifest_call(pack_call: PackCall) -> dict[str, Any]:
    call = pack_call.call
    return {"id": call.id, "original": pack_call.original_name, "sha256": call.sha256, "size": call.size,
            "intake_at": call.intake_at, "number": call.number, "start_time": call.start_time,
            "start_source": call.start_source, "direction": call.direction, "duration": call.duration,
            "sample_rate": call.sample_rate, "channels": call.channels, "codec": call.codec,
            "engine": call.engine, "model": call.model_name, "model_sha256": call.model_sha256,
            "transcribed": pack_call.transcript is not None, "flags": [f.row.id for f in pack_call.flags]}


def _order_key(name: str) -> tuple[int, str]:
    for rank, prefix in enumerate(_ORDER):
        if name == prefix or (prefix.endswith("/") and name.startswith(prefix)):
            return rank, name
    return len(_ORDER), name


def _entries(files: dict[str, bytes], staged: dict[str, Path], case: PackCase,
             redacted: RedactedOriginals | None) -> Iterable[ZipEntry]:
    originals = {pc.original_name: staged[pc.call.id] for pc in case.calls}
    texts = {f.original_name: staged[f.source.id] for f in case.message_files
             if redacted is None or redacted.packed_as_is(f.source.id)}
    texts.update({f.original_name: staged[f.source.id] for f in case.log_files if f.source.id in staged})
    for name in sorted([*files, *originals, *texts], key=_order_key):
        if name in originals:
            yield ZipEntry(name, source=originals[name], compress=False)  # already compressed audio
        elif name in texts:  # SMS backups and chat exports compress well; images do not
            yield ZipEntry(name, source=texts[name], compress=not name.lower().endswith(_COMPRESSED))
        else:
            yield ZipEntry(name, files[name])


def export_pack(case_dir: Path, out: Path, options: PackOptions, *, actor: str | None = None,
                now: datetime | None = None, key: SigningKey | None = None) -> ExportResult:
    """Write the pack to ``out`` (replaced if it exists); InputError/ConfigError on user problems.

    ``key``: the signing key; by default the user's (created on first export, ``signing``).
    """
    out = Path(out).absolute()
    with open_case(Path(case_dir)) as store:
        key = key or load_or_create_key(forbidden=(Path(case_dir).absolute(),))
        problems = store.verify_custody()
        if problems:
            raise InputError(Path(case_dir) / DB_NAME, f"案件的监管记录有问题，不能导出：{problems[0]}",
                             "the case's custody log is not intact: export stopped")
        case = collect(store, options)
        attach_messages(case, store, options)
        attach_call_log(case, store, options)
        templates = TemplateSet(options.templates_dir)
        redactor = (Redactor.keeping([*case.kept_numbers, *(pc.call.id for pc in case.calls),
                                      *(f.source.id for f in case.message_files)])
                    if options.redact else None)
        if redactor:
            mask_names(case, redactor)
        out.parent.mkdir(parents=True, exist_ok=True)
        warnings: list[str] = []
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".callproof-export-") as tmp:
            staged: dict[str, Path] = {}
            for number, pack_call in enumerate(case.calls):
                staged[pack_call.call.id] = Path(tmp) / f"original-{number}"
                stage_original(pack_call.call, staged[pack_call.call.id])
            for number, pack_file in enumerate(case.message_files):
                staged[pack_file.source.id] = Path(tmp) / f"message-{number}"
                stage_original(pack_file.source, staged[pack_file.source.id], "消息原件", "消息文件")
            # call logs hold every call of the phone: a redacted pack leaves them out (listed in the manifest)
            log_withheld = {f.source.id: WITHHELD_REASON for f in case.log_files} if redactor else {}
            for log_file in case.log_files:
                log_file.withheld = log_file.source.id in log_withheld
            for number, log_file in enumerate(case.log_files):
                if log_file.source.id in log_withheld:
                    continue
                staged[log_file.source.id] = Path(tmp) / f"calllog-{number}"
                stage_original(log_file.source, staged[log_file.source.id], "通话记录原件", "通话记录文件")
            files: dict[str, bytes] = {}
            redacted = redact_message_originals(case, staged, redactor, files) if redactor else None
            excerpts = _excerpts(case, staged, options.padding_s, files, warnings)
            _call_files(case, redactor, files)
            annotated = _message_files(case, staged, redactor, files)
            annotated_sha = {e["path"]: hashlib.sha256(files[e["path"]]).hexdigest() for e in annotated}
            date_time = _zip_date(case.content_as_of)
            excerpt_sha = {e["path"]: hashlib.sha256(files[e["path"]]).hexdigest() for e in excerpts}
            files["evidence_list.docx"] = evidence_list_docx(case, excerpt_sha256=excerpt_sha, padding_s=options.padding_s,
                                                            redactor=redactor, date_time=date_time,
                                                            annotated_sha256=annotated_sha)
            context = complaint_context(case, options.to_dict())
            context["pack"] = {"originals": len(case.calls), "excerpts": len(excerpts), "padding": f"{options.padding_s:g}",
                               "message_originals": len(case.message_files), "annotated": len(annotated)}
            context["excerpt_sizes"] = {e["path"]: len(files[e["path"]]) for e in excerpts}
            context["signer_fingerprint"] = key.fingerprint
            files.update({k: v.encode() for k, v in render_complaints(templates, context, redactor).items()})
            files["README.txt"] = render_readme(templates, context, redactor).encode()
            if redactor:  # whatever a renderer left unmasked (labels, names) is masked here
                files.update({name: mask_output(name, data, redactor) for name, data in files.items()
                              if not name.startswith(REDACTED_ORIGINALS)})

            content = {name: FileHash(len(data), hashlib.sha256(data).hexdigest()) for name, data in files.items()}
            content.update({pc.original_name: FileHash(pc.call.size, pc.call.sha256) for pc in case.calls})
            content.update({f.original_name: FileHash(f.source.size, f.source.sha256) for f in case.message_files
                            if redacted is None or redacted.packed_as_is(f.source.id)})
            content.update({f.original_name: FileHash(f.source.size, f.source.sha256) for f in case.log_files
                            if f.source.id not in log_withheld})
            listing = sums_text({name: h.sha256 for name, h in content.items()})
            store.add_custody(actor, "export", f"pack:{out.name}", sha256=hashlib.sha256(listing.encode()).hexdigest(),
                              detail={"options": options.to_dict(), "calls": [pc.call.id for pc in case.calls],
                                      "flags": [f.row.id for f in case.flags if not f.pending],
                                      "pending_flags": [f.row.id for f in case.flags if f.pending],
                                      "left_out": case.left_out,
                                      "message_files": [f.source.id for f in case.message_files],
                                      "message_flags": [f.row.id for f in case.message_flags if not f.pending],
                                      "pending_message_flags": [f.row.id for f in case.message_flags if f.pending],
                                      "message_left_out": case.message_left_out,
                                      "call_log_files": [f.source.id for f in case.log_files],
                                      "call_log_findings": [f.row.key for f in case.log_flags if not f.pending],
                                      "pending_call_log_findings": [f.row.key for f in case.log_flags if f.pending],
                                      "signer": key.fingerprint,
                                      "files": {name: h.sha256 for name, h in sorted(content.items())}})
            events, rechained = redact_custody(store.custody_events(), redactor) if redactor else (
                store.custody_events(), False)
            files[CUSTODY] = to_jsonl(events).encode()
            content[CUSTODY] = FileHash(len(files[CUSTODY]), hashlib.sha256(files[CUSTODY]).hexdigest())
            manifest = build_manifest(
                case_info=case.case_info, created=created_times(now), content_as_of=case.content_as_of,
                engines=case.engines, rule_packs=case.rule_packs, options=options.to_dict(),
                redaction=manifest_redaction(case, redactor, redacted, rechained),
                decoder=decoder_versions(), templates=templates.sources(),
                calls=[_manifest_call(pc) for pc in case.calls],
                flags={"accepted": sum(not f.pending for f in case.flags),
                       "pending_included": sum(f.pending for f in case.flags), "left_out": case.left_out},
                excerpts=excerpts, files=content,
                messages={"message_files": [_manifest_message_file(f, redacted) for f in case.message_files],
                          "message_flags": {"accepted": sum(not f.pending for f in case.message_flags),
                                            "pending_included": sum(f.pending for f in case.message_flags),
                                            "left_out": case.message_left_out},
                          "annotated": annotated, "annotation_drawer": annotation_versions(),
                          **manifest_call_log(case, log_withheld)},
                signer=key.signer(), custody={"events": len(events), "head": events[-1].hash})
            if log_withheld:
                manifest["redaction"].setdefault("withheld_originals", []).extend(
                    {"id": f.source.id, "original": f.original_name, "reason": WITHHELD_REASON}
                    for f in case.log_files)
            if redactor:  # file names, received_by labels...: the manifest is shared with the pack
                manifest = redactor.value(manifest)
            files[MANIFEST] = manifest_text(manifest).encode()
            files[SIGNATURE] = key.sign(files[MANIFEST])
            sums = {name: h.sha256 for name, h in content.items()}
            sums[MANIFEST] = hashlib.sha256(files[MANIFEST]).hexdigest()
            sums[SIGNATURE] = hashlib.sha256(files[SIGNATURE]).hexdigest()
            code = pack_code(sums[MANIFEST], key.fingerprint)
            files[SUMS] = sums_text(sums).encode()

            partial = out.with_name(f".{out.name}.partial")
            try:
                written = write_zip(partial, _entries(files, staged, case, redacted), date_time)
                for pack_call in case.calls:  # the bytes that went into the zip are the intake bytes
                    if written[pack_call.original_name] != pack_call.call.sha256:
                        raise InputError(pack_call.call.source_path, "写入证据包时原件哈希不符，已停止",
                                         "original hash changed while writing the pack")
                for log_file in case.log_files:
                    if log_file.source.id not in log_withheld and written[log_file.original_name] != log_file.source.sha256:
                        raise InputError(log_file.source.source_path, "写入证据包时通话记录原件哈希不符，已停止",
                                         "call-log original hash changed while writing the pack")
                for pack_file in case.message_files:
                    if redacted is not None and not redacted.packed_as_is(pack_file.source.id):
                        continue  # a masked copy, or left out
                    if written[pack_file.original_name] != pack_file.source.sha256:
                        raise InputError(pack_file.source.source_path, "写入证据包时消息原件哈希不符，已停止",
                                         "message original hash changed while writing the pack")
                os.replace(partial, out)
            finally:
                partial.unlink(missing_ok=True)
        zip_sha = sha256_file(out)
        size = out.stat().st_size
        store.add_custody(actor, "export_written", f"pack:{out.name}", sha256=zip_sha,
                          detail={"path": str(out), "size": size, "manifest_sha256": sums[MANIFEST],
                                  "signer": key.fingerprint, "code": code})
    return ExportResult(out, zip_sha, size, len(case.calls), len(case.flags), sum(f.pending for f in case.flags),
                        len(excerpts), case.left_out, bool(redactor), redactor.masked if redactor else 0, warnings,
                        len(case.message_files), len(case.message_flags), sum(f.pending for f in case.message_flags),
                        len(annotated), sums[MANIFEST], key.fingerprint, code, key.path, key.created)

