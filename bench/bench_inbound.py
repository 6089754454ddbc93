"""Inbound throughput over HTTP, per platform: the gateway's verify + parse + answer path beside a bare handler.

Four server processes run on loopback: the gateway (`bot.py run` on a temporary config with one
receive-capable bot per platform and the demo catalog), a bare aiohttp handler (reads the body, answers a small
JSON), a bare DingTalk bot (acks and posts a fixed answer to the sessionWebhook: the least a bot on a
two-exchange platform must do), and a sink standing in for the platforms' reply endpoints (DingTalk
sessionWebhook, Feishu tenant token and reply API). This process is the one client: aiohttp, CONCURRENCY
keep-alive connections per server.

Every request is built (encrypted, signed) before the clock starts, and each is a distinct event (unique msgid /
msgId / event_id / message_id) carrying one of QUESTIONS (the labelled set, in turn; the gateway's answer
cache sees each question again after len(QUESTIONS) requests), timestamped now, so the gateway really verifies,
decrypts, parses, dedupes (a miss), matches the catalog, logs and answers each one: WeCom with an encrypted stream
in the response, OneBot with a quick operation, the webhook with its JSON answer. DingTalk and Feishu are acked at
once and answered later by the gateway's reply worker: their req/s is the ack rate. For DingTalk the script waits
after each gateway burst until the sink holds every reply, and reports that wait and the end-to-end rate, beside
the bare DingTalk bot's end-to-end rate measured the same way. Feishu's replies are held to its documented
reply-API limits (50/s per app, 5/s per chat; the events are spread over 64 chats), so the script does not wait
for them: it reports the reply rate the sink saw during the run.

Per platform, WARMUP events go to each server first, then REQUESTS events in ROUNDS alternating bare / gateway
bursts (so drift in the machine's load hits both alike); the bare handler gets the very same URLs, headers and
bodies. "% of bare" = gateway req/s / bare req/s. The CPU columns (user + system time of the server process, all
threads, per request; for DingTalk including the replies, for Feishu the few sent meanwhile) hold steadier than
req/s when other processes share the machine.

    python bench/bench_inbound.py [--requests 9000] [--concurrency 32] [--rounds 6] [--only wecom,onebot]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from _util import ROOT, free_port, wait_ready
from yarl import URL

# _util (above) has put the repository root on sys.path.
from platforms._aes import FeishuCipher, WeComCrypto
from platforms.dingtalk import sign as dingtalk_sign
from platforms.feishu import event_signature
from platforms.onebot import sign as onebot_sign
from platforms.webhook import sign as webhook_sign

REQUESTS = 9000
CONCURRENCY = 32
WARMUP = 200
ROUNDS = 6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGET = 0.50  # of the bare handler's rate
# The labelled citizen questions (answerable, unanswerable, complaints): a realistic mix of work per request.
QUESTIONS = [json.loads(line)["q"] for line in
             (Path(__file__).resolve().parent.parent / "tests" / "data" / "questions.jsonl").open(encoding="utf-8")]

# Bench-only secrets, written as literals into the temporary config.
WECOM_TOKEN, WECOM_KEY = "benchRobotToken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DINGTALK_SECRET = "benchAppSecret0123456789abcdefghij"
FEISHU_VT, FEISHU_EK, FEISHU_APP, FEISHU_SECRET = "benchVerificationToken", "benchEncryptKey", "cli_bench", "benchFs"
ONEBOT_SECRET, ONEBOT_SELF = "benchOnebotSecret", "10001"
WEBHOOK_SECRET = "benchWebhookSecret"

BARE = textwrap.dedent("""
    import sys
    from aiohttp import web
    async def hook(request):
        await request.read()
        return web.json_response({"ok": True})
    async def health(request):
        return web.json_response({"status": "ok"})
    app = web.Application()
    app.add_routes([web.route("*", "/hooks/{platform}/{bot}", hook), web.get("/healthz", health)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")

# The least any DingTalk bot must do, with aiohttp on both sides: read the event, ack it, and post an answer to
# its sessionWebhook (a fixed text, no checks, no matching, no log). The gateway is also shown beside this.
BARE_REPLY = textwrap.dedent("""
    import asyncio, json, sys
    import aiohttp
    from aiohttp import web
    tasks = set()
    async def post(http, url):
        async with http.post(url, json={"msgtype": "text", "text": {"content": "收到"}}) as resp:
            await resp.read()
    async def hook(request):
        event = json.loads(await request.read())
        task = asyncio.ensure_future(post(request.app["http"], event["sessionWebhook"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.json_response({"ok": True})
    async def health(request):
        return web.json_response({"status": "ok"})
    async def client(app):
        app["http"] = aiohttp.ClientSession()
        yield
        await app["http"].close()
    app = web.Application()
    app.cleanup_ctx.append(client)
    app.add_routes([web.route("*", "/hooks/{platform}/{bot}", hook), web.get("/healthz", health)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")

# The platforms' side of the deferred replies, as cheap as possible (a raw asyncio protocol, keep-alive,
# Content-Length bodies only) so that it takes little CPU from the gateway on a small machine.
SINK = textwrap.dedent(r"""
    import asyncio, json, sys
    counts = {"token": 0, "dingtalk": 0, "feishu": 0, "other": 0, "reply_connections": 0}
    last = {}
    ANSWERS = {
        "token": b'{"code":0,"msg":"ok","tenant_access_token":"t-bench","expire":7200}',
        "feishu": b'{"code":0,"msg":"success","data":{"message_id":"om_reply"}}',
        "dingtalk": b'{"errcode":0,"errmsg":"ok"}',
        "other": b'{"errcode":404,"errmsg":"not a sink path"}',
    }

    def kind_of(path):
        if path.startswith("/open-apis/auth/v3/tenant_access_token/"):
            return "token"
        if path.startswith("/open-apis/im/v1/messages/") and path.endswith("/reply"):
            return "feishu"
        if path.startswith("/robot/sendBySession"):
            return "dingtalk"
        return "other"

    class Sink(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buf, self.replies = transport, b"", 0

        def data_received(self, data):
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = self.buf[:end].decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                size = int(headers.get("content-length") or 0)
                if len(self.buf) < end + 4 + size:
                    return
                body, self.buf = self.buf[end + 4:end + 4 + size], self.buf[end + 4 + size:]
                if path in ("/healthz", "/count"):
                    status, out = 200, json.dumps({"counts": counts, "last": {k: v.decode() for k, v in last.items()}},
                                                  ensure_ascii=False).encode()
                else:
                    kind = kind_of(path)
                    counts[kind] += 1
                    self.replies += 1
                    if self.replies == 1:
                        counts["reply_connections"] += 1
                    last[kind] = body
                    status, out = (404 if kind == "other" else 200), ANSWERS[kind]
                self.transport.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                     % (status, len(out)) + out)
                if headers.get("connection", "").lower() == "close":
                    self.transport.close()
                    return

    async def main():
        server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", int(sys.argv[1]))
        async with server:
            await server.serve_forever()

    asyncio.run(main())
""")


@dataclass
class Case:
    platform: str  # also the bot name in the config and the URL
    build: Callable[[int, float], tuple[str, dict[str, str], bytes]]  # (path?query, headers, body)
    check: Callable[[bytes], bool]  # cheap test of every gateway response body
    deferred: bool = False  # the answer goes to the sink later
    capped: bool = False  # deferred replies held to a platform rate limit: count them, do not wait for them


def _question(n: int) -> str:
    return QUESTIONS[n % len(QUESTIONS)]


def wecom_request(n: int, now: float) -> tuple[str, dict[str, str], bytes]:
    """A smart-robot group @-mention: JSON encrypted with receiveid "", msg_signature in the query."""
    crypto = WeComCrypto(WECOM_TOKEN, WECOM_KEY, "")
    message = {"msgid": f"wcmsg-{n}", "aibotid": "AIBOTBENCH", "chatid": "wrkSFfCgAAbench", "chattype": "group",
               "from": {"userid": f"user{n % 50}"}, "msgtype": "text",
               "text": {"content": f"@食药监小助手 {_question(n)}"},
               "response_url": f"https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC{n}"}
    encrypt = crypto.encrypt(json.dumps(message, ensure_ascii=False))
    stamp, nonce = str(int(now)), f"nonce{n}"
    query = f"msg_signature={crypto.signature(stamp, nonce, encrypt)}&timestamp={stamp}&nonce={nonce}"
    return f"/hooks/wecom/wecom?{query}", {}, json.dumps({"encrypt": encrypt}).encode()


def dingtalk_request(n: int, now: float, sink: str) -> tuple[str, dict[str, str], bytes]:
    """A signed enterprise-robot group @-mention whose sessionWebhook points at the sink."""
    stamp = str(int(now * 1000))
    body = {"msgtype": "text", "text": {"content": f" {_question(n)}"}, "msgId": f"dtmsg-{n}",
            "createAt": int(now * 1000), "conversationType": "2", "conversationId": "cidBenchGroup==",
            "conversationTitle": "食品安全咨询群", "senderId": f"$:LWCP_v1:$sender{n % 50}", "senderNick": "市民",
            "senderStaffId": f"staff{n % 50}", "senderCorpId": "dingcorp", "chatbotUserId": "$:LWCP_v1:$bot",
            "robotCode": "dingbench", "isAdmin": False, "isInAtList": True,
            "sessionWebhook": f"{sink}/robot/sendBySession?session=s{n}",
            "sessionWebhookExpiredTime": int(now * 1000) + 90 * 60 * 1000}
    return ("/hooks/dingtalk/dingtalk", {"timestamp": stamp, "sign": dingtalk_sign(DINGTALK_SECRET, stamp)},
            json.dumps(body, ensure_ascii=False).encode())


def feishu_request(n: int, now: float) -> tuple[str, dict[str, str], bytes]:
    """An encrypted im.message.receive_v1 group @-mention signed in X-Lark-Signature."""
    content = json.dumps({"text": f"@_user_1 {_question(n)}"}, ensure_ascii=False)
    event = {"schema": "2.0",
             "header": {"event_id": f"fsev-{n}", "event_type": "im.message.receive_v1",
                        "create_time": str(int(now * 1000)), "token": FEISHU_VT, "app_id": FEISHU_APP,
                        "tenant_key": "tk"},
             "event": {"sender": {"sender_id": {"open_id": f"ou_user{n % 50}"}, "sender_type": "user"},
                       "message": {"message_id": f"om_{n}", "chat_id": f"oc_bench{n % 64}", "chat_type": "group",
                                   "message_type": "text", "content": content,
                                   "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"},
                                                 "name": "食药监小助手"}]}}}
    encrypt = FeishuCipher(FEISHU_EK).encrypt(json.dumps(event, ensure_ascii=False))
    body = json.dumps({"encrypt": encrypt}).encode()
    stamp, nonce = str(int(now)), f"nonce{n}"
    headers = {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
               "X-Lark-Signature": event_signature(stamp, nonce, FEISHU_EK, body)}
    return "/hooks/feishu/feishu", headers, body


def onebot_request(n: int, now: float) -> tuple[str, dict[str, str], bytes]:
    """A OneBot v11 group message @-ing the bot, signed with X-Signature."""
    question = _question(n)
    body = {"time": int(now), "self_id": int(ONEBOT_SELF), "post_type": "message", "message_type": "group",
            "sub_type": "normal", "message_id": n, "group_id": 123456, "user_id": 600000 + n % 50,
            "message": [{"type": "at", "data": {"qq": ONEBOT_SELF}}, {"type": "text", "data": {"text": f" {question}"}}],
            "raw_message": f"[CQ:at,qq={ONEBOT_SELF}] {question}", "font": 0,
            "sender": {"user_id": 600000 + n % 50, "nickname": "市民", "card": "", "role": "member"}}
    raw = json.dumps(body, ensure_ascii=False).encode()
    return "/hooks/onebot/onebot", {"X-Self-ID": ONEBOT_SELF, "X-Signature": onebot_sign(ONEBOT_SECRET, raw)}, raw


def webhook_request(n: int, now: float) -> tuple[str, dict[str, str], bytes]:
    """The plain JSON webhook, signed with X-Gongkai-Signature."""
    raw = json.dumps({"event_id": f"whev-{n}", "chat_id": "bench", "sender": f"s{n % 50}", "text": _question(n)},
                     ensure_ascii=False).encode()
    return "/hooks/webhook/webhook", {"X-Gongkai-Signature": webhook_sign(WEBHOOK_SECRET, raw)}, raw


def write_inbound_config(folder: Path, port: int, sink: str) -> Path:
    """One receive-capable bot per platform, named after its platform, on a database of the bench's own."""
    seed = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"
    config = folder / "bench_inbound.toml"
    config.write_text(textwrap.dedent(f"""\
        db = "{folder / 'bench.db'}"
        [web]
        port = {port}
        [catalog]
        seed = "{seed}"
        [[bots]]
        name = "wecom"
        platform = "wecom"
        token = "{WECOM_TOKEN}"
        aes_key = "{WECOM_KEY}"
        [[bots]]
        name = "dingtalk"
        platform = "dingtalk"
        app_secret = "{DINGTALK_SECRET}"
        api_base = "{sink}"
        [[bots]]
        name = "feishu"
        platform = "feishu"
        verification_token = "{FEISHU_VT}"
        encrypt_key = "{FEISHU_EK}"
        app_id = "{FEISHU_APP}"
        app_secret = "{FEISHU_SECRET}"
        bot_open_id = "ou_bot"
        api_base = "{sink}"
        [[bots]]
        name = "onebot"
        platform = "onebot"
        secret = "{ONEBOT_SECRET}"
        [[bots]]
        name = "webhook"
        platform = "webhook"
        secret = "{WEBHOOK_SECRET}"
    """), encoding="utf-8")
    return config


def cases(sink: str) -> list[Case]:
    return [
        Case("wecom", wecom_request, lambda b: b'"encrypt"' in b and b'"msgsignature"' in b),
        Case("dingtalk", lambda n, now: dingtalk_request(n, now, sink), lambda b: b == b'{"ok":true}', deferred=True),
        Case("feishu", feishu_request, lambda b: b == b'{"msg":"success"}', deferred=True, capped=True),
        Case("onebot", onebot_request, lambda b: b'"reply"' in b),
        Case("webhook", webhook_request, lambda b: b'"reply"' in b),
    ]


Prepared = list[tuple[str, dict[str, str], bytes]]
Request = tuple[URL, dict[str, str], bytes]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    def requests(self, batch: Prepared) -> list[Request]:
        base = f"http://127.0.0.1:{self.port}"
        return [(URL(base + path, encoded=True), {"Content-Type": "application/json", **headers}, body)
                for path, headers, body in batch]

    def cpu(self) -> float:
        """CPU seconds (user + system, all threads) the process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Result:
    platform: str
    bare_rps: float
    gateway_rps: float
    bare_cpu: float  # CPU seconds per request in the server process
    gateway_cpu: float  # ... including the deferred reply, for DingTalk and Feishu
    client_cpu: float  # CPU seconds per request in this process, over the bare runs
    drain: float  # seconds spent waiting for deferred replies after the last ack of each round
    sample: str
    reply_rate: float = 0.0  # capped replies per second the sink saw over the whole measurement
    minimal_rps: float = 0.0  # end to end: the bare bot that acks and posts a fixed answer (DingTalk)
    minimal_cpu: float = 0.0  # its CPU seconds per request, the post included


async def burst(http: aiohttp.ClientSession, batch: list[Request], concurrency: int,
                check: Callable[[bytes], bool] | None) -> tuple[float, bytes]:
    """Send `batch` over `concurrency` connections; (seconds, the last response body)."""
    queue, last = batch[::-1], b""  # pop() from the end keeps the events in order

    async def worker() -> None:
        nonlocal last
        while queue:
            url, headers, body = queue.pop()
            async with http.post(url, data=body, headers=headers) as resp:
                data = await resp.read()
                if resp.status != 200 or (check is not None and not check(data)):
                    raise AssertionError(f"{url.path}: HTTP {resp.status} {data[:200]!r}")
                last = data

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return time.perf_counter() - started, last


async def measure(case: Case, bare: Server, gateway: Server, minimal: Server | None, sink: str, warmup: Prepared,
                  timed: Prepared, rounds: int, concurrency: int) -> Result:
    """Warm the servers up, then `rounds` bursts per server over slices of `timed`, in alternating order.

    `minimal` (the bare bot that also posts an answer) runs beside them for deferred platforms whose replies
    are waited for; each of its bursts, like the gateway's, counts until the sink holds all its replies."""
    waits = case.deferred and not case.capped
    servers = [bare, gateway] + ([minimal] if waits and minimal is not None else [])
    replying = [s for s in servers if s is not bare] if waits else []
    size = -(-len(timed) // rounds)
    slices = [timed[i:i + size] for i in range(0, len(timed), size)]
    warm = {s.name: s.requests(warmup) for s in servers}
    plan = {s.name: [s.requests(part) for part in slices] for s in servers}
    seconds = {s.name: 0.0 for s in servers}
    cpu = {s.name: 0.0 for s in servers}
    drain = {s.name: 0.0 for s in servers}
    client_cpu, sample = 0.0, ""
    sessions = {s.name: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) for s in servers}
    replies_before, started = sink_counts(sink)["counts"].get(case.platform, 0), time.perf_counter()
    delivered = replies_before
    try:
        for server in servers:
            await burst(sessions[server.name], warm[server.name], concurrency, None)
        delivered += len(warmup) * len(replying)
        if waits:
            await asyncio.to_thread(wait_replies, sink, case.platform, delivered)
        for i in range(len(slices)):
            for server in (servers if i % 2 == 0 else servers[::-1]):
                cpu_before, client_before = server.cpu(), time.process_time()
                elapsed, body = await burst(sessions[server.name], plan[server.name][i], concurrency,
                                            case.check if server is gateway else None)
                seconds[server.name] += elapsed
                if server is bare:
                    client_cpu += time.process_time() - client_before
                elif server in replying:  # the replies are part of the work: wait for them before going on
                    delivered += len(slices[i])
                    drain[server.name] += await asyncio.to_thread(wait_replies, sink, case.platform, delivered)
                cpu[server.name] += server.cpu() - cpu_before
                if server is gateway:
                    sample = check_sample(case.platform, body, sink)
    finally:
        for http in sessions.values():
            await http.close()
    n = len(timed)
    replied = sink_counts(sink)["counts"].get(case.platform, 0) - replies_before
    rate = replied / (time.perf_counter() - started) if case.capped else 0.0
    result = Result(case.platform, n / seconds["bare"], n / seconds["gateway"], cpu["bare"] / n,
                    cpu["gateway"] / n, client_cpu / n, drain["gateway"], sample, rate)
    if minimal is not None and minimal.name in seconds:
        result.minimal_rps = n / (seconds[minimal.name] + drain[minimal.name])
        result.minimal_cpu = cpu[minimal.name] / n
    return result


def sink_counts(sink: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{sink}/count", timeout=2) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def wait_replies(sink: str, kind: str, expected: int, timeout: float = 60.0) -> float:
    """Seconds until the sink has seen `expected` replies of `kind` in all; raises on timeout."""
    started = time.perf_counter()
    while True:
        got = sink_counts(sink)["counts"][kind]
        if got >= expected:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{kind}: {got} of {expected} replies reached the sink")
        time.sleep(0.005)


def check_sample(platform: str, body: bytes, sink: str) -> str:
    """Prove the answers are real: decrypt / read one, return the start of the answer text."""
    if platform == "wecom":
        plain = json.loads(WeComCrypto(WECOM_TOKEN, WECOM_KEY, "").decrypt(json.loads(body)["encrypt"]))
        assert plain["msgtype"] == "stream" and plain["stream"]["finish"] is True, plain
        text = plain["stream"]["content"]
    elif platform in ("onebot", "webhook"):
        text = json.loads(body)["reply"]
    else:
        last = json.loads(sink_counts(sink)["last"][platform])
        text = last["text"]["content"] if platform == "dingtalk" else json.loads(last["content"])["text"]
    assert isinstance(text, str) and text.strip(), f"{platform}: empty answer"
    return text.replace("\n", " ")[:24]


def spawn(name: str, args: list[str], folder: Path, port: int) -> Server:
    with open(folder / f"{name}.log", "wb") as out:
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    return Server(name, port, proc)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS, help="measured requests per platform and server")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="client connections")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="unmeasured requests per platform and server")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating bare/gateway bursts per platform")
    parser.add_argument("--only", default="", help="comma-separated platforms (default: all five)")
    args = parser.parse_args()
    wall, load_before = time.perf_counter(), loadavg()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench_inbound_") as tmp:
        folder = Path(tmp)
        gateway_port, bare_port, minimal_port, sink_port = free_port(), free_port(), free_port(), free_port()
        sink_url = f"http://127.0.0.1:{sink_port}"
        config = write_inbound_config(folder, gateway_port, sink_url)
        servers = [
            spawn("sink", ["-c", SINK, str(sink_port)], folder, sink_port),
            spawn("bare", ["-c", BARE, str(bare_port)], folder, bare_port),
            spawn("bare+reply", ["-c", BARE_REPLY, str(minimal_port)], folder, minimal_port),
            spawn("gateway", [str(ROOT / "bot.py"), "--config", str(config), "run", "--port", str(gateway_port)],
                  folder, gateway_port),
        ]
        _, bare, minimal, gateway = servers
        try:
            started = time.perf_counter()
            for server in servers:
                wait_ready(f"http://127.0.0.1:{server.port}/healthz", started)
            wanted = {p for p in args.only.split(",") if p}
            now = time.time()  # every timestamp is "now": well inside max_skew for the whole run
            for case in cases(sink_url):
                if wanted and case.platform not in wanted:
                    continue
                warmup = [case.build(n, now) for n in range(args.warmup)]
                timed = [case.build(n, now) for n in range(args.warmup, args.warmup + args.requests)]
                results.append(asyncio.run(measure(case, bare, gateway, minimal, sink_url, warmup, timed, args.rounds,
                                                   args.concurrency)))
            sink_seen = sink_counts(sink_url)["counts"]
        except BaseException:
            for server in servers:
                if server.proc.poll() is not None:
                    tail = (folder / f"{server.name}.log").read_text(errors="replace")[-2000:]
                    print(f"--- {server.name} exited {server.proc.returncode}:\n{tail}", file=sys.stderr)
            raise
        finally:
            for server in servers:
                server.proc.terminate()
            for server in servers:
                try:
                    server.proc.wait(10)
                except subprocess.TimeoutExpired:
                    server.proc.kill()
        log = (folder / "gateway.log").read_text(encoding="utf-8", errors="replace").splitlines()
        problems = [line for line in log if " WARNING " in line or " ERROR " in line]
    print(f"inbound over HTTP: {args.requests} requests per platform and server ({args.rounds} alternating rounds, "
          f"after {args.warmup} warm-up), {args.concurrency} connections, one client process, {os.cpu_count()} CPUs\n")
    print(f"{'platform':9s} {'bare':>7s} {'gateway':>8s} {'% of':>5s} {'≥50%':>5s}   {'CPU µs/request':>16s}   notes")
    print(f"{'':9s} {'req/s':>7s} {'req/s':>8s} {'bare':>5s} {'':>5s}   {'bare':>7s} {'gateway':>8s}")
    for r in results:
        share = r.gateway_rps / r.bare_rps
        notes = ""
        if r.reply_rate:
            notes = f"ack rate; replies held to Feishu's limits, {r.reply_rate:.0f}/s reached the sink"
        elif r.drain:
            total = args.requests / (args.requests / r.gateway_rps + r.drain)
            notes = f"ack rate; all replies at the sink {r.drain:.1f} s later: {total:.0f} req/s end to end"
            if r.minimal_rps:
                notes += (f"; a bare bot that acks and posts a fixed answer: {r.minimal_rps:.0f} req/s end to end "
                          f"({r.minimal_rps / r.bare_rps:.0%} of bare, {r.minimal_cpu * 1e6:.0f} µs CPU/request), "
                          f"the gateway {total / r.minimal_rps:.0%} of it")
        print(f"{r.platform:9s} {r.bare_rps:7.0f} {r.gateway_rps:8.0f} {share:5.0%} {'yes' if share >= TARGET else 'NO':>5s}"
              f"   {r.bare_cpu * 1e6:7.0f} {r.gateway_cpu * 1e6:8.0f}   {notes}")
    client = sum(r.client_cpu for r in results) / max(len(results), 1)
    print(f"\nclient CPU {client * 1e6:.0f} µs/request; load average {load_before} before, {loadavg()} after "
          "(other processes on this machine take CPU from all three)")
    print(f"sink: {sink_seen['dingtalk']} DingTalk and {sink_seen['feishu']} Feishu replies, "
          f"{sink_seen['token']} token request(s), {sink_seen['other']} unexpected, "
          f"over {sink_seen['reply_connections']} connection(s)")
    print("answers seen: " + "; ".join(f"{r.platform} 「{r.sample}…」" for r in results))
    print(f"gateway log: {len(problems)} warning/error lines" + (f", first: {problems[0]}" if problems else ""))
    print(f"wall time {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
