"""`run`, `export` and a killed or starved `run` on hostile or unlucky inputs, end to end with the real
model (issue 17, items 6-11): a FIFO and a device in the folder, a recording cut short, a file name
with a newline and an escape sequence, a link out of the folder, a case used from another folder
after its recordings moved, a SIGKILLed run with worker processes, a disk that fills up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import descendants

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / "cli.py")
SAMPLES = ROOT / "samples"
AMR = SAMPLES / "13800138000 2024-01-16 10-06-40.amr"
M4A = SAMPLES / "13912345678_20240116093015.m4a"
MP3 = SAMPLES / "通话录音@张三(13800138000)_20240115223402.mp3"
EVIL_NAME = "evil\n[bold red]x\x1b[31m.m4a"


def cli(*args: str, cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("hostile")
    inputs, outside = base / "in", base / "outside"
    inputs.mkdir()
    outside.mkdir()
    shutil.copy2(AMR, inputs / "whole.amr")
    data = AMR.read_bytes()
    (inputs / "cut.amr").write_bytes(data[: len(data) * 6 // 10 + 7])  # a recorder killed mid-frame
    shutil.copy2(M4A, inputs / EVIL_NAME)
    shutil.copy2(MP3, outside / "far.mp3")
    (inputs / "far.mp3").symlink_to(Path("..") / "outside" / "far.mp3")
    os.mkfifo(inputs / "pipe.mp3")
    (inputs / "zero.wav").symlink_to("/dev/zero")
    # started from base with relative paths, as a user in a terminal would
    result = cli("run", "in", "-o", "case", "--speakers", "off", cwd=base, timeout=1200)
    return base, base / "case", result


def test_fifo_and_device_are_skipped_in_one_line_each(hostile) -> None:
    _, case, result = hostile
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert sum("pipe.mp3" in line and "FIFO" in line for line in lines) == 1
    assert sum("zero.wav" in line and "设备文件" in line for line in lines) == 1
    skipped = {Path(s["file"]).name: s["reason"] for s in json.loads((case / "summary.json").read_text())["this_run"]["non_audio_skipped"]}
    assert "FIFO" in skipped["pipe.mp3"] and "device" in skipped["zero.wav"]


def test_truncated_recording_is_reported_as_incomplete_everywhere(hostile) -> None:
    _, case, result = hostile
    assert any("cut.amr" in line and "完成（录音不完整）" in line for line in result.stderr.splitlines())
    assert any("cut.amr" in line and "最后一帧被截断" in line for line in result.stderr.splitlines())
    summary = json.loads((case / "summary.json").read_text())
    [incomplete] = summary["this_run"]["incomplete"]
    assert incomplete["file"].endswith("cut.amr") and incomplete["kind"] == "truncated"
    assert 15 < incomplete["decoded_seconds"] < 25  # 60% of the 31 s call
    with sqlite3.connect(case / "case.sqlite") as conn:
        call_id, transcript = conn.execute("SELECT id, transcript_json FROM calls WHERE source_path LIKE '%cut.amr'").fetchone()
    assert json.loads(transcript)["source"]["damage"]["kind"] == "truncated"
    index = (case / "index.html").read_text(encoding="utf-8")
    assert "完成（录音不完整）" in index
    page = (case / "calls" / call_id / "transcript.html").read_text(encoding="utf-8")
    assert "录音状态" in page and "最后一帧被截断" in page
    whole = json.loads((case / "calls" / call_id / "transcript.json").read_text(encoding="utf-8"))
    assert whole["source"]["damage"]["decoded_seconds"] == incomplete["decoded_seconds"]


def test_control_characters_in_a_file_name_stay_on_one_line(hostile) -> None:
    _, case, result = hostile
    assert "\x1b" not in result.stderr  # no escape sequence reached the terminal
    assert any("evil\\n[bold red]x\\x1b[31m.m4a" in line for line in result.stderr.splitlines())
    assert not any(line.startswith("[bold red]x") for line in result.stderr.splitlines())
    with sqlite3.connect(case / "case.sqlite") as conn:
        paths = [r[0] for r in conn.execute("SELECT source_path FROM calls")]
    assert any(p.endswith(EVIL_NAME) for p in paths)  # stored as it is, escaped only when shown


def test_link_outside_the_folder_is_followed_and_recorded(hostile) -> None:
    base, case, result = hostile
    summary = json.loads((case / "summary.json").read_text())
    assert summary["this_run"]["links_outside_input"] == [
        {"file": str(base / "in" / "far.mp3"), "target": str((base / "outside" / "far.mp3").resolve())}]
    assert any("链接到输入文件夹之外" in line and "far.mp3" in line for line in result.stderr.splitlines())
    with sqlite3.connect(case / "case.sqlite") as conn:
        events = [json.loads(r[0]) for r in conn.execute("SELECT detail_json FROM custody WHERE action = 'link_outside_input'")]
        status = conn.execute("SELECT status FROM calls WHERE source_path LIKE '%far.mp3'").fetchone()[0]
    assert status == "done"
    assert events == [{"path": str(base / "in" / "far.mp3"), "target": str((base / "outside" / "far.mp3").resolve())}]


def test_paths_are_absolute_and_relative_to_the_input_folder(hostile) -> None:
    base, case, _ = hostile
    with sqlite3.connect(case / "case.sqlite") as conn:
        rows = dict(conn.execute("SELECT source_rel, source_path FROM calls"))
    assert rows["cut.amr"] == str(base / "in" / "cut.amr") and rows["far.mp3"] == str(base / "in" / "far.mp3")


def test_export_from_another_folder_then_after_the_recordings_moved(hostile, tmp_path: Path) -> None:
    base, case, _ = hostile
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = cli("export", str(case), "-o", "pack.zip", "--include-pending", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    moved = base / "moved_in"
    (base / "in").rename(moved)
    try:
        failed = cli("export", str(case), "-o", "pack2.zip", "--include-pending", cwd=elsewhere)
        assert failed.returncode == 2 and "Traceback" not in failed.stderr
        assert "--recordings" in failed.stderr
        found = cli("export", str(case), "-o", "pack2.zip", "--include-pending", "--recordings", str(moved), cwd=elsewhere)
        assert found.returncode == 0, found.stderr
        assert found.stderr.count("已按 SHA-256 找到") == 4  # every recording, the linked one by its relative path
        with sqlite3.connect(case / "case.sqlite") as conn:
            paths = {r[0] for r in conn.execute("SELECT source_path FROM calls")}
            relocated = conn.execute("SELECT count(*) FROM custody WHERE action = 'relocate'").fetchone()[0]
        assert str(moved / "cut.amr") in paths and relocated >= 3
        again = cli("export", str(case), "-o", "pack3.zip", "--include-pending", cwd=elsewhere)
        assert again.returncode == 0 and "已按 SHA-256 找到" not in again.stderr  # the new place is on record
    finally:
        moved.rename(base / "in")
    import zipfile

    with zipfile.ZipFile(elsewhere / "pack.zip") as pack:
        texts = [pack.read(n).decode("utf-8") for n in pack.namelist() if n.startswith("transcripts/") and n.endswith(".txt")]
    assert any("录音状态: 完成（录音不完整）" in t for t in texts)


def test_sigkill_of_run_leaves_no_worker_alive(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for source in (AMR, M4A, MP3):
        shutil.copy2(source, inputs / source.name)
    proc = subprocess.Popen([sys.executable, CLI, "run", str(inputs), "-o", str(tmp_path / "case"), "--speakers", "off",
                             "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not workers:
        workers = {p for p in descendants(proc.pid) if "python" in Path(f"/proc/{p}/comm").read_text(errors="ignore")}
        time.sleep(0.2)
    assert proc.poll() is None and workers, "the run ended before its model process started"
    time.sleep(3)  # the model process is loading the model / transcribing
    everything = descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    end = time.time() + 15
    while time.time() < end and any(alive(p) for p in everything):
        time.sleep(0.2)
    assert not [p for p in everything if alive(p)], "worker processes outlived the killed run"


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
                           capture_output=True)
    return probe.returncode == 0


def test_disk_full_during_run_is_one_line_and_the_case_resumes(tmp_path: Path) -> None:
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip("cannot mount a small tmpfs here (needs unshare -rm: user and mount namespaces)")
    inputs = tmp_path / "in"
    inputs.mkdir()
    for source in (AMR, M4A, MP3):
        shutil.copy2(source, inputs / source.name)
    disk = tmp_path / "disk"
    disk.mkdir()
    case = disk / "case"
    run = f"'{sys.executable}' '{CLI}' run '{inputs}' -o '{case}' --speakers off --workers 1"
    script = (f"mount -t tmpfs -o size=560k tmpfs '{disk}' && "
              f"{run} 2> '{tmp_path}/first.err'; echo $? > '{tmp_path}/first.rc'; "
              f"find '{case}' -name '*.tmp' > '{tmp_path}/first.ls'; "
              f"'{sys.executable}' -c \"import sqlite3; print(sqlite3.connect('{case}/case.sqlite')"
              f".execute('SELECT count(*) FROM calls WHERE status = \\'done\\'').fetchone()[0])\" > '{tmp_path}/first.done'; "
              f"mount -o remount,size=64m '{disk}' && {run} 2> '{tmp_path}/second.err'; echo $? > '{tmp_path}/second.rc'; "
              f"cp -a '{case}' '{tmp_path}/case_copy'")
    subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, timeout=1800, env={**os.environ, "COLUMNS": "400"})
    first_err = (tmp_path / "first.err").read_text()
    assert (tmp_path / "first.rc").read_text().strip() == "1", first_err
    assert "Traceback" not in first_err
    full = [line for line in first_err.splitlines() if "磁盘空间不足" in line]
    assert len(full) == 1 and "无法写入" in full[0] and "MB" in full[0] and "约需" in full[0]
    assert (tmp_path / "first.ls").read_text().strip() == ""  # no half-written temp file left
    second_err = (tmp_path / "second.err").read_text()
    assert (tmp_path / "second.rc").read_text().strip() == "0", second_err
    copy = tmp_path / "case_copy"
    with sqlite3.connect(copy / "case.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = [r[0] for r in conn.execute("SELECT status FROM calls")]
        for call_id, status in conn.execute("SELECT id, status FROM calls"):
            segments = conn.execute("SELECT count(*) FROM segments WHERE call_id = ?", (call_id,)).fetchone()[0]
            assert (status == "done") == (segments > 0)
    assert statuses == ["done"] * 3
    summary = json.loads((copy / "summary.json").read_text())
    first_done = int((tmp_path / "first.done").read_text())
    # resumed, not redone: what the first run finished before the disk filled is skipped
    assert summary["calls"] == 3 and summary["this_run"]["skipped_already_done"] == first_done
    assert not list(copy.rglob(".*.tmp"))
