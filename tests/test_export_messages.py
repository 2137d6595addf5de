"""Messages and screenshots in the evidence pack: originals byte-identical and checked against
intake, annotated screenshots beside them, message rows in timeline.csv and the 证据目录, the
contacts-reached table, complaint drafts, manifest and verify; rejected message flags nowhere.

The case: the sample calls (no ASR) plus an SMS backup, a chat export and a screenshot
(tests/message_fixtures.py), reviewed once per module.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import message_format_fixtures as F
import pytest
from click.testing import CliRunner
from docx import Document
from message_fixtures import COLLECTOR, PLANTED, READER, SHOT_NAME, MessageCase, build_message_case
from PIL import Image
from test_evidence_items import broken_links
from test_export import docx_text, unpack

from cli import main
from pipeline.errors import InputError
from pipeline.evidence import PackOptions, export_pack, verify_pack
from pipeline.evidence.select import collect
from pipeline.evidence.select_messages import attach_messages
from pipeline.messages.importer import import_messages
from pipeline.render.categories import category_label
from pipeline.render.html_pack_index import WITHHELD_ORIGINAL, WITHHELD_SHORT
from pipeline.rules import load_engine
from pipeline.store import CaseStore
from pipeline.store.messages import MessageFlagRow

SMS, CHAT = "sms-20240116.xml", "qq.txt"
# readable page names: date and time of the conversation's first message, the other party, the kind
SMS_PAGE = "messages/2024-01-15_2340_13800138000等2方_短信"  # the collector and the bank's 95588
CHAT_PAGE = "messages/2024-01-16_1200_催收-李四_QQ"  # QQ's 消息对象
SHOT_PAGE = re.compile(r"messages/2024-01-17_\d{4}_13800138000_微信截图")  # time as OCR read it


@dataclass
class Reviewed:
    case: MessageCase
    accepted: list[MessageFlagRow]  # message flags
    rejected: MessageFlagRow  # the screenshot's THIRD_PARTY_CONTACT (boxed)
    pending: MessageFlagRow  # the SMS's OFF_HOURS (a log rule)
    call_accepted: list[int]


def _review(case: MessageCase) -> Reviewed:
    store = case.store
    flags = store.message_flags()
    rejected = next(f for f in flags if f.source_id == case.shot_id and f.category == "THIRD_PARTY_CONTACT")
    pending = next(f for f in flags if f.level == "log")
    chat_exposure = next(f for f in flags if f.source_id == case.chat_id and f.category == "EXPOSURE")
    accepted = [f for f in flags if f.id not in (rejected.id, pending.id, chat_exposure.id)]
    for flag in accepted:
        store.set_message_flag_status(flag.id, "accepted", note="妈妈转来的聊天记录" if flag.source_id == case.chat_id
                                      else None)
    store.set_message_flag_status(rejected.id, "rejected", note="误报")
    store.set_message_flag_status(chat_exposure.id, "rejected")
    call_accepted = [f.id for f in store.all_flags() if f.category == "VIOLENCE_THREAT"]
    for flag_id in call_accepted:
        store.set_flag_status(flag_id, "accepted")
    return Reviewed(case, [store.get_message_flag(f.id) for f in accepted], store.get_message_flag(rejected.id),
                    store.get_message_flag(pending.id), call_accepted)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reviewed]:
    case = build_message_case(tmp_path_factory.mktemp("export_messages"))
    case.store.close()  # export opens the case itself; the tests read it through fresh connections
    with CaseStore.open(case.case_dir) as store:
        case.store = store
        built = _review(case)
    yield built


@pytest.fixture(scope="module")
def pack(reviewed: Reviewed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pack_messages") / "pack.zip"
    result = CliRunner().invoke(main, ["export", str(reviewed.case.case_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "短信/聊天记录/截图文件 3 个" in result.output and "截图标注副本 1 张" in result.output
    return unpack(out, out.parent / "unpacked")


def pack_texts(root: Path) -> dict[str, str]:
    """Every text output of an unpacked pack (the docx as its text); recordings and images left out."""
    texts = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and not name.startswith(("originals/", "excerpts/", "screenshots_annotated/")):
            texts[name] = docx_text(path) if name.endswith(".docx") else path.read_text(encoding="utf-8")
    return texts


def _manifest(pack: Path) -> dict:
    return json.loads((pack / "manifest.json").read_text(encoding="utf-8"))


def _pages(pack: Path) -> dict[str, str]:
    """Message file id -> its page in the pack, as the manifest lists it."""
    return {e["id"]: e["page"] for e in _manifest(pack)["message_files"]}


def _sources(reviewed: Reviewed) -> dict[str, object]:
    with CaseStore.open(reviewed.case.case_dir) as store:
        return {Path(s.source_path).name: s for s in store.message_sources()}


# ------------------------------------------------------------------ files and hashes


def test_message_originals_are_byte_identical_and_match_intake(reviewed: Reviewed, pack: Path) -> None:
    sources = _sources(reviewed)
    inputs = reviewed.case.inputs
    for person, name in (("本人", SMS), ("母亲", CHAT), ("同事王某", SHOT_NAME)):
        data = (pack / "originals" / name).read_bytes()
        assert data == (inputs / person / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sources[name].sha256
    entries = {e["original"]: e for e in _manifest(pack)["message_files"]}
    assert set(entries) == {f"originals/{n}" for n in (SMS, CHAT, SHOT_NAME)}
    assert entries[f"originals/{SMS}"]["received_by"] == "本人" and entries[f"originals/{SMS}"]["messages"] == 5
    custody = [json.loads(line) for line in (pack / "custody.jsonl").read_text(encoding="utf-8").splitlines()]
    intakes = {(e["object"], e["sha256"]) for e in custody if e["action"] == "intake"}
    assert all((f"msgfile:{e['id']}", e["sha256"]) in intakes for e in entries.values())
    export = custody[-1]["detail"]
    assert sorted(export["message_flags"]) == sorted(f.id for f in reviewed.accepted)
    assert reviewed.rejected.id not in export["message_flags"] and export["pending_message_flags"] == []


def test_pack_layout_with_messages(reviewed: Reviewed, pack: Path) -> None:
    names = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    ids = [reviewed.case.sms_id, reviewed.case.chat_id, reviewed.case.shot_id]
    pages = _pages(pack)
    assert pages[reviewed.case.sms_id] == f"{SMS_PAGE}.html" and pages[reviewed.case.chat_id] == f"{CHAT_PAGE}.html"
    assert SHOT_PAGE.fullmatch(pages[reviewed.case.shot_id].removesuffix(".html")), pages
    stems = {pages[i].removesuffix(".html") for i in ids}
    assert {f"{stem}.{ext}" for stem in stems for ext in ("html", "json", "txt")} == {
        n for n in names if n.startswith("messages/")}
    assert not any(i[:8] in n for i in ids for n in names if n.startswith("messages/"))  # no database ids
    assert {"contacts_reached.csv", f"screenshots_annotated/{SHOT_NAME}.annotated.png"} <= names
    listed = {f["path"] for f in _manifest(pack)["files"]}
    assert listed == names - {"manifest.json", "manifest.sig", "SHA256SUMS"}
    if shutil.which("sha256sum"):
        run = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=pack, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
    report = verify_pack(pack)
    assert report.ok, report.problems
    assert report.annotated_checked == 1


def test_annotated_screenshot_boxes_only_packed_flags(reviewed: Reviewed, pack: Path) -> None:
    [entry] = _manifest(pack)["annotated"]
    shot_flags = [f for f in reviewed.accepted if f.source_id == reviewed.case.shot_id]
    assert shot_flags and all(f.boxes for f in shot_flags)
    labels = [b["label"] for b in entry["boxes"]]
    assert labels and all(re.fullmatch(r"#\d+ HOME_WORK_VISIT", label) for label in labels)
    assert entry["original"] == f"originals/{SHOT_NAME}"
    annotated, original = pack / entry["path"], pack / entry["original"]
    with Image.open(annotated) as copy, Image.open(original) as image:
        assert copy.size == image.size and copy.convert("RGB").tobytes() != image.convert("RGB").tobytes()
    page = (pack / _pages(pack)[reviewed.case.shot_id]).read_text(encoding="utf-8")
    assert f'<img src="../screenshots_annotated/{SHOT_NAME}.annotated.png"' in page
    assert _sources(reviewed)[SHOT_NAME].sha256 in page and f'href="../originals/{SHOT_NAME}"' in page


# ------------------------------------------------------------------ tables and drafts


def test_evidence_list_has_message_rows_after_call_rows(reviewed: Reviewed, pack: Path) -> None:
    """One row per item: each call sentence, then each message (all its categories in one row);
    files in the last column, their SHA-256 in the annex table."""
    document = Document(str(pack / "evidence_list.docx"))
    rows = document.tables[0].rows[1:]
    with CaseStore.open(reviewed.case.case_dir) as store:
        packed = collect(store, PackOptions())
        attach_messages(packed, store, PackOptions())
    assert len(rows) == len(packed.items) + len(packed.message_items)
    assert len(packed.message_items) == len({f.row.message_id for f in packed.message_flags})
    assert [r.cells[0].text for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    message_rows = rows[len(packed.items):]
    sources = _sources(reviewed)
    annex = "\n".join(c.text for r in document.tables[-1].rows for c in r.cells)
    first = message_rows[0].cells
    assert "2024-01-15 23:40 来自 13800138000 的短信（接收人：本人）" in first[1].text
    assert f"originals/{SMS}" in first[6].text and sources[SMS].sha256 in annex
    assert f"消息：{SMS_PAGE}.html" in first[6].text  # the row names the page a clerk opens
    assert all(re.search(r"^消息：messages/\d{4}-\d{2}-\d{2}_\d{4}_.+\.html$", r.cells[6].text, re.M)
               for r in message_rows)
    call_rows = rows[:len(packed.items)]
    assert all(re.search(r"^转写：transcripts/\d{4}-\d{2}-\d{2}_\d{4}_\d+\.html$", r.cells[6].text, re.M)
               for r in call_rows)
    assert "短信记录的时间戳" in first[3].text and "消息原文：再不还钱就爆你通讯录" in first[5].text
    times = [r.cells[3].text.splitlines()[0] for r in message_rows]
    assert times == sorted(times)  # message evidence in time order
    shot_row = next(r.cells for r in message_rows if SHOT_NAME in r.cells[6].text)
    annotated_sha = hashlib.sha256((pack / "screenshots_annotated" / f"{SHOT_NAME}.annotated.png").read_bytes())
    assert "screenshots_annotated/" in shot_row[6].text and annotated_sha.hexdigest() in annex
    assert "截图文字（机器识别，以原图为准）" in shot_row[5].text
    assert "复核备注：妈妈转来的聊天记录" in "\n".join(r.cells[5].text for r in message_rows)
    contacts = document.tables[1]
    people = [r.cells[0].text for r in contacts.rows[1:]]
    assert contacts.rows[0].cells[0].text == "接收人" and {"本人", "母亲", "同事王某"} <= set(people)


def test_timeline_merges_calls_and_the_other_sides_messages(pack: Path) -> None:
    rows = list(csv.reader((pack / "timeline.csv").read_text(encoding="utf-8-sig").splitlines()))
    header, body = rows[0], rows[1:]
    kinds = [r[header.index("类型")] for r in body]
    assert kinds.count("通话") == 4 and kinds.count("短信") == 3 and kinds.count("聊天记录") == 1 and kinds.count("截图") == 1
    assert not any(r[header.index("号码")] == "95588" for r in body)  # the bank's notice is not a contact
    assert not any(r[header.index("方向")] == "发出" for r in body)  # nor the person's own replies
    sms = next(r for r in body if r[header.index("开始时间")] == "2024-01-15 23:40:00")
    assert sms[header.index("接收人")] == "本人" and sms[header.index("原始文件")] == f"originals/{SMS}"
    assert sms[header.index("爆通讯录 / 通讯录威胁(CONTACTS_BLAST)")] == "2"
    assert sms[header.index("转写或消息页")] == f"{SMS_PAGE}.html"
    for row in body:  # every row names a page of the pack: a call's transcript, a message's file
        page = row[header.index("转写或消息页")]
        folder = "transcripts/" if row[header.index("类型")] == "通话" else "messages/"
        assert page.startswith(folder) and (pack / page).is_file(), row
    assert "证据目录第" in sms[header.index("备注")]
    starts = [r[header.index("开始时间")][:19] for r in body]
    assert starts == sorted(starts)


def test_every_link_of_the_unzipped_pack_resolves_message_pages_too(reviewed: Reviewed, pack: Path) -> None:
    """index.html, transcripts/ and messages/ pages: every href and src is a file of the pack (and
    its #id exists); the index links each message file's page and each message item to its message."""
    assert broken_links(pack) == []
    index = (pack / "index.html").read_text(encoding="utf-8")
    links = {unquote(link) for link in re.findall(r'href="([^"]+)"', index)}
    assert set(_pages(pack).values()) <= links
    item_links = {link for link in links if re.fullmatch(r"messages/.+\.html#msg-\d+", link)}
    with CaseStore.open(reviewed.case.case_dir) as store:
        packed = collect(store, PackOptions())
        attach_messages(packed, store, PackOptions())
    assert len(item_links) == len(packed.message_items)
    assert f"{SMS_PAGE}.html#msg-0" in item_links  # the first SMS, the collector's 爆通讯录 threat


def test_contacts_reached_csv(pack: Path) -> None:
    rows = list(csv.reader((pack / "contacts_reached.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["接收人", "关系", "通话", "消息", "截图", "对方号码", "最早", "最晚", "标记类别"]
    by_person = {r[0]: r for r in rows[1:]}
    assert by_person["母亲"][1:5] == ["母亲", "0", "1", "0"] and by_person["母亲"][5] == "催收-李四"
    assert by_person["同事王某"][1:5] == ["同事", "0", "1", "1"]
    assert category_label("HOME_WORK_VISIT") in by_person["同事王某"][8]
    assert category_label("THIRD_PARTY_CONTACT") not in by_person["同事王某"][8]  # rejected: not counted
    assert by_person["本人"][5] == COLLECTOR and by_person["本人"][3] == "3"


def test_complaints_and_readme_mention_messages_and_contacts(pack: Path) -> None:
    statement = (pack / "complaints" / "110_statement.txt").read_text(encoding="utf-8")
    assert "对方还发来短信/聊天消息（按时间顺序）" in statement
    assert re.search(r"【证据\d+】2024-01-15 23:40:00（短信），13800138000 发给我的短信：“再不还钱就爆你通讯录", statement)
    assert "联系人被骚扰情况" in statement and "母亲（母亲）" in statement
    assert statement.count("再不还钱就爆你通讯录") == 1  # one item per message, its labels joined, quoted once
    categories = statement.split("二、上述行为的类别")[1].split("三、")[0]
    assert "爆通讯录 / 通讯录威胁" in categories and "证据" in categories
    report = (pack / "complaints" / "12321.txt").read_text(encoding="utf-8")
    assert "骚扰短信" in report and re.search(r"^  13800138000：.*短信.* \d+ 条", report, re.M)
    readme = (pack / "README.txt").read_text(encoding="utf-8")
    assert "screenshots_annotated/" in readme and "contacts_reached.csv" in readme and "同事王某（同事）" in readme
    assert "{{" not in statement + report + readme


def test_rejected_message_flags_appear_nowhere(reviewed: Reviewed, pack: Path) -> None:
    texts = pack_texts(pack)
    rejected = reviewed.rejected
    label = category_label(rejected.category)
    for name, text in texts.items():
        assert rejected.rule not in text, name
        if name != "custody.jsonl":
            assert label not in text and rejected.category not in text, name
            assert f'data-message-flag-id="{rejected.id}"' not in text, name
    for name in (n for n in texts if n.startswith("messages/") and n.endswith(".json")):
        assert rejected.id not in [f["id"] for f in json.loads(texts[name])["flags"]]
    assert reviewed.pending.rule not in texts["evidence_list.docx"]  # pending: left out by default
    assert _manifest(pack)["message_flags"]["left_out"] == {"rejected": 2, "pending": 1}


# ------------------------------------------------------------------ options and tampering


def test_redaction_masks_a_third_party_number_in_message_texts(reviewed: Reviewed, tmp_path: Path) -> None:
    out = tmp_path / "redacted.zip"
    export_pack(reviewed.case.case_dir, out, PackOptions(redact=True, include_pending=True))
    assert verify_pack(out).ok
    root = unpack(out, tmp_path / "unpacked")
    masked = PLANTED[:3] + "****" + PLANTED[-4:]
    texts = pack_texts(root)
    for name in ("evidence_list.docx", "complaints/110_statement.txt", f"{SMS_PAGE}.html",
                 f"{SMS_PAGE}.json", f"{SMS_PAGE}.txt"):  # the collector's number is kept, in names too
        assert masked in texts[name] and COLLECTOR in texts[name], name
    assert broken_links(root) == []  # pages link the masked copies under originals_redacted/
    assert not any(PLANTED in t for t in texts.values())
    assert not (root / "originals" / SMS).exists()  # a redacted pack holds a masked copy of a text original
    assert masked.encode() in (root / "originals_redacted" / SMS).read_bytes()
    assert PLANTED.encode() in (reviewed.case.inputs / "本人" / SMS).read_bytes()  # originals are never touched
    assert re.search(re.escape(category_label("OFF_HOURS")) + "【待复核】", texts["evidence_list.docx"])


def test_exporting_twice_gives_identical_message_files(reviewed: Reviewed, tmp_path: Path) -> None:
    hashes = []
    for name in ("a.zip", "b.zip"):
        export_pack(reviewed.case.case_dir, tmp_path / name, PackOptions())
        with zipfile.ZipFile(tmp_path / name) as archive:
            hashes.append({i.filename: hashlib.sha256(archive.read(i)).hexdigest() for i in archive.infolist()
                           if i.filename not in ("manifest.json", "manifest.sig", "custody.jsonl", "SHA256SUMS")})
    assert hashes[0] == hashes[1]


def test_no_messages_and_date_filters(reviewed: Reviewed, tmp_path: Path) -> None:
    export_pack(reviewed.case.case_dir, tmp_path / "calls.zip", PackOptions(messages=False))
    with zipfile.ZipFile(tmp_path / "calls.zip") as archive:
        names = archive.namelist()
    assert not any(n.startswith(("messages/", "screenshots_annotated/")) for n in names)
    assert not any(n.endswith((SMS, CHAT, SHOT_NAME)) for n in names)
    export_pack(reviewed.case.case_dir, tmp_path / "day.zip", PackOptions(
        date_from=__import__("datetime").date(2024, 1, 17)))
    assert verify_pack(tmp_path / "day.zip").ok
    with zipfile.ZipFile(tmp_path / "day.zip") as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert [e["original"] for e in manifest["message_files"]] == [f"originals/{SHOT_NAME}"]
    assert manifest["calls"] == [] and f"screenshots_annotated/{SHOT_NAME}.annotated.png" in names


def test_verify_catches_a_changed_message_original_and_annotated_copy(pack: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(pack, tmp_path / "pack"))
    sms = copy / "originals" / SMS
    sms.write_bytes(sms.read_bytes().replace("老赖".encode(), "好人".encode()))
    annotated = copy / "screenshots_annotated" / f"{SHOT_NAME}.annotated.png"
    with Image.open(annotated) as image:
        edited = image.convert("RGB")
    edited.putpixel((3, 3), (1, 2, 3))
    edited.save(annotated)
    problems = verify_pack(copy).problems
    assert any(p.startswith(f"消息原件 originals/{SMS} 被改动") for p in problems)
    assert any(p.startswith(f"消息原件 originals/{SMS} 与接收时记录的 SHA-256 不符") for p in problems)
    assert any(p.startswith(f"截图标注副本 screenshots_annotated/{SHOT_NAME}.annotated.png 不是原图") for p in problems)


def test_export_stops_when_a_message_original_changed(tmp_path: Path) -> None:
    case = build_message_case(tmp_path, with_screenshot=False)
    case.store.close()
    sms = case.inputs / "本人" / SMS
    sms.write_text(sms.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
    with pytest.raises(InputError, match="消息原件已被改动"):
        export_pack(case.case_dir, tmp_path / "pack.zip", PackOptions())
    assert not (tmp_path / "pack.zip").exists()


def test_redacted_pack_names_a_withheld_original_without_linking_it(tmp_path: Path) -> None:
    """An SMS database cannot be masked byte-safely: a redacted pack leaves it out and lists it;
    its message page, text and the index name it and say where it is instead of linking a file
    the pack does not hold; every link resolves and no page defines an id twice (one message with
    several categories is one evidence item: its flags share the number, each detail keeps an id)."""
    case = build_message_case(tmp_path, with_screenshot=False)
    database = F.fixtures(tmp_path / "build")
    android = next(fx for fx in database if fx.name == "Android mmssms.db")
    db_path = android.write(case.inputs / "本人")
    report = import_messages(case.store, [db_path], load_engine(), case.inputs, reader=READER)
    assert not report.failed, [o.error for o in report.failed]
    for flag in case.store.message_flags():
        case.store.set_message_flag_status(flag.id, "accepted")
    db_source = next(s for s in case.store.message_sources() if s.format == "sms_db")
    case.store.close()
    out = tmp_path / "redacted.zip"
    result = CliRunner().invoke(main, ["export", str(case.case_dir), "-o", str(out), "--redact"])
    assert result.exit_code == 0, result.output
    assert verify_pack(out).ok
    with zipfile.ZipFile(out) as archive:
        assert not any(n.endswith("mmssms.db") for n in archive.namelist())
    root = unpack(out, tmp_path / "unpacked")
    assert broken_links(root) == []
    manifest = _manifest(root)
    assert {"id": db_source.id, "original": "originals/mmssms.db"} in [
        {k: w[k] for k in ("id", "original")} for w in manifest["redaction"]["withheld_originals"]]
    page = next(e["page"] for e in manifest["message_files"] if e["id"] == db_source.id)
    html = (root / page).read_text(encoding="utf-8")
    assert WITHHELD_ORIGINAL in html and db_source.sha256 in html
    assert "mmssms.db" in html and not re.search(r'(href|src)="[^"]*mmssms\.db', html)
    assert WITHHELD_ORIGINAL in (root / page).with_suffix(".txt").read_text(encoding="utf-8")
    index = (root / "index.html").read_text(encoding="utf-8")
    assert WITHHELD_SHORT in index and db_source.sha256 in index
    assert not re.search(r'(href|src)="[^"]*mmssms\.db', index)
    assert f'href="originals_redacted/{SMS}"' in index  # a masked copy is still linked
    # a message flagged in several categories: one number, several details, every id unique
    pages = [(root / e["page"]).read_text(encoding="utf-8") for e in manifest["message_files"] if e["page"]]
    shared = [p for p in pages if re.search(r'<li id="detail-\d+-2" data-message-flag-id=', p)]
    assert shared, "no message with several packed flags: the duplicate-id case is not exercised"
    for text in shared:
        first = re.search(r'<li id="detail-(\d+)-2"', text).group(1)
        assert f'<li id="detail-{first}" ' in text and f'href="#detail-{first}-2"' in text
