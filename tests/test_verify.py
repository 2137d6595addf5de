"""`verify`: an intact pack passes; each kind of damage is named on its own line; hostile zips are refused."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_export import reviewed_case, unpack

from cli import main
from pipeline.evidence import PackOptions, export_pack, safe_extract, verify_pack
from pipeline.evidence.excerpts import read_wav, wav_bytes


@pytest.fixture(scope="module")
def pack_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = reviewed_case(tmp_path_factory)
    out = tmp_path_factory.mktemp("verify") / "pack.zip"
    export_pack(case.case_dir, out, PackOptions())
    return out


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
