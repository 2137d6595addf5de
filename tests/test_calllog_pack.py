"""Calls known only from a call log reach the evidence pack (issue 15): the log files as originals
with their SHA-256 in the manifest (verify checks them against the intake), the log-only findings
(unanswered attempts, night calls) as evidence items in evidence_list.docx and the pack index when
accepted, never when rejected, decisions kept across rule runs, and the relative's logged calls in
contacts_reached.csv. Real store, real export, real verify; no ASR (recordings from truth scripts)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from calllog_case import LOG_ONLY_NUMBER, build_log_case, log_only
from docx import Document
from test_evidence_items import broken_links
from test_export import unpack

from pipeline.calllog.rules import apply_call_log_rules
from pipeline.evidence.pack import export_pack
from pipeline.evidence.select import PackOptions
from pipeline.evidence.verify import verify_pack
from pipeline.render.categories import category_label
from pipeline.render.html_pack_index import WITHHELD_SHORT
from pipeline.store import CaseStore


@pytest.fixture(scope="module")
def log_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("calllog_pack")
    store = build_log_case(root / "case", root / "INPUT")
    [unanswered] = [f for f in log_only(store, "excess_freq.unanswered") if f.number == LOG_ONLY_NUMBER]
    store.set_calllog_flag_status(unanswered.id, "accepted", note="母亲手机上的未接来电")
    night = [f for f in log_only(store, "off_hours") if f.number == LOG_ONLY_NUMBER]
    store.set_calllog_flag_status(night[0].id, "rejected")
    for flag in store.all_flags()[:3]:  # some recorded evidence too: the log item comes after it
        store.set_flag_status(flag.id, "accepted")
    store.close()
    return root / "case"


def _numbers(data: bytes) -> list[int]:
    """序号 column of the evidence list's first table."""
    table = Document(io.BytesIO(data)).tables[0]
    return [int(row.cells[0].text) for row in table.rows[1:] if row.cells[0].text.isdigit()]


def _docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    return "\n".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)


def test_decisions_follow_their_finding_across_rule_runs(log_case: Path) -> None:
    with CaseStore.open(log_case) as store:
        before = {f.key: f.status for f in store.calllog_flags()}
        apply_call_log_rules(store)
        after = {f.key: (f.status, f.note) for f in store.calllog_flags()}
        assert {k: s for k, (s, _) in after.items()} == before
        assert sorted(s for s, _ in after.values() if s != "pending") == ["accepted", "rejected"]
        assert any(note == "母亲手机上的未接来电" for _, note in after.values())
        reviews = [e for e in store.custody_events() if e.action == "review" and e.object.startswith("calllog_flag:")]
        assert len(reviews) == 2 and reviews[0].detail["after"]["status"] == "accepted"
        assert not store.verify_custody()


