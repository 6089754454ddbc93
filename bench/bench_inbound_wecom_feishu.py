"""How many inbound requests a second the WeCom and Feishu adapters check, decrypt and parse, on one core.

Pure functions only (no HTTP, no store): handshake + verify + parse, as web/hooks.py calls them, on encrypted
and signed @-mentions. Requests cycle through distinct bodies so no cache between requests flatters the figure.
Also times the WeCom inline reply (encrypt + sign), which is on the response path.

    python bench/bench_inbound_wecom_feishu.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from platforms import RawRequest  # noqa: E402
from platforms._aes import FeishuCipher, WeComCrypto  # noqa: E402
from platforms.feishu import FeishuPlatform, event_signature  # noqa: E402
from platforms.wecom import WeComPlatform  # noqa: E402

DISTINCT = 256
WECOM_TOKEN, WECOM_KEY = "robotToken123", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
FEISHU_EK, FEISHU_VT = "feishuEncryptKey123", "feishuVerificationToken456"


def wecom_request(i: int, now: float) -> RawRequest:
    """A smart-robot group @-mention, encrypted with receiveid "" and signed, as WeCom posts it."""
    crypto = WeComCrypto(WECOM_TOKEN, WECOM_KEY)
    message = {"msgid": f"msg-{i}", "aibotid": "AIBOTID", "chatid": "wrkSFfCgAAxxxx", "chattype": "group",
               "from": {"userid": "zhangsan"}, "msgtype": "text", "text": {"content": "@食药监小助手 如何查询药店许可证"},
               "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC"}
    encrypt = crypto.encrypt(json.dumps(message, ensure_ascii=False))
    stamp = str(int(now))
    query = {"msg_signature": crypto.signature(stamp, f"n{i}", encrypt), "timestamp": stamp, "nonce": f"n{i}"}
    return RawRequest("POST", query, {}, json.dumps({"encrypt": encrypt}).encode(), now)


def feishu_request(i: int, now: float) -> RawRequest:
    """An encrypted, signed im.message.receive_v1 group @-mention, shaped like the PLATFORMS.md §3.3 vector."""
    content = json.dumps({"text": "@_user_1 药品召回怎么查"}, ensure_ascii=False)
    event = {"schema": "2.0",
             "header": {"event_id": f"ev-{i}", "event_type": "im.message.receive_v1", "token": FEISHU_VT},
             "event": {"sender": {"sender_id": {"open_id": "ou_user1"}, "sender_type": "user"},
                       "message": {"message_id": f"om_{i}", "chat_id": "oc_chat1", "chat_type": "group",
                                   "message_type": "text", "content": content,
                                   "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "助手"}]}}}
    body = json.dumps({"encrypt": FeishuCipher(FEISHU_EK).encrypt(json.dumps(event, ensure_ascii=False))}).encode()
    stamp = str(int(now))
    headers = {"x-lark-request-timestamp": stamp, "x-lark-request-nonce": f"n{i}",
               "x-lark-signature": event_signature(stamp, f"n{i}", FEISHU_EK, body)}
    return RawRequest("POST", {}, headers, body, now)


def inbound_case(plat: WeComPlatform | FeishuPlatform, make: Callable[[int, float], RawRequest]) -> Callable[[], None]:
    now = time.time()
    requests = itertools.cycle([make(i, now) for i in range(DISTINCT)])

    def step() -> None:
        req = next(requests)
        assert plat.handshake(req) is None
        plat.verify(req)
        assert plat.parse(req)

    return step


def wecom_inline_case() -> Callable[[], None]:
    plat = WeComPlatform("wc", {"token": WECOM_TOKEN, "aes_key": WECOM_KEY})
    [event] = plat.parse(wecom_request(0, time.time()))
    answer = "《药品经营许可证》可在区分局政务公开栏目“行政许可”中查询，" * 4

    def step() -> None:
        plat.inline(event, answer, {})

    return step


def rate(step: Callable[[], None], seconds: float) -> float:
    """Calls a second, measured in batches so the clock is read rarely."""
    step()  # warm up, and fail loudly before timing if the case is broken
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(200):
            step()
        count += 200
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per case")
    args = parser.parse_args()
    wecom = WeComPlatform("wc", {"token": WECOM_TOKEN, "aes_key": WECOM_KEY})
    feishu = FeishuPlatform("fs", {"encrypt_key": FEISHU_EK, "verification_token": FEISHU_VT,
                                   "app_id": "cli_a", "app_secret": "s"})
    cases = (("wecom verify+decrypt+parse", inbound_case(wecom, wecom_request)),
             ("feishu verify+decrypt+parse", inbound_case(feishu, feishu_request)),
             ("wecom inline reply (encrypt)", wecom_inline_case()))
    for name, case in cases:
        print(f"{name:30s} {rate(case, args.seconds):>10,.0f} requests/s")


if __name__ == "__main__":
    main()
