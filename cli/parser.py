"""argparse as staff read it: Chinese help, and a mistake on the command line in one Chinese line plus where
to read the usage, instead of the whole usage and an English message."""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["Parser", "translate"]

_TYPES = {"int": "整数", "float": "数字"}
_COMMANDS = ("COMMAND", "VERB")  # the metavars of the subcommand choices


def _unquoted(text: str) -> str:
    """argparse shows a value as repr() ('x', or "a'b"); choices too up to Python 3.11, bare from 3.12."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def _choice(match: re.Match[str]) -> str:
    name, value = match.group(1), _unquoted(match.group(2))
    choices = [_unquoted(c.strip()) for c in re.split(r",\s*(?=['\"\w])", match.group(3))]
    what = "没有这个命令" if name in _COMMANDS else f"{name} 没有这个取值"
    near = difflib.get_close_matches(value, choices, n=1)
    guess = f"，是不是 {near[0]}？" if near else ""
    return f"{what}：{value!r}{guess}（可选：{'、'.join(choices)}）"


# argparse's messages (Python 3.11), most specific first.
_MESSAGES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"the following arguments are required: (.*)"), r"缺少必填的参数：\1"),
    (re.compile(r"unrecognized arguments: (.*)"), r"无法识别的参数：\1"),
    (re.compile(r"one of the arguments (.*) is required"), r"须指定其中之一：\1"),
    (re.compile(r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)"), _choice),
    (re.compile(r"argument (\S+): expected one argument"), r"\1 后面需要一个值（值以 - 开头时写成 \1=值）"),
    (re.compile(r"argument (\S+): ignored explicit argument (.*)"), r"\1 不带值（多了 \2）"),
    (re.compile(r"argument (\S+): expected at least one argument"), r"\1 后面至少需要一个值"),
    (re.compile(r"argument (\S+): invalid (int|float) value: (.*)"),
     lambda m: f"{m.group(1)} 的值 {m.group(3)} 不是{_TYPES[m.group(2)]}"),
    (re.compile(r"argument (\S+): not allowed with argument (\S+)"), r"\1 不能与 \2 同时使用"),
    (re.compile(r"ambiguous option: (\S+) could match (.*)"), r"选项 \1 不明确，可能是：\2"),
    (re.compile(r"argument (\S+): (.*)"), r"\1：\2"),  # our own type checks, already in Chinese
]


def translate(message: str) -> str:
    for pattern, replacement in _MESSAGES:
        match = pattern.fullmatch(message)
        if match:
            return replacement(match) if callable(replacement) else match.expand(replacement)
    return message


class Parser(argparse.ArgumentParser):
    """Subcommands made with `add_subparsers().add_parser` are Parsers too (argparse uses the parent's class)."""

    _innermost: Parser

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数"
        self._optionals.title = "选项"
        self.add_argument("-h", "--help", action="help", help="显示本帮助并退出")

    def format_usage(self) -> str:
        return super().format_usage().replace("usage: ", "用法：", 1)

    def format_help(self) -> str:
        return super().format_help().replace("usage: ", "用法：", 1)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # Each subcommand's parser runs inside its parent's: the last to start is the command the words were for.
        Parser._innermost = self
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """Exit 2 (as argparse does) with what is wrong and where the usage is; the full usage only on -h."""
        # argparse reports leftover words from the top parser: name the subcommand they were given to instead.
        prog = Parser._innermost.prog if message.startswith("unrecognized arguments") else self.prog
        sys.stderr.write(f"{prog}：{translate(message)}\n用法：python {prog} -h\n")
        sys.exit(2)
