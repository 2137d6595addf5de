"""Usage errors (a missing argument, an unknown option or command, a bad value) in Chinese and
English, like every other error callproof prints: ``用法错误：<中文> (usage error: <click's English>)``,
then how to get help in both languages. Exit status stays 2.

``bilingual_usage`` wraps the parsing and invoking of the command group (cli.py): a click
``UsageError`` raised inside gets a ``show`` that prints the two languages; click itself still
catches it and exits.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

_VALUE_REASONS = (  # click's words for a bad value -> Chinese
    (re.compile(r"Directory '(.*)' does not exist"), "文件夹 {0} 不存在"),
    (re.compile(r"File '(.*)' does not exist"), "文件 {0} 不存在"),
    (re.compile(r"Path '(.*)' does not exist"), "路径 {0} 不存在"),
    (re.compile(r"'(.*)' is a directory"), "{0} 是文件夹，这里要一个文件"),
    (re.compile(r"'(.*)' is a file"), "{0} 是文件，这里要一个文件夹"),
    (re.compile(r"'(.*)' is not a valid integer"), "{0} 不是整数"),
    (re.compile(r"'(.*)' is not a valid float"), "{0} 不是数字"),
    (re.compile(r"'(.*)' is not one of (.*)\."), "{0} 不是可选的值（可选：{1}）"),
    (re.compile(r"'(.*)' is not in the range (.*)\."), "{0} 超出范围 {1}"),
)
_EXTRA = re.compile(r"Got unexpected extra arguments? \((.*)\)")
_COMMAND = re.compile(r"No such command '(.*)'")


def _hint(exc: Any) -> str:
    param = getattr(exc, "param", None)
    if getattr(exc, "param_hint", None):
        hint = exc.param_hint
        return " / ".join(hint) if isinstance(hint, list | tuple) else str(hint)
    if param is not None and exc.ctx is not None:
        return str(param.get_error_hint(exc.ctx))
    return ""


def chinese_reason(exc: click.UsageError) -> str:
    """What went wrong, in Chinese (the English stays click's own words)."""
    if isinstance(exc, click.MissingParameter):
        what = {"argument": "参数", "option": "选项"}.get(exc.param_type or "", "参数")
        return f"缺少{what} {_hint(exc)}".strip()
    if isinstance(exc, click.NoSuchOption):
        maybe = f"；是不是想用 {'、'.join(exc.possibilities)}" if exc.possibilities else ""
        return f"没有这个选项 {exc.option_name}{maybe}"
    if isinstance(exc, click.BadOptionUsage):
        return f"选项 {exc.option_name} 的用法不对（可能缺少它的值）"
    if isinstance(exc, click.BadParameter):
        hint = _hint(exc)
        why = next((zh.format(*m.groups()) for pattern, zh in _VALUE_REASONS if (m := pattern.search(exc.message))),
                   "")
        if not why and re.search(r"[\u4e00-\u9fff]", exc.message):
            why = exc.message.split(" (")[0]  # the option's own Chinese reason
        return (f"{hint} 的值不对" if hint else "有一个值不对") + (f"：{why}" if why else "")
    message = exc.format_message()
    if match := _COMMAND.search(message):
        return f"没有命令 {match.group(1)}（可用的命令见 --help）"
    if match := _EXTRA.search(message):
        return f"多余的参数：{match.group(1)}（带空格的路径请加引号）"
    return "命令用法不对"


def show_bilingual(exc: click.UsageError, file: IO[Any] | None = None) -> None:
    file = file or sys.stderr
    color = exc.ctx.color if exc.ctx is not None else None
    if exc.ctx is not None:
        click.echo(exc.ctx.get_usage(), file=file, color=color)
    click.echo(f"用法错误：{chinese_reason(exc)} (usage error: {exc.format_message()})", file=file, color=color)
    if exc.ctx is not None:
        path = exc.ctx.command_path
        click.echo(f"查看用法：{path} --help (Try '{path} --help' for help.)", file=file, color=color)


@contextmanager
def bilingual_usage() -> Iterator[None]:
    try:
        yield
    except click.UsageError as exc:
        exc.show = lambda file=None, exc=exc: show_bilingual(exc, file)  # type: ignore[method-assign]
        raise
