"""``verify PACK --case CASE_DIR``: is this pack one the case itself recorded exporting?

Every export appends 'export_written' to the case's custody log with the zip's SHA-256, the
manifest's SHA-256, the signer's fingerprint and the 存证码. A pack matches when its manifest
hash is one of those (and, for a zip, the zip hash of the same event); the pack's custody.jsonl
must then agree with the case's own log event for event (by hash, or, for a redacted pack whose
chain was hashed again, by time, action and object hash), and the case's log must be intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.evidence.pack import open_case


def _same_event(pack_event: dict[str, Any], case_event: Any, rechained: bool) -> bool:
    if not rechained:
        return pack_event.get("hash") == case_event.hash
    return (pack_event.get("at"), pack_event.get("action"), pack_event.get("sha256")) == (
        case_event.at, case_event.action, case_event.sha256)


def check_against_case(case_dir: Path, manifest_sha256: str | None, signer: str | None, zip_sha256: str | None,
                       pack_events: list[dict[str, Any]], rechained: bool) -> tuple[list[str], list[str]]:
    """(problems, notes): one line each."""
    with open_case(Path(case_dir)) as store:
        problems = [f"案件 {case_dir} 的保管链有问题：{p}" for p in store.verify_custody()]
        events = store.custody_events()
    written = [e for e in events if e.action == "export_written"]
    match = next((e for e in reversed(written) if manifest_sha256 and e.detail.get("manifest_sha256") == manifest_sha256),
                 None)
    if match is None:
        problems.append(f"案件 {case_dir} 的保管链中没有这个证据包的导出记录：它的清单哈希 "
                        f"{(manifest_sha256 or '（无）')[:20]}… 不属于这个案件导出过的 {len(written)} 个证据包中的任何一个 "
                        f"(no export of this pack is recorded in the case)")
        return problems, []
    if zip_sha256 and match.sha256 != zip_sha256:
        problems.append(f"zip 的 SHA-256 与案件 {match.at} 导出时记录的（{match.sha256[:16]}…）不同：内容清单相同，"
                        f"但压缩包被重新打包过 (zip sha256 differs from the recorded export)")
    recorded_signer = match.detail.get("signer")
    if recorded_signer and recorded_signer != signer:
        problems.append(f"签名密钥与案件导出时记录的（{recorded_signer[:16]}…）不同 "
                        f"(signer differs from the one recorded at export)")
    by_seq = {e.seq: e for e in events}
    for pack_event in pack_events:
        case_event = by_seq.get(pack_event.get("seq"))  # type: ignore[arg-type]
        if case_event is None or not _same_event(pack_event, case_event, rechained):
            problems.append(f"包内保管链第 {pack_event.get('seq')} 条与案件的保管链不一致 "
                            f"(custody event {pack_event.get('seq')} differs from the case's)")
            break
    if not problems:
        return [], [f"与案件 {case_dir} 在 {match.at} 导出并记录的证据包一致 (matches the export recorded in the case)"]
    return problems, []
