"""Shared fixtures: a real settings object on a temporary SQLite file, and the app under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from config import load_settings
from config.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The embedded default, but on a database of its own in tmp_path (starts empty: no demo seed)."""
    return load_settings(environ={}, db=str(tmp_path / "test.db"))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The client session an adapter sends with, as the gateway passes it."""
    async with aiohttp.ClientSession() as session:
        yield session
