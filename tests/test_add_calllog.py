"""`add-calllog CASE_DIR FILE...`: a relative's call log that arrives after the case was built is
added to it; the call-log rules run over the whole log again, the case's calllog.csv and index
follow, the contacts table counts the relative; a folder that is not a case, an unreadable file,
and a chat screenshot are each one clear line. Real CLI, real store (recordings without ASR)."""

from __future__ import annotations

from pathlib import Path

from calllog_case import LOG_ONLY_NUMBER, relative_log
from click.testing import CliRunner
from review_fixtures import build_case

from cli import main
from pipeline.contacts_reached import contacts_reached
from pipeline.render.html_case import write_case_html
from pipeline.store import CaseStore


def test_add_a_relatives_log_to_an_existing_case(tmp_path: Path) -> None:
    case = tmp_path / "case"
    with build_case(case) as store:
        write_case_html(case, store)  # as run leaves it
    log = tmp_path / "from_mother" / "calls-20240116.xml"
    log.parent.mkdir()
    log.write_text(relative_log(), encoding="utf-8")
    bad = tmp_path / "通话详单.csv"
    bad.write_text("这不是详单\n", encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["add-calllog", str(case), str(log), str(bad), "--received-by", "母亲"],
                                prog_name="cli.py")
    assert result.exit_code == 1, result.output  # one file failed, the other was added
    assert "通话记录导入结果" in result.output and "通话详单.csv" in result.output and "失败" in result.output
    assert "下一步：运行 python cli.py review" in result.output
    with CaseStore.open(case) as store:
        [source] = store.calllog_sources(status="done")
        assert source.received_by == "母亲" and len(store.calllog_entries(source.id)) == 8
        rules = {f.rule for f in store.calllog_flags() if f.number == LOG_ONLY_NUMBER}
        assert {"excess_freq.unanswered", "off_hours.window"} <= rules
        assert {r.person: r.calls for r in contacts_reached(store)}["母亲"] == 8
        assert [e for e in store.custody_events() if e.action == "intake" and e.object == f"calllog:{source.id}"]
    assert LOG_ONLY_NUMBER in (case / "calllog" / "calllog.csv").read_text(encoding="utf-8-sig")
    index = (case / "index.html").read_text(encoding="utf-8")
    assert 'id="call-log"' in index and "2024-01-14：已接 0 次，未接 8 次" in index
    again = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["add-calllog", str(case), str(log)], prog_name="cli.py")
    assert again.exit_code == 0 and "已导入(未变)" in again.output  # the same bytes: read once


def test_refuses_a_folder_that_is_not_a_case(tmp_path: Path) -> None:
    log = tmp_path / "calls.xml"
    log.write_text(relative_log(), encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["add-calllog", str(tmp_path / "nocase"), str(log)], prog_name="cli.py")
    assert result.exit_code == 2 and "不是案件文件夹" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "nocase").exists()
