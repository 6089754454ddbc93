"""Enquiry throughput over HTTP: the gateway's /hooks/webhook path beside a bare aiohttp handler.

Both servers run as separate processes on loopback; the same client (aiohttp, CONCURRENCY connections)
drives each with REQUESTS distinct questions. Every gateway request is a real enquiry: dedupe, match,
log, and for the unanswerable ones a possible request.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp

from _util import free_port, start_gateway, wait_ready, write_config

REQUESTS = 4000
CONCURRENCY = 32
QUESTIONS = ["小饭桌怎么备案", "开奶茶店要办啥证", "健康证在哪里办", "夏天高温食品安全要注意什么",
             "药店营业时间", "驾照怎么换证", "投诉买到假货", "化妆品备案怎么弄"]

BARE = textwrap.dedent("""
    import sys
    from aiohttp import web
    async def hook(request):
        data = await request.json()
        return web.json_response({"reply": data["text"], "answered": False, "request_id": None, "matches": []})
    async def health(request):
        return web.json_response({"status": "ok"})
    app = web.Application()
    app.add_routes([web.post("/hooks/webhook/webhook", hook), web.get("/healthz", health)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")


async def drive(port: int) -> float:
    url = f"http://127.0.0.1:{port}/hooks/webhook/webhook"
    counter = iter(range(REQUESTS))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
        async def worker() -> None:
            for n in counter:
                body = {"event_id": f"b{n}", "chat_id": "c", "sender": f"s{n % 50}",
                        "text": QUESTIONS[n % len(QUESTIONS)]}
                async with http.post(url, json=body) as resp:
                    assert resp.status == 200, resp.status
                    await resp.read()
        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
        return REQUESTS / (time.perf_counter() - started)


def run_server(proc: subprocess.Popen[bytes], port: int) -> float:
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", time.perf_counter())
        return asyncio.run(drive(port))
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        bare_rps = run_server(bare, port)
        port = free_port()
        gateway = start_gateway(write_config(folder, folder / "bench.db", port), port)
        gateway_rps = run_server(gateway, port)
    print(f"bare aiohttp handler:            {bare_rps:7.0f} req/s")
    print(f"gongkai enquiry (webhook path):  {gateway_rps:7.0f} req/s  "
          f"({gateway_rps / bare_rps:.0%} of bare; {REQUESTS} requests, {CONCURRENCY} connections, one client process)")


if __name__ == "__main__":
    main()
