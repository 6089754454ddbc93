"""The staff CLI: each module here adds its subcommands with `register(subparsers)`.

A command handler is `def handler(args: argparse.Namespace, ctx: CliContext) -> int`; it calls service
functions with `ctx.db()` and prints with `ctx.out(...)`. GongkaiError becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from config import Settings
from store import open_db

__all__ = ["CliContext", "Handler", "print_json"]


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=None, separators=(", ", ": ")))


@dataclass
class CliContext:
    settings: Settings
    json: bool = False
    _db: Database | None = field(default=None, repr=False)

    def db(self) -> Database:
        """The shared database, opened (and migrated) on first use."""
        if self._db is None:
            self._db = open_db(self.settings.db)
        return self._db

    def out(self, value: Any, text: str | Callable[[Any], str] | None = None) -> None:
        """Print `value` as JSON with --json, else `text` (a string or a formatter of value)."""
        if self.json:
            print_json(value)
        elif callable(text):
            print(text(value))
        elif text is not None:
            print(text)
        else:
            print_json(value)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


Handler = Callable[[argparse.Namespace, CliContext], int]

