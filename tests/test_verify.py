"""`verify`: an intact pack passes; each kind of damage is named on its own line; hostile zips are refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from test_export import reviewed_case, unpack

from cli import main
from pipeline.evidence import PackOptions, export_pack, safe_extract, verify_pack
from pipeline.evidence.excerpts import read_wav, wav_bytes
from pipeline.evidence.manifest import manifest_text
from pipeline.evidence.signing import SigningKey, local_fingerprint, spaced
from pipeline.store.custody import GENESIS, canonical_json


@pytest.fixture(scope="module")
def pack_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = reviewed_case(tmp_path_factory)
    out = tmp_path_factory.mktemp("verify") / "pack.zip"
    export_pack(case.case_dir, out, PackOptions())
    return out


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reviewed_case(tmp_path_factory).case_dir


@pytest.fixture
def pack_dir(pack_zip: Path, tmp_path: Path) -> Path:
    return unpack(pack_zip, tmp_path / "pack")


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def problems_of(root: Path) -> list[str]:
    report = verify_pack(root)
    assert not report.ok
    return report.problems


def test_intact_pack_passes_as_zip_and_as_folder(pack_zip: Path, pack_dir: Path) -> None:
    for target in (pack_zip, pack_dir):
        report = verify_pack(target)
        assert report.ok, report.problems
        assert report.files_checked == len((pack_dir / "SHA256SUMS").read_text().splitlines())
        assert report.excerpts_checked == len(list((pack_dir / "excerpts").iterdir())) > 0
        assert report.custody_events > 0
    result = CliRunner().invoke(main, ["verify", str(pack_zip)])
    assert result.exit_code == 0 and "证据包完好" in result.output


def test_flipped_byte_in_an_original(pack_dir: Path) -> None:
    original = next((pack_dir / "originals").iterdir())
    flip_byte(original, original.stat().st_size // 2)
    problems = problems_of(pack_dir)
    name = f"originals/{original.name}"
    assert f"原始录音 {name} 被改动：SHA-256 与 SHA256SUMS 不符" in "\n".join(problems)
    assert any(p.startswith(f"原始录音 {name} 与接收时记录的 SHA-256 不符") for p in problems)
    assert not any("录音摘录" in p and "被改动" in p for p in problems)
    result = CliRunner().invoke(main, ["verify", str(pack_dir)])
    assert result.exit_code == 1 and name in result.output


def test_flipped_byte_in_an_excerpt(pack_dir: Path) -> None:
    clip = sorted((pack_dir / "excerpts").iterdir())[0]
    flip_byte(clip, clip.stat().st_size - 101)  # a sample in the data chunk, not the header
    problems = problems_of(pack_dir)
    name = f"excerpts/{clip.name}"
    assert any(p.startswith(f"录音摘录 {name} 被改动") for p in problems)
    assert any(p.startswith(f"录音摘录 {name} 与原始录音") and "不一致" in p for p in problems)
    assert not any(p.startswith("原始录音") for p in problems)


def test_flipped_byte_in_the_custody_log(pack_dir: Path) -> None:
    custody = pack_dir / "custody.jsonl"
    lines = custody.read_text(encoding="utf-8").splitlines(keepends=True)
    offset = len("".join(lines[:2]).encode()) + lines[2].index('"at":"') + 8  # a digit of line 3's year
    flip_byte(custody, offset)
    problems = problems_of(pack_dir)
    assert any(p.startswith("保管链 custody.jsonl 被改动") for p in problems)
    assert any(p.startswith("保管链：监管记录第 4 条与前一条的链接断开") for p in problems)
    assert not any(p.startswith(("原始录音", "录音摘录")) for p in problems)


def test_sha256sum_alone_detects_the_change(pack_dir: Path) -> None:
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        pytest.skip("no sha256sum on this machine")
    assert subprocess.run([sha256sum, "-c", "--quiet", "SHA256SUMS"], cwd=pack_dir).returncode == 0
    flip_byte(pack_dir / "timeline.csv", 10)
    run = subprocess.run([sha256sum, "-c", "--quiet", "SHA256SUMS"], cwd=pack_dir, capture_output=True, text=True)
    assert run.returncode != 0 and "timeline.csv" in run.stdout


def test_a_recut_excerpt_with_rewritten_hashes_is_still_caught(pack_dir: Path) -> None:
    """Someone replaces an excerpt and updates SHA256SUMS and the manifest to match."""
    clip = sorted((pack_dir / "excerpts").iterdir())[0]
    samples, rate = read_wav(clip)
    clip.write_bytes(wav_bytes(np.zeros_like(samples), rate))
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    name = f"excerpts/{clip.name}"
    manifest = json.loads((pack_dir / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == name:
            entry["sha256"], entry["size"] = digest, clip.stat().st_size
    (pack_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    sums = {}
    for line in (pack_dir / "SHA256SUMS").read_text().splitlines():
        value, path = line.split("  ", 1)
        sums[path] = value
    sums[name] = digest
    sums["manifest.json"] = hashlib.sha256((pack_dir / "manifest.json").read_bytes()).hexdigest()
    (pack_dir / "SHA256SUMS").write_text("".join(f"{v}  {k}\n" for k, v in sorted(sums.items())))
    problems = problems_of(pack_dir)
    assert any(p.startswith(f"{name} 与保管链导出记录中的哈希不符") for p in problems)
    assert any(p.startswith(f"录音摘录 {name} 与原始录音") for p in problems)
    assert not any("SHA256SUMS 不符" in p for p in problems)


def test_missing_and_extra_files(pack_dir: Path) -> None:
    (pack_dir / "complaints" / "nifa.txt").unlink()
    (pack_dir / "extra.txt").write_text("added later", encoding="utf-8")
    problems = problems_of(pack_dir)
    assert "缺少文件 complaints/nifa.txt (missing file: complaints/nifa.txt)" in problems
    assert any(p.startswith("多出未登记的文件 extra.txt") for p in problems)


def _hostile_zip(pack_zip: Path, target: Path, outside: Path) -> None:
    shutil.copy(pack_zip, target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("../escaped.txt", "zip-slip")
        archive.writestr("excerpts/../../escaped2.txt", "zip-slip")
        archive.writestr(str(outside), "absolute")
        archive.writestr("..\\escaped3.txt", "windows zip-slip")
        link = zipfile.ZipInfo("link-to-etc")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc")


def test_hostile_archive_entries_are_refused_and_nothing_escapes(pack_zip: Path, tmp_path: Path) -> None:
    outside = tmp_path / "absolute-target.txt"
    hostile = tmp_path / "hostile.zip"
    _hostile_zip(pack_zip, hostile, outside)
    dest = tmp_path / "a" / "b" / "out"
    dest.mkdir(parents=True)
    problems = safe_extract(hostile, dest)
    assert len(problems) == 5 and all("已拒绝" in p for p in problems)
    assert any("'../escaped.txt'" in p and ".." in p for p in problems)
    assert any("绝对路径" in p for p in problems) and any("反斜杠" in p for p in problems)
    assert any("符号链接" in p for p in problems)
    assert not outside.exists() and not (dest / "link-to-etc").exists()
    escaped = [p for p in tmp_path.rglob("escaped*")]
    assert escaped == []
    result = CliRunner().invoke(main, ["verify", str(hostile)])
    assert result.exit_code == 1 and "已拒绝" in result.output and not outside.exists()


def test_not_a_pack(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    result = CliRunner().invoke(main, ["verify", str(junk)])
    assert result.exit_code == 2 and "不是有效的 zip" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["verify", str(tmp_path / "missing.zip")])
    assert result.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    report = verify_pack(empty)
    assert not report.ok and any("缺少 SHA256SUMS" in p for p in report.problems)


def test_redacted_pack_verifies(pack_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    case = reviewed_case(tmp_path_factory)
    out = tmp_path_factory.mktemp("redacted-verify") / "pack.zip"
    export_pack(case.case_dir, out, PackOptions(redact=True))
    report = verify_pack(out)
    assert report.ok, report.problems


# ------------------------------------------------------------------ signature: re-forged packs


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reforge(root: Path, *, sign_with: SigningKey | None = None, keep_signature: bool = True) -> None:
    """What a careful forger does after editing files: renumber and re-hash the whole custody
    chain (with the export event's file hashes), the manifest (file hashes, custody head) and
    SHA256SUMS. Without the user's key the old manifest.sig stays (or is dropped, or the forger
    signs with a key of their own)."""
    custody = root / "custody.jsonl"
    events = [json.loads(line) for line in custody.read_text(encoding="utf-8").splitlines()]
    files = events[-1]["detail"]["files"]
    for name in files:
        files[name] = _sha(root / name)
    prev, lines = GENESIS, []
    for seq, event in enumerate(events, 1):
        event["seq"], event["prev_hash"] = seq, prev
        lines.append(canonical_json(event))
        prev = hashlib.sha256(lines[-1].encode()).hexdigest()
    custody.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        entry["sha256"], entry["size"] = _sha(root / entry["path"]), (root / entry["path"]).stat().st_size
    manifest["custody"] = {"events": len(events), "head": prev}
    if sign_with is not None:
        manifest["signer"] = sign_with.signer()
    (root / "manifest.json").write_text(manifest_text(manifest), encoding="utf-8")
    signature = root / "manifest.sig"
    if sign_with is not None:
        signature.write_bytes(sign_with.sign((root / "manifest.json").read_bytes()))
    elif not keep_signature:
        signature.unlink()
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    (root / "SHA256SUMS").write_text("".join(f"{_sha(root / n)}  {n}\n" for n in names), encoding="utf-8")


def _edit_transcript(root: Path) -> None:
    text = next((root / "transcripts").glob("*.txt"))
    text.write_text(text.read_text(encoding="utf-8").replace("钱", "米"), encoding="utf-8")


def _replace_original(root: Path) -> None:
    """Swap in other bytes for an original, and make its intake event and manifest entry agree."""
    original = next(p for p in (root / "originals").iterdir() if p.suffix == ".mp3")
    old = _sha(original)
    original.write_bytes(original.read_bytes() + b"\0" * 64)
    new = _sha(original)
    for name in ("custody.jsonl", "manifest.json"):
        path = root / name
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def _delete_custody_event(root: Path) -> None:
    custody = root / "custody.jsonl"
    lines = custody.read_text(encoding="utf-8").splitlines(keepends=True)
    review = next(i for i, line in enumerate(lines) if '"action":"review' in line)
    del lines[review]
    custody.write_text("".join(lines), encoding="utf-8")


REFORGERIES = {"transcript": _edit_transcript, "original": _replace_original, "custody": _delete_custody_event}


@pytest.mark.parametrize("what", sorted(REFORGERIES))
def test_a_reforged_pack_fails_on_its_signature(pack_dir: Path, what: str) -> None:
    before = verify_pack(pack_dir)
    assert before.ok and before.signer
    REFORGERIES[what](pack_dir)
    reforge(pack_dir)
    problems = problems_of(pack_dir)
    assert problems == ["签名无效：manifest.sig 与 manifest.json 不符，清单在签名之后被改动或重算过 "
                        "(signature does not match manifest.json: the manifest was changed after signing)"]
    result = CliRunner().invoke(main, ["verify", str(pack_dir)])
    assert result.exit_code == 1 and "签名无效" in result.output and "证据包完好" not in result.output


def test_a_reforged_pack_without_its_signature_fails(pack_dir: Path) -> None:
    _edit_transcript(pack_dir)
    reforge(pack_dir, keep_signature=False)
    problems = problems_of(pack_dir)
    assert len(problems) == 1 and problems[0].startswith("缺少签名文件 manifest.sig")


def test_a_pack_resigned_with_another_key_shows_another_fingerprint(pack_zip: Path, pack_dir: Path, case_dir: Path,
                                                                     tmp_path: Path) -> None:
    """The forger signs with a key of their own: the pack is consistent, but its signer, and
    therefore its 存证码, are not the user's; --expect and --case catch it."""
    original = verify_pack(pack_zip)
    assert original.signer == local_fingerprint()
    forger = SigningKey(Ed25519PrivateKey.generate(), tmp_path / "forger.pem", False)
    _delete_custody_event(pack_dir)
    reforge(pack_dir, sign_with=forger)
    forged = verify_pack(pack_dir)
    assert forged.ok and forged.signer == forger.fingerprint != original.signer
    assert forged.code and original.code and forged.code.split("-")[1] != original.code.split("-")[1]
    result = CliRunner().invoke(main, ["verify", str(pack_dir)])
    assert result.exit_code == 0 and spaced(forger.fingerprint) in result.output
    assert "不是本机用户的导出密钥" in result.output and spaced(original.signer) not in result.output
    result = CliRunner().invoke(main, ["verify", str(pack_dir), "--expect", original.code])
    assert result.exit_code == 1 and "与存证码不符：清单的哈希" in result.output and "签名者不是发出存证码的人" in result.output
    result = CliRunner().invoke(main, ["verify", str(pack_dir), "--case", str(case_dir)])
    assert result.exit_code == 1 and "保管链中没有这个证据包的导出记录" in result.output


