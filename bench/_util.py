"""Helpers shared by the bench scripts: free ports, starting a gateway process, waiting for /healthz."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, started: float, timeout: float = 30.0) -> float:
    """Seconds from `started` until `url` answers 200."""
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.005)
    raise TimeoutError(url)


def write_config(folder: Path, db: Path, port: int) -> Path:
    """A config like the embedded default (demo seed, console, webhook) on a database of the bench's own."""
    config = folder / "bench.toml"
    seed = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"
    config.write_text(
        f'db = "{db}"\n[web]\nport = {port}\n[catalog]\nseed = "{seed}"\n'
        '[[bots]]\nname = "console"\nplatform = "console"\n'
        '[[bots]]\nname = "webhook"\nplatform = "webhook"\n',
        encoding="utf-8",
    )
    return config


def start_gateway(config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config), "run", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
