"""Cold start: process start to GET /healthz 200, for a first run (demo seeding) and later runs."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from _util import free_port, start_gateway, wait_ready, write_config

RUNS = 5


def measure(config: Path, port: int) -> float:
    started = time.perf_counter()
    proc = start_gateway(config, port)
    try:
        return wait_ready(f"http://127.0.0.1:{port}/healthz", started)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        config = write_config(folder, folder / "bench.db", port)
        first = measure(config, port)
        later = [measure(config, port) for _ in range(RUNS)]
    print(f"cold start, first run (creates the DB, loads the demo catalog): {first * 1000:.0f} ms")
    print(f"cold start, later runs (n={RUNS}): median {statistics.median(later) * 1000:.0f} ms, "
          f"max {max(later) * 1000:.0f} ms   (target < 1500 ms)")


if __name__ == "__main__":
    main()