def test_expect_accepts_the_code_or_a_sha256_and_fails_on_any_mismatch(pack_zip: Path, pack_dir: Path) -> None:
    report = verify_pack(pack_zip)
    zip_sha, manifest_sha = _sha(pack_zip), _sha(pack_dir / "manifest.json")
    assert report.code == f"{manifest_sha[:20]}-{report.signer[:8]}" and report.zip_sha256 == zip_sha
    for target, good in ((pack_zip, [report.code, zip_sha, manifest_sha, f"存证码：{report.code.upper()}"]),
                         (pack_dir, [report.code, manifest_sha])):
        for expected in good:
            checked = verify_pack(target, expect=expected)
            assert checked.ok and checked.notes, (target, expected, checked.problems)
    wrong_content = f"{'0' * 20}-{report.signer[:8]}"
    assert verify_pack(pack_zip, expect=wrong_content).problems[0].startswith("与存证码不符：清单的哈希")
    wrong_key = f"{manifest_sha[:20]}-{'0' * 8}"
    assert verify_pack(pack_zip, expect=wrong_key).problems[0].startswith("与存证码不符：签名密钥指纹")
    problems = verify_pack(pack_dir, expect=zip_sha).problems  # a folder has no zip hash to compare
    assert len(problems) == 1 and "核对文件夹时无法计算 zip 的哈希" in problems[0]
    result = CliRunner().invoke(main, ["verify", str(pack_zip), "--expect", "abc"])
    assert result.exit_code == 2 and "--expect 应为存证码" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["verify", str(pack_zip), "--expect", report.code])
    assert result.exit_code == 0 and f"存证码 {report.code}" in result.output and "本机用户的导出密钥" in result.output