def test_pack_holds_log_files_and_accepted_log_only_findings(log_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.zip"
    export_pack(log_case, out, PackOptions())
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        docx = _docx_text(archive.read("evidence_list.docx"))
        numbers = _numbers(archive.read("evidence_list.docx"))
        index = archive.read("index.html").decode()
        contacts = list(csv.reader(io.StringIO(archive.read("contacts_reached.csv").decode("utf-8-sig"))))
        drafts = "".join(archive.read(n).decode() for n in names if n.startswith("complaints/"))
        logs = {f["original"]: f for f in manifest["call_log_files"]}
        assert len(logs) == 2 and all(name in names for name in logs)
        for name, entry in logs.items():  # byte-identical, the intake hash in the manifest and SHA256SUMS
            assert hashlib.sha256(archive.read(name)).hexdigest() == entry["sha256"]
            assert f"{entry['sha256']}  {name}" in archive.read("SHA256SUMS").decode()
    assert names[0] == "index.html"  # the page a person opens first
    findings = manifest["call_log_findings"]
    assert len(findings["accepted"]) == 1 and findings["left_out"]["rejected"] == 1
    [item] = findings["items"]
    assert item["rule"] == "excess_freq.unanswered" and item["count"] == 8 and len(item["entries"]) == 8
    number = item["pack_number"]
    assert number == numbers[-1] == len(numbers) and number > 1  # after the recordings' items
    # the evidence list: one row for the finding, its log file as the original; not the rejected one
    assert f"通话记录：{LOG_ONLY_NUMBER} 2024-01-14 共 8 次（接收人：母亲）" in docx
    assert "2024-01-14 21:00 至 2024-01-14 22:10" in docx  # the calls' Beijing times
    assert "通话记录（无录音）" in docx and "复核备注：母亲手机上的未接来电" in docx
    assert "22:00，在 22:00–08:00" not in docx  # the rejected night call is not evidence
    assert f"号码 {LOG_ONLY_NUMBER} 共有 8 通未接来电" in drafts  # the civil complaint's log facts
    assert [n for n in logs if "calls-20240116.xml" in n][0] in docx
    # the pack index lists it under its category with a link to the original inside the pack
    assert f'id="item-{number}"' in index and "calls-20240116.xml" in index
    # contacts reached: the mother's logged calls count, with the category of the accepted finding
    header, rows = contacts[0], {r[0]: dict(zip(contacts[0], r, strict=True)) for r in contacts[1:]}
    assert "母亲" in rows, header
    assert int(rows["母亲"][header[2]]) == 8 and LOG_ONLY_NUMBER in rows["母亲"][header[5]]
    assert rows["母亲"][header[-1]] == f"{category_label('EXCESS_FREQ')}×1"  # the accepted finding, once
    report = verify_pack(out)
    assert report.ok, report.problems


def test_a_rejected_finding_leaves_the_drafts_log_facts(log_case: Path) -> None:
    from types import SimpleNamespace

    from pipeline.evidence.channels import call_log_context

    with CaseStore.open(log_case) as store:
        info = store.case_info()
        [unanswered] = [f for f in log_only(store, "excess_freq.unanswered") if f.number == LOG_ONLY_NUMBER]
    kept = call_log_context(SimpleNamespace(case_info=info, log_rejected=set()))
    assert any(f["description"] == unanswered.description for f in kept["findings"])
    dropped = call_log_context(SimpleNamespace(case_info=info, log_rejected={(unanswered.rule, unanswered.description)}))
    assert len(dropped["findings"]) == len(kept["findings"]) - 1
    assert not any(f["description"] == unanswered.description for f in dropped["findings"])


def test_pending_findings_join_with_include_pending_and_verify_catches_a_swapped_log(
        log_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "pending.zip"
    export_pack(log_case, out, PackOptions(include_pending=True))
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        docx = _docx_text(archive.read("evidence_list.docx"))
        members = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    assert manifest["call_log_findings"]["pending_included"] and "【待复核】" in docx
    # a log original replaced (hashes recomputed in SHA256SUMS) still fails: signature and intake hash
    name = manifest["call_log_files"][0]["original"]
    forged = tmp_path / "forged.zip"
    members[name] = members[name].replace(b"duration=\"0\"", b"duration=\"9\"", 1)
    sums = members["SHA256SUMS"].decode().splitlines()
    digest = hashlib.sha256(members[name]).hexdigest()
    members["SHA256SUMS"] = "\n".join(f"{digest}  {name}" if line.endswith(f"  {name}") else line
                                      for line in sums).encode() + b"\n"
    with zipfile.ZipFile(forged, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    problems = verify_pack(forged).problems
    assert any("通话记录原件" in p and "接收时记录的 SHA-256 不符" in p for p in problems), problems


def test_redacted_pack_withholds_call_logs(log_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "redacted.zip"
    export_pack(log_case, out, PackOptions(redact=True))
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
    withheld = {w["original"] for w in manifest["redaction"]["withheld_originals"]}
    assert {f["original"] for f in manifest["call_log_files"]} <= withheld
    assert not [n for n in names if n.endswith(".xml") and n.startswith("originals/")]
    assert verify_pack(out).ok
    root = unpack(out, tmp_path / "unpacked")  # the index names the left-out logs and says where they are
    assert broken_links(root) == [] and WITHHELD_SHORT in (root / "index.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ charts (calls per day, hour x day)


def test_charts_count_every_incoming_call_recorded_or_logged(log_case: Path) -> None:
    from pipeline.calllog.rules import case_call_log
    from pipeline.render.call_log_charts import log_chart_data

    with CaseStore.open(log_case) as store:
        data = log_chart_data(case_call_log(store)[0])
    day = date(2024, 1, 14)  # the mother's log: 8 unanswered 21:00–22:10, two of them after 22:00
    assert (data.answered[day], data.unanswered[day], data.off_hours[day]) == (0, 8, 2)
    assert data.grid[(day, 21)] == 6 and data.grid[(day, 22)] == 2
    assert data.days == [date(2024, 1, 14), date(2024, 1, 15), date(2024, 1, 16)]
    recorded = date(2024, 1, 16)  # recordings count too (the 09:30 and 10:06 calls have no log entry)
    assert data.grid[(recorded, 9)] == 1 and data.grid[(recorded, 10)] == 1


def test_case_index_pack_index_and_docx_show_the_charts(log_case: Path, tmp_path: Path) -> None:
    from pipeline.render.html_case import write_index_html

    with CaseStore.open(log_case) as store:
        index = write_index_html(log_case, store).read_text(encoding="utf-8")
    out = tmp_path / "pack.zip"
    export_pack(log_case, out, PackOptions())
    with zipfile.ZipFile(out) as archive:
        pack_index = archive.read("index.html").decode()
        document = Document(io.BytesIO(archive.read("evidence_list.docx")))
        images = [n for n in archive.namelist() if n.startswith("originals/") is False and n.endswith(".png")]
        docx_parts = zipfile.ZipFile(io.BytesIO(archive.read("evidence_list.docx"))).namelist()
    for page in (index, pack_index):  # inline SVG, Chinese labels, no script, no network
        section = page[page.index('id="call-log"'):]
        assert section.count('<svg class="log-per-day"') == 1 and section.count('<svg class="log-grid"') == 1
        assert "每天的来电次数" in section and "钟点 × 日期" in section and "未接（含拒接、拦截）" in section
        assert "2024-01-14：已接 0 次，未接 8 次，其中 22:00–08:00 2 次" in section
        assert "2024-01-14 22:00–22:59 来电 2 次" in section
        assert "<script" not in page and "http://" not in page and "https://" not in page
        assert LOG_ONLY_NUMBER in section  # the per-number table
    assert not images  # no chart file beside the pages: they are inline
    pictures = [p for p in docx_parts if p.startswith("word/media/")]
    assert len(pictures) == 2  # calls per day, hour x day grid
    text = "\n".join(p.text for p in document.paragraphs)
    assert "通话记录统计图" in text and "绿色为已接，红色为未接" in text and "灰底列为 22:00–08:00" in text


def test_chart_pngs_are_reproducible_and_sized_by_the_log() -> None:
    from PIL import Image

    from pipeline.render.call_log_charts import LogChartData
    from pipeline.render.call_log_png import hour_grid_png, per_day_png

    data = LogChartData(days=[date(2024, 1, d) for d in range(1, 11)])
    for d in data.days:
        data.unanswered[d] = d.day
        data.grid[(d, 23)] = d.day
        data.off_hours[d] = d.day
    assert per_day_png(data) == per_day_png(data) and hour_grid_png(data) == hour_grid_png(data)
    grid = Image.open(io.BytesIO(hour_grid_png(data)))
    assert grid.height > 10 * 40 and grid.getpixel((grid.width - 20, grid.height - 30)) != (255, 255, 255)
