"""How many inbound requests a second the DingTalk and OneBot adapters verify and parse, on one core.

Pure functions only (no HTTP, no store): the cost the adapters add to each inbound request.

    python bench/bench_inbound_dingtalk_onebot.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from platforms import RawRequest  # noqa: E402
from platforms.dingtalk import DingTalkPlatform  # noqa: E402
from platforms.dingtalk import sign as dingtalk_sign  # noqa: E402
from platforms.onebot import OneBotPlatform  # noqa: E402
from platforms.onebot import sign as onebot_sign  # noqa: E402


def dingtalk_case() -> Callable[[], None]:
    """A signed group @-mention, verified within the 1 h window and parsed."""
    plat = DingTalkPlatform("dt", {"app_secret": "appSecretExample1234567890"})
    now = time.time()
    stamp = str(int(now * 1000))
    body = json.dumps({
        "msgtype": "text", "text": {"content": "@食药监小助手 药店营业时间?"}, "msgId": "msgABC123",
        "conversationType": "2", "conversationId": "cidGroup==", "senderStaffId": "staff001", "senderNick": "张三",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
        "sessionWebhookExpiredTime": int(now * 1000) + 5400000,
    }, ensure_ascii=False).encode()
    req = RawRequest("POST", {}, {"timestamp": stamp, "sign": dingtalk_sign(plat.opt("app_secret"), stamp)}, body, now)

    def step() -> None:
        plat.verify(req)
        plat.parse(req)

    return step


def onebot_case() -> Callable[[], None]:
    """The signed group message of PLATFORMS.md §4, verified and parsed."""
    plat = OneBotPlatform("qq", {"secret": "onebotSecret"})
    body = json.dumps({
        "time": 1735000000, "self_id": 10001, "post_type": "message", "message_type": "group",
        "message_id": 42, "group_id": 123456, "user_id": 654321,
        "message": [{"type": "at", "data": {"qq": "10001"}},
                    {"type": "text", "data": {"text": " 药店营业时间?"}}],
        "sender": {"user_id": 654321, "nickname": "市民", "card": "", "role": "member"},
    }, ensure_ascii=False).encode()
    headers = {"x-self-id": "10001", "x-signature": onebot_sign("onebotSecret", body)}
    req = RawRequest("POST", {}, headers, body, time.time())

    def step() -> None:
        plat.verify(req)
        plat.parse(req)

    return step


def rate(step: Callable[[], None], seconds: float) -> float:
    """Calls a second, measured in batches so the clock is read rarely."""
    step()  # warm up, and fail loudly before timing if the case is broken
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(500):
            step()
        count += 500
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per case")
    args = parser.parse_args()
    for name, case in (("dingtalk verify+parse", dingtalk_case()), ("onebot verify+parse", onebot_case())):
        print(f"{name:24s} {rate(case, args.seconds):>10,.0f} requests/s")


if __name__ == "__main__":
    main()