def test_verify_against_the_case_that_exported_the_pack(pack_zip: Path, pack_dir: Path, case_dir: Path,
                                                         tmp_path: Path) -> None:
    case = case_dir
    for target in (pack_zip, pack_dir):
        report = verify_pack(target, case_dir=case)
        assert report.ok and any("导出并记录的证据包一致" in n for n in report.notes), report.problems
    rezipped = tmp_path / "rezipped.zip"
    shutil.make_archive(str(rezipped.with_suffix("")), "zip", pack_dir)
    problems = verify_pack(rezipped, case_dir=case).problems
    assert problems and all("重新打包" in p for p in problems)
    result = CliRunner().invoke(main, ["verify", str(pack_zip), "--case", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "不是案件文件夹" in result.output


def test_export_prints_the_code_and_keeps_the_key_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv("CALLPROOF_CONFIG", str(config))
    case = reviewed_case(tmp_path_factory).case_dir
    out = tmp_path / "pack.zip"
    result = CliRunner().invoke(main, ["export", str(case), "-o", str(out)])
    assert result.exit_code == 0, result.output
    key = config / "signing_key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(config.stat().st_mode) == 0o700
    assert "已为你生成签名密钥" in result.output and "[red]" not in result.output
    report = verify_pack(out)
    assert report.ok and report.signer == local_fingerprint()
    assert f"存证码 {report.code}" in result.output and spaced(report.signer) in result.output
    assert "可信的人、律师或存证平台" in result.output
    pem = key.read_bytes()
    private = load_pem_private_key(pem, None).private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    assert pem not in out.read_bytes() and private not in out.read_bytes()
    assert not any(p.is_file() and (pem in p.read_bytes() or private in p.read_bytes()) for p in case.rglob("*"))
    again = CliRunner().invoke(main, ["export", str(case), "-o", str(tmp_path / "again.zip")])
    assert again.exit_code == 0 and "已为你生成签名密钥" not in again.output  # one key per user, reused
    assert verify_pack(tmp_path / "again.zip").signer == report.signer
    key.chmod(0o644)
    CliRunner().invoke(main, ["export", str(case), "-o", str(tmp_path / "third.zip")])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    monkeypatch.setenv("CALLPROOF_CONFIG", str(case / "keys"))
    refused = CliRunner().invoke(main, ["export", str(case), "-o", str(tmp_path / "no.zip")])
    assert refused.exit_code == 2 and "在案件或证据包文件夹" in refused.output and not (case / "keys").exists()


# ------------------------------------------------------------------ folder mode: links and odd files


def test_folder_members_that_are_links_or_not_regular_files_are_problems(pack_dir: Path, tmp_path: Path) -> None:
    """A link, even to an identical copy, is not the pack's file; a FIFO is never opened (no hang)."""
    original = sorted((pack_dir / "originals").iterdir())[0]
    outside = Path(shutil.copy2(original, tmp_path / original.name))
    original.unlink()
    original.symlink_to(outside)
    complaints = Path(shutil.copytree(pack_dir / "complaints", tmp_path / "complaints"))
    shutil.rmtree(pack_dir / "complaints")
    (pack_dir / "complaints").symlink_to(complaints, target_is_directory=True)
    os.mkfifo(pack_dir / "transcripts" / "pipe.txt")
    problems = problems_of(pack_dir)
    name = f"originals/{original.name}"
    assert f"原始录音 {name} 是符号链接（即使指向相同的文件，也不是包里的文件本身），不予读取 ({name}: symbolic link, not read)" \
        in problems
    assert any(p.startswith("文件 complaints 是符号链接") for p in problems)
    assert any(p.startswith("文件 transcripts/pipe.txt 不是普通文件") for p in problems)
    assert not any("complaints/" in p or "缺少" in p for p in problems), problems  # one line per link, not per file
    result = CliRunner().invoke(main, ["verify", str(pack_dir)])
    assert result.exit_code == 1 and "符号链接" in result.output


def test_a_linked_manifest_is_not_read(pack_dir: Path, tmp_path: Path) -> None:
    manifest = pack_dir / "manifest.json"
    outside = Path(shutil.copy2(manifest, tmp_path / "manifest.json"))
    manifest.unlink()
    manifest.symlink_to(outside)
    problems = problems_of(pack_dir)
    assert problems[0].startswith("清单 manifest.json 是符号链接") and not any("签名" in p for p in problems)
