"""The console channel at a real terminal (a pseudo-terminal): questions typed are answered, and bytes that are
not UTF-8 do not end it."""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pty = pytest.importorskip("pty")  # POSIX only
PROMPT = "请输入问题".encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 30.0) -> bool:
    """Read the terminal until `marker` appears after what was already seen, or the time is up."""
    start, deadline = len(seen), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in seen[start:]:
            return True
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                return marker in seen[start:]
    return False


def test_the_console_answers_and_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    try:
        pid, fd = pty.fork()
    except OSError as exc:  # a machine without pseudo-terminals (/dev/ptmx)
        pytest.skip(f"no pseudo-terminal: {exc}")
    if pid == 0:  # the child: the gateway on a database of its own, its stdin a terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "bot.py", "--db", str(tmp_path / "g.db"), "run", "--port",
                                  str(_free_port())])
    seen = bytearray()
    try:
        assert _read_until(fd, PROMPT, seen), seen.decode("utf-8", "replace")
        os.write(fd, "帮助\n".encode())
        assert _read_until(fd, "信息公开助手".encode(), seen), seen.decode("utf-8", "replace")
        os.write(fd, b"\xff\xfe\xe5\n")  # a terminal in GBK, or a stray byte: before, the console died here
        assert _read_until(fd, PROMPT, seen)
        os.write(fd, "帮助\n".encode())
        assert _read_until(fd, "信息公开助手".encode(), seen), seen.decode("utf-8", "replace")
        os.kill(pid, signal.SIGTERM)  # stops the gateway although the console waits for a line
        assert _exited(pid, 15.0), "the gateway did not stop on SIGTERM"
    finally:
        if not _exited(pid, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def _exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # reaped already
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
