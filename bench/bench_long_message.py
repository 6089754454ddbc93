"""How long the gateway takes over a long message: a pasted page must not hold up the other chats.

Starts the gateway (embedded-default-like config, its own database) and posts to the plain webhook messages of
growing length (random characters from everyday words, so no pattern repeats), each a distinct event, then a short
question. Prints the median of three answers' latency per length. The bot reads the first READ_LIMIT characters;
the log and the possible request keep the whole message.

    python bench/bench_long_message.py
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from _util import free_port, start_gateway, wait_ready, write_config

from knowledge.lexicon import READ_LIMIT

LENGTHS = [20, READ_LIMIT, 5_000, 50_000, 300_000]  # 300,000 characters is about 900 KB, under the 1 MB body limit
WORDS = "我店于去年取得许可证后按规定经营现将有关情况说明如下请审查食品药品监督管理"


def post(port: int, event_id: str, text: str) -> float:
    body = json.dumps({"event_id": event_id, "chat_id": "c1", "sender": "u1", "text": text},
                      ensure_ascii=False).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/webhook/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as resp:
        resp.read()
    return time.perf_counter() - start


def main() -> None:
    rng = random.Random(20131231)
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        gateway = start_gateway(write_config(Path(folder), Path(folder) / "bench.db", port), port)
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", time.perf_counter())
            post(port, "warm-up", "小饭桌怎么备案")
            print(f"the bot reads the first {READ_LIMIT} characters of a message")
            print(f"{'characters':>10s}  {'answer ms':>9s}")
            for length in LENGTHS:
                samples = [post(port, f"len-{length}-{n}", "".join(rng.choices(WORDS, k=length))) for n in range(3)]
                print(f"{length:10,d}  {statistics.median(samples) * 1000:9.1f}")
            print(f"a short question after them: {post(port, 'after', '健康证在哪里办') * 1000:.1f} ms")
        finally:
            gateway.terminate()
            gateway.wait()


if __name__ == "__main__":
    main()
