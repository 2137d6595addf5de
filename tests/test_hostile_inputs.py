"""Hostile or unlucky input folders, without transcribing (issue 17, items 6, 7, 10, 11): FIFOs,
devices and sockets are skipped unread, links out of the folder are named, file names cannot
break a line or inject terminal markup, and a recording cut short says so and how much decoded."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest
from audio_fixtures import spec_named, write_format

from pipeline import audio
from pipeline.audio_complete import Damage
from pipeline.discover import discover
from pipeline.display import console_text, printable
from pipeline.errors import InputError
from pipeline.store import CaseStore

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
AMR_SAMPLE = SAMPLES / "13800138000 2024-01-16 10-06-40.amr"


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block takes longer than ``seconds``."""
    def expired(*_: object) -> None:
        raise TimeoutError(f"took longer than {seconds} s: something blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------ item 6: non-regular files


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy2(AMR_SAMPLE, folder / "good.amr")
    os.mkfifo(folder / "pipe.mp3")  # named like audio: the old discovery opened it and waited forever
    os.mkfifo(folder / "pipe_no_suffix")
    (folder / "zero.wav").symlink_to("/dev/zero")  # never ends
    (folder / "null.m4a").symlink_to("/dev/null")
    (folder / "gone.amr").symlink_to(folder / "deleted.amr")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock.amr"))
    server.close()
    return folder


def test_fifo_devices_and_sockets_are_skipped_unread(hostile_folder: Path) -> None:
    with deadline(30):
        found = discover(hostile_folder)
    assert [p.name for p in found.recordings] == ["good.amr"]
    reasons = {p.name: why for p, why in found.skipped}
    assert "FIFO" in reasons["pipe.mp3"] and "FIFO" in reasons["pipe_no_suffix"]
    assert "设备文件" in reasons["zero.wav"] and "device" in reasons["null.m4a"]
    assert "empty" not in reasons["zero.wav"] and "为空" not in reasons["zero.wav"]
    assert "socket" in reasons["sock.amr"]
    assert "broken symbolic link" in reasons["gone.amr"]
    assert all("\n" not in why for why in reasons.values())


def test_check_file_names_a_fifo_and_a_device(hostile_folder: Path) -> None:
    with deadline(30):
        for name, reason in (("pipe.mp3", "FIFO"), ("zero.wav", "a device"), ("null.m4a", "a device")):
            with pytest.raises(InputError, match=reason):
                audio.sha256_file(hostile_folder / name)
            with pytest.raises(InputError, match=reason):
                audio.probe(hostile_folder / name)
            assert audio.is_audio(hostile_folder / name) is False


def test_message_and_call_log_discovery_do_not_open_a_fifo(hostile_folder: Path) -> None:
    from pipeline.calllog.importer import discover_call_logs
    from pipeline.messages.importer import discover_messages

    os.mkfifo(hostile_folder / "sms.xml")
    os.mkfifo(hostile_folder / "calls.csv")
    with deadline(30):
        assert discover_messages(hostile_folder) == []
        assert discover_call_logs(hostile_folder) == []
        assert [p.name for p in discover(hostile_folder).companions] == []


# ------------------------------------------------------------------ item 11: links and names


def test_links_leading_outside_the_folder_are_followed_and_named(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy2(AMR_SAMPLE, outside / "far.amr")
    (outside / "sub").mkdir()
    shutil.copy2(AMR_SAMPLE, outside / "sub" / "deep.amr")
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy2(AMR_SAMPLE, folder / "near.amr")
    (folder / "far.amr").symlink_to(outside / "far.amr")
    (folder / "linked_dir").symlink_to(outside / "sub")
    (folder / "inner.amr").symlink_to(folder / "near.amr")  # a link that stays inside: not reported
    (folder / "loop").symlink_to(folder)  # a loop ends
    with deadline(60):
        found = discover(folder)
    names = sorted(str(p.relative_to(folder)) for p in found.recordings)
    assert names == ["far.amr", "inner.amr", "linked_dir/deep.amr", "near.amr"]
    assert found.links_outside == {folder / "far.amr": (outside / "far.amr").resolve(),
                                   folder / "linked_dir" / "deep.amr": (outside / "sub" / "deep.amr").resolve()}


@pytest.mark.parametrize("name", ["a\nb.amr", "a\rb.amr", "x\x1b[31mred.amr", "evil\u202e3pm.exe", "tab\there.amr",
                                  "a\u2028b.amr", "bell\x07.amr"])
def test_control_characters_in_names_are_escaped_on_one_line(name: str) -> None:
    shown = printable(name)
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown and "\u202e" not in shown
    assert "\u2028" not in shown and "\x07" not in shown and "\t" not in shown
    assert shown.isprintable()
    error = InputError(Path("/in") / name, "文件不存在", "file not found")
    assert str(error).isprintable() and error.path == str(Path("/in") / name)
    assert pickle.loads(pickle.dumps(error)).path == error.path  # crosses from a worker process intact


def test_chinese_and_spaces_are_left_alone_and_markup_is_escaped() -> None:
    assert printable("通话录音@张三 (138) 2024.amr") == "通话录音@张三 (138) 2024.amr"
    assert console_text("[bold red]x\n.amr") == "\\[bold red]x\\n.amr"


def test_undecodable_bytes_in_a_name_are_shown_as_hex(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/\xff\xfe.amr"
    assert printable(os.fsdecode(raw)).endswith("\\xff\\xfe.amr")


# ------------------------------------------------------------------ item 7: cut-short recordings


def _cut(path: Path, target: Path, share: float) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: int(len(data) * share)])
    return target


def _faststart_m4a(source: Path, target: Path) -> Path:
    """The same AAC with its index (moov) first, as recorders that stream write it."""
    with av.open(str(source)) as src, av.open(str(target), "w", format="ipod", options={"movflags": "faststart"}) as out:
        stream = src.streams.audio[0]
        copy = out.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
    return target


@pytest.mark.parametrize("name", ["wav_pcm16", "wav_mulaw_8k", "amr_nb", "ogg_opus", "ogg_vorbis", "mp3_16k", "flac"])
def test_a_cut_recording_is_truncated_with_how_much_decoded(tmp_path: Path, name: str) -> None:
    whole = write_format(tmp_path, spec_named(name))
    assert audio.decode(whole).damage is None
    decoded = audio.decode(_cut(whole, tmp_path / f"cut_{whole.name}", 0.6))
    damage = decoded.damage
    assert decoded.incomplete and damage is not None and damage.kind == "truncated"
    assert damage.label == "完成（录音不完整）"
    assert 1.5 < damage.decoded_seconds < 4.0 and f"{damage.decoded_seconds:.1f} 秒" in damage.reason_zh  # Ogg: whole pages
    assert damage.expected_seconds is None or 5.0 < damage.expected_seconds < 6.0


def test_real_sample_amr_cut_mid_frame(tmp_path: Path) -> None:
    data = AMR_SAMPLE.read_bytes()
    cut = tmp_path / "cut.amr"
    cut.write_bytes(data[: len(data) // 2 + 7])  # mid-frame, as a killed recorder leaves it
    damage = audio.decode(cut).damage
    assert damage is not None and damage.kind == "truncated" and "最后一帧被截断" in damage.reason_zh
    assert audio.decode(AMR_SAMPLE).damage is None


def test_m4a_with_its_index_first_cut_in_the_middle(tmp_path: Path) -> None:
    whole = _faststart_m4a(write_format(tmp_path, spec_named("m4a_aac")), tmp_path / "fast.m4a")
    assert audio.decode(whole).damage is None
    damage = audio.decode(_cut(whole, tmp_path / "fast_cut.m4a", 0.6)).damage
    assert damage is not None and damage.kind == "truncated"
    assert damage.expected_seconds == pytest.approx(5.55, abs=0.1)
    assert "文件头标明 5.5 秒" in damage.reason_zh or "文件头标明 5.6 秒" in damage.reason_zh


def test_iter_decode_reports_the_same_damage_as_decode(tmp_path: Path) -> None:
    cut = _cut(write_format(tmp_path, spec_named("mp3_16k")), tmp_path / "cut.mp3", 0.3)
    report = audio.DecodeReport()
    blocks = list(audio.iter_decode(cut, block_seconds=1.0, report=report))
    assert sum(b.shape[1] for b in blocks) / audio.SAMPLE_RATE == pytest.approx(report.seconds)
    assert report.damage == audio.decode(cut).damage and report.damage.kind == "truncated"


def test_wav_whose_header_size_was_never_written(tmp_path: Path) -> None:
    data = bytearray(write_format(tmp_path, spec_named("wav_pcm16")).read_bytes())
    at = data.index(b"data")
    data[at + 4: at + 8] = struct.pack("<I", 0xFFFFFFFF)  # a recorder killed before finishing the header
    path = tmp_path / "unfinished.wav"
    path.write_bytes(bytes(data))
    damage = audio.decode(path).damage
    assert damage is not None and damage.kind == "truncated" and "没有写入" in damage.reason_zh


def test_whole_files_of_every_format_are_not_damaged(encoded_audio: dict[str, Path]) -> None:
    for name, path in encoded_audio.items():
        assert audio.decode(path).damage is None, name


def test_damage_round_trips_through_a_dict() -> None:
    damage = Damage("corrupt", 3.0, None, 2, "录音有损坏", "damaged")
    assert Damage.from_dict(damage.to_dict()) == damage and damage.label == "完成（录音有损坏）"
    assert Damage.from_dict(None) is None


# ------------------------------------------------------------------ item 10: absolute + relative paths


def test_same_file_under_a_new_spelling_is_relocated_not_duplicated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy2(AMR_SAMPLE, folder / "a.amr")
    sha = audio.sha256_file(folder / "a.amr")
    monkeypatch.chdir(tmp_path)
    with CaseStore.open(tmp_path / "case") as store:
        store.upsert_call_intake(Path("in/a.amr"), sha)  # an old case: relative to where run was started
        row = store.upsert_call_intake(folder / "a.amr", sha, source_rel="a.amr")
        assert row.source_path == str(folder / "a.amr") and row.source_rel == "a.amr"
        assert row.duplicate_paths == []
        assert [e.action for e in store.custody_events()][-2:] == ["intake", "relocate"]


def test_message_summary_shows_hostile_names_literally_on_one_line(tmp_path: Path) -> None:
    from rich.console import Console

    from pipeline.messages.importer import MessageFileOutcome, MessageImportReport
    from pipeline.messages.summary import print_message_summary

    name = "[bold red]短信\n备份\x1b[2J.xml"
    report = MessageImportReport([MessageFileOutcome(tmp_path / name, "failed", format="sms_xml",
                                                     received_by="[/red]张三", error=f"{name}: 无法读取")])
    console = Console(record=True, width=300, color_system=None)
    print_message_summary(console, report)  # a closing tag in a folder name used to raise MarkupError
    shown = console.export_text()
    assert "[bold red]短信\\n备份\\x1b[2J.xml" in shown and "[/red]张三" in shown
    assert "\x1b" not in shown
