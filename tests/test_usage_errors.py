"""Usage errors in Chinese and English like every other error (issue 16, item 9), through the real
command group (cli.py): a missing argument, an unknown option or command, a bad value, extra
arguments. Exit status 2, one 用法错误 line with click's English in brackets, and how to get help."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main


@pytest.mark.parametrize(("args", "chinese", "english"), [
    (["run"], "缺少参数 'INPUT_DIR'", "Missing argument 'INPUT_DIR'."),
    (["export", ".", "--bogus"], "没有这个选项 --bogus", "No such option '--bogus'."),
    (["export", ".", "--redcat"], "是不是想用 --redact", "No such option '--redcat'"),
    (["nosuch"], "没有命令 nosuch", "No such command 'nosuch'."),
    (["review", "--port", "abc", "."], "'--port' 的值不对：abc 不是整数", "'abc' is not a valid integer"),
    (["run", "/no/such/folder"], "文件夹 /no/such/folder 不存在", "Directory '/no/such/folder' does not exist."),
    (["export", ".", "--from", "15/1/2024"], "'--from' 的值不对：日期应为 YYYY-MM-DD", "expected YYYY-MM-DD"),
    (["verify", "a.zip", "b.zip"], "多余的参数：b.zip", "Got unexpected extra argument (b.zip)"),
])
def test_usage_errors_are_chinese_and_english(args: list[str], chinese: str, english: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, args, prog_name="cli.py")
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    [line] = [x for x in lines if x.startswith("用法错误：")]
    assert chinese in line and "(usage error: " in line and english in line
    command = "cli.py" + ("" if args[0] == "nosuch" else f" {args[0]}")
    assert f"查看用法：{command} --help (Try '{command} --help' for help.)" in lines
    assert lines[0].startswith(f"Usage: {command}")
    assert "Error:" not in result.output  # not click's English-only line as well


def test_help_and_good_commands_are_untouched() -> None:
    result = CliRunner().invoke(main, ["--help"], prog_name="cli.py")
    assert result.exit_code == 0 and "Commands" in result.output
    result = CliRunner().invoke(main, ["rules", "--help"], prog_name="cli.py")
    assert result.exit_code == 0 and "用法错误" not in result.output
