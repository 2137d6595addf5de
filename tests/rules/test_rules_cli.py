"""The rule commands: rules list/check, flag-text, flag (click's CliRunner, real engine)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from pipeline.transcript import ModelInfo, Segment, SourceInfo, Transcript, Word

runner = CliRunner()


def test_rules_list_shows_categories_and_counts() -> None:
    result = runner.invoke(main, ["rules", "list"])
    assert result.exit_code == 0, result.output
    assert "CONTACTS_BLAST" in result.output and "FORCED_BORROW" in result.output
    assert "zh-collection" in result.output and "条规则" in result.output


def test_rules_check_valid_and_invalid(tmp_path: Path) -> None:
    ok = runner.invoke(main, ["rules", "check", "configs/rules/zh-collection.yaml"])
    assert ok.exit_code == 0 and "规则包有效" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nlanguage: zh\nrules:\n  - id: a.b\n    category: NOPE\n    score: 0.5\n    phrases: [x]\n",
                   encoding="utf-8")
    result = runner.invoke(main, ["rules", "check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:6:" in result.output and "Traceback" not in result.output


def test_flag_text_one_json_object_per_line(tmp_path: Path) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("你好\n不还钱就爆你通讯录\n\n你这种老赖\n", encoding="utf-8")
    result = runner.invoke(main, ["flag-text", str(source), "--detect", "rules"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert records[0] == {"line": 1, "text": "你好", "flags": []}
    (flag,) = records[1]["flags"]
    assert set(flag) == {"category", "rule", "start", "end", "match", "severity", "score"}
    assert flag["category"] == "CONTACTS_BLAST" and records[1]["text"][flag["start"] : flag["end"]] == flag["match"]
    assert records[3]["flags"][0]["category"] == "INSULT"


def test_flag_text_reads_stdin_and_explains() -> None:
    result = runner.invoke(main, ["flag-text", "-", "--explain"], input="我们明天上门\n")
    record = json.loads(result.stdout)
    assert record["flags"][0]["legal_basis"] and record["flags"][0]["explanation"]["gates"]


def test_flag_text_borrower_role_drops_conduct() -> None:
    result = runner.invoke(main, ["flag-text", "--role", "borrower"], input="不还钱就爆你通讯录\n")
    assert json.loads(result.stdout)["flags"] == []


def test_flag_text_with_extra_pack(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("name: extra\nversion: '1'\nlanguage: zh\nrules:\n  - id: extra.word\n    category: INSULT\n"
                     "    score: 0.9\n    phrases: [大坏蛋]\n", encoding="utf-8")
    result = runner.invoke(main, ["flag-text", "--rules", str(extra), "--detect", "rules"], input="你这个大坏蛋\n")
    assert json.loads(result.stdout)["flags"][0]["rule"] == "extra.word"


def test_flag_text_missing_file_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(main, ["flag-text", str(tmp_path / "nope.txt")])
    assert result.exit_code == 1 and "文件不存在" in result.output and "Traceback" not in result.output


def test_bad_extra_pack_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n", encoding="utf-8")
    result = runner.invoke(main, ["flag-text", "--rules", str(bad)], input="你好\n")
    assert result.exit_code == 2 and "bad.yaml" in result.output


def write_transcript(path: Path) -> Path:
    lines = [("你好，是李明吗？", "S0", "collector"), ("我下个月再还", "S1", "borrower"), ("那我们明天就去你单位找你", "S0", None)]
    segments, t = [], 1.0
    for index, (text, speaker, role) in enumerate(lines):
        words = [Word(ch, round(t + 0.25 * i, 3), round(t + 0.25 * (i + 1), 3), 0.9, i) for i, ch in enumerate(text)]
        segments.append(Segment(index, t, t + 0.25 * len(text), text, text, words, speaker=speaker, role=role))
        t += 0.25 * len(text) + 0.5
    doc = Transcript(SourceInfo("call.m4a", "ab" * 32, 1, 12.0, 1, 16000, "aac", "mp4"),
                     ModelInfo("whisper-base", "cd" * 32, "faster-whisper"), segments)
    path.write_text(json.dumps(doc.to_dict(), ensure_ascii=False), encoding="utf-8")
    return path


def test_flag_transcript_writes_flags_with_times(tmp_path: Path) -> None:
    transcript = write_transcript(tmp_path / "call.json")
    out = tmp_path / "out" / "call.flags.json"
    result = runner.invoke(main, ["flag", str(transcript), "-o", str(out), "--detect", "rules"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["schema"] == "callproof.flags/1" and data["source"]["sha256"] == "ab" * 32
    assert data["rule_packs"][0]["name"] == "zh-collection" and len(data["rule_packs"][0]["sha256"]) == 64
    (flag,) = data["flags"]
    assert flag["category"] == "HOME_WORK_VISIT" and flag["segment_index"] == 2
    assert flag["speaker"] == "S0" and flag["speaker_unconfirmed"] is True
    assert flag["match"] == "去你单位找你" and flag["start_s"] == 7.0 and flag["end_s"] == 8.5  # 0.25 s per character
    assert "共 1 条标记" in result.output


def test_flag_transcript_to_stdout(tmp_path: Path) -> None:
    result = runner.invoke(main, ["flag", str(write_transcript(tmp_path / "call.json")), "--detect", "rules"])
    assert json.loads(result.stdout)["flags"][0]["match"] == "去你单位找你"


def test_flag_rejects_a_file_that_is_not_a_transcript(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}', encoding="utf-8")
    result = runner.invoke(main, ["flag", str(bad)])
    assert result.exit_code == 1 and "不是有效的转写稿" in result.output and "Traceback" not in result.output


def test_flag_text_min_severity_drops_true_statements() -> None:
    text = "逾期会上报征信\n不还钱就冻结你所有银行卡\n"
    everything = [json.loads(line) for line in runner.invoke(main, ["flag-text", "--min-severity", "1"], input=text).stdout.splitlines()]
    stern = [json.loads(line) for line in runner.invoke(main, ["flag-text"], input=text).stdout.splitlines()]
    assert everything[0]["flags"][0]["severity"] == 1 and stern[0]["flags"] == []
    assert stern[0]["notes"][0]["severity"] == 1  # the note stays visible, apart from the conduct flags
    assert stern[1]["flags"][0]["category"] == "FALSE_LEGAL"
