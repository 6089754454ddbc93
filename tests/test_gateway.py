"""The gateway end to end over HTTP: the plain JSON webhook, the console hook, refusals, dedupe, reloads."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot import create_app
from config import load_settings
from config.settings import Settings
import clock
from disclosure.enquiries import list_enquiries
from disclosure.requests import accept_request, answer_request, get_request
from disclosure.workdays import load_calendar
from handlers import texts
from knowledge.catalog import import_file, import_items
from platforms.webhook import sign
from store import open_db, transaction

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"
SECRET = "webhook-test-secret"
CONFIG = """
[scheduler]
poll_interval = 0.05

[[bots]]
name = "open"
platform = "webhook"

[[bots]]
name = "signed"
platform = "webhook"
secret = "env:HOOK_SECRET"

[[bots]]
name = "console"
platform = "console"

[[groups]]
name = "餐饮-东区"
bot = "open"
chat = "chat-1"
tags = ["餐饮", "东区"]
"""


@pytest.fixture
def gateway_settings(tmp_path: Path) -> Settings:
    path = tmp_path / "gongkai.toml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(str(path), environ={"HOOK_SECRET": SECRET}, db=str(tmp_path / "g.db"))
    db = open_db(settings.db)
    import_file(db, str(DEMO))
    db.close()
    return settings


@pytest.fixture
async def client(aiohttp_client: Any, gateway_settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(gateway_settings))


def event(text: str, event_id: str = "e1", sender: str = "u1", chat: str = "chat-1") -> dict[str, str]:
    return {"event_id": event_id, "chat_id": chat, "sender": sender, "text": text}


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")  # as some phone keyboards type them


def count(settings: Settings, table: str) -> int:
    db = open_db(settings.db)
    try:
        return db[table].count
    finally:
        db.close()


async def test_healthz_reports_ready_with_the_catalog(client: TestClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["catalog_items"] >= 40 and body["answers_pending"] == {}


async def test_answer_cites_the_item(client: TestClient, gateway_settings: Settings) -> None:
    resp = await client.post("/hooks/webhook/open", json=event("小饭桌怎么备案"))
    assert resp.status == 200
    body = await resp.json()
    assert body["answered"] is True and body["request_id"] is None
    best = body["matches"][0]
    assert set(best) == {"id", "title", "category", "url", "score"}
    assert best["title"] in body["reply"] and best["url"] in body["reply"]
    assert count(gateway_settings, "enquiries") == 1


async def test_repeated_event_gets_the_same_reply_and_is_logged_once(
        client: TestClient, gateway_settings: Settings) -> None:
    first = await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "dup-1"))).json()
    second = await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "dup-1"))).json()
    assert first == second
    assert count(gateway_settings, "enquiries") == 1
    assert count(gateway_settings, "requests") == 1


async def test_unanswerable_opens_one_numbered_request_per_sender_and_day(client: TestClient) -> None:
    first = await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "a1"))).json()
    assert first["answered"] is False
    assert first["request_id"] is not None and first["request_id"] in first["reply"]
    assert "身份证明" in first["reply"]  # how to file a formal request
    again = await (await client.post("/hooks/webhook/open", json=event("驾照 怎么换证？", "a2"))).json()
    assert again["request_id"] == first["request_id"]
    other = await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "a3", sender="u2"))).json()
    assert other["request_id"] != first["request_id"]


async def test_a_follow_up_is_read_with_the_askers_last_question(client: TestClient,
                                                                 gateway_settings: Settings) -> None:
    """那药店呢 after 开饭店要办什么证 asks about a pharmacy's licence; said with nothing before it, a fragment asks for
    the whole question instead of opening a possible request nobody could act on."""
    async def ask(text: str, n: int, sender: str = "u1") -> dict[str, Any]:
        return await (await client.post("/hooks/webhook/open", json=event(text, f"f{n}", sender=sender))).json()

    assert (await ask("开饭店要办什么证", 1))["matches"][0]["title"] == "食品经营许可办事指南"
    pharmacy = await ask("那药店呢", 2)
    assert pharmacy["answered"] and pharmacy["matches"][0]["title"] == "药品经营许可证（零售）办理指南"
    assert pharmacy["reply"].startswith(texts.understood_as("开药店要办什么证"))
    wrong = await ask("不对", 21)  # the answer was wrong: staff get the question as it was read, not 那药店呢
    assert wrong["request_id"] and "开药店要办什么证" in wrong["reply"]
    await ask("2014年的抽检结果", 3)
    year = await ask("那2013年的呢", 4)
    assert year["answered"] and year["matches"][0]["title"] == "2013年度食品安全监督抽检结果公告"
    alone = await ask("那2013年的呢", 5, sender="u2")  # someone else, with nothing asked before
    assert (alone["reply"], alone["answered"], alone["request_id"]) == (texts.FOLLOW_UP_ALONE, False, None)
    await ask("健康证在哪办", 6, sender="u3")
    licence = await ask("营业执照呢", 7, sender="u3")  # not in the catalog: the request holds the whole question
    assert licence["request_id"] is not None
    db = open_db(gateway_settings.db)
    try:
        assert get_request(db, licence["request_id"])["question"] == "营业执照在哪办"
        assert get_request(db, wrong["request_id"])["question"] == "开药店要办什么证"
    finally:
        db.close()


@pytest.mark.parametrize(("previous", "text", "combined"), [
    ("开饭店要办什么证", "那药店呢", "开药店要办什么证"),
    ("小饭桌怎么备案", "那小餐饮呢", "小餐饮怎么备案"),
    ("2014年的抽检结果", "那2013年的呢", "2013年的抽检结果"),
    ("2014年的抽检结果", "一季度的呢", "2014年一季度的抽检结果"),
    ("抽检结果在哪看", "去年的呢", "去年抽检结果在哪看"),
    ("健康证在哪办", "营业执照呢", "营业执照在哪办"),
])
def test_how_a_follow_up_combines(previous: str, text: str, combined: str) -> None:
    from handlers.enquiry import combine, follow_up

    fragment = follow_up(text)
    assert fragment is not None and combine(previous, fragment) == combined


@pytest.mark.parametrize("text", ["奶茶店要办啥证呢", "开药店要什么证", "药店怎么办证呢", "小饭桌怎么备案"])
def test_a_question_of_its_own_is_no_follow_up(text: str) -> None:
    from handlers.enquiry import follow_up

    assert follow_up(text) is None


def test_a_follow_up_reads_only_a_recent_question_in_the_same_chat(tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    from handlers import Context, handle_inbound, installation_salt
    from knowledge import Knowledge
    from knowledge.catalog import all_items
    from platforms import Inbound

    db = open_db(tmp_path / "f.db")
    import_file(db, str(DEMO))
    moment = datetime(2026, 11, 27, 10, 0, tzinfo=clock.TZ)
    with transaction(db):
        ctx = Context(knowledge=Knowledge.build(all_items(db)), salt=installation_salt(db), now=lambda: moment)
        handle_inbound(db, ctx, Inbound("webhook", "w", "q1", "2014年的抽检结果", chat="c1", sender="u"))
        other_chat, _ = handle_inbound(db, ctx, Inbound("webhook", "w", "q2", "那2013年的呢", chat="c2", sender="u"))
        moment += timedelta(minutes=11)
        too_late, _ = handle_inbound(db, ctx, Inbound("webhook", "w", "q3", "那2013年的呢", chat="c1", sender="u"))
    db.close()
    assert other_chat.text == too_late.text == texts.FOLLOW_UP_ALONE


@pytest.mark.parametrize(("text", "complaint"), [
    ("我在超市买的月饼发霉了 找谁", True), ("买的牛奶变质了能退吗", True),
    ("我被投诉了怎么办", False), ("那家店有没有被举报过", False),  # about complaints, not one to file
])
def test_what_counts_as_a_complaint(text: str, complaint: bool) -> None:
    from handlers.enquiry import is_complaint

    assert is_complaint(text) is complaint


async def test_complaint_points_to_12315_and_opens_no_request(
        client: TestClient, gateway_settings: Settings) -> None:
    body = await (await client.post("/hooks/webhook/open", json=event("我在超市买到假货了要投诉"))).json()
    assert "12315" in body["reply"]
    assert body["request_id"] is None
    assert count(gateway_settings, "requests") == 0
    db = open_db(gateway_settings.db)
    assert [r["kind"] for r in db["enquiries"].rows] == ["complaint"]
    db.close()


async def test_status_query_command(client: TestClient) -> None:
    opened = await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "q1"))).json()
    number = opened["request_id"]
    asks = [f"查询{number}", f"查一下 {number} 的进度", number, f"编号{number}", f"我的申请{number}到哪了",
            f"{number}呢？", f"{number}进度怎么样了", f"查詢{number}", f"查询{number}".translate(_FULL_WIDTH),
            number.replace("-", "年")]
    for i, text in enumerate(asks):
        body = await (await client.post("/hooks/webhook/open", json=event(text, f"q-{i}"))).json()
        assert number in body["reply"] and "待工作人员甄别" in body["reply"], text
        assert "您的问题：“驾照怎么换证”" in body["reply"]  # the asker sees which question it was
    stranger = await (await client.post("/hooks/webhook/open", json=event(f"查询{number}", "q-x", sender="u9"))).json()
    assert number in stranger["reply"] and "驾照" not in stranger["reply"]  # anyone else: only how far it got


async def test_a_status_reply_never_shows_the_staff_note(client: TestClient, gateway_settings: Settings) -> None:
    """Staff notes may name people and hold their numbers: the asker gets dates and the outcome in words,
    anyone else only how far it has got, and `requests show` (staff) everything."""
    number = (await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "n1"))).json())["request_id"]
    db = open_db(gateway_settings.db)
    with transaction(db):
        accept_request(db, number, clock.now().date(), "王科长", load_calendar(db), note="申请人电话13812345678")
        answer_request(db, number, "deny_third_party", "王科长", note="内部讨论后不公开")
    staff = texts.request_detail(get_request(db, number))
    db.close()
    asker = (await (await client.post("/hooks/webhook/open", json=event(f"查询{number}", "n2"))).json())["reply"]
    assert "答复结果：保护第三方合法权益" in asker and "收到日" in asker
    stranger = (await (await client.post("/hooks/webhook/open", json=event(f"查询{number}", "n3", sender="u9"))).json())
    for reply in (asker, stranger["reply"]):
        assert "13812345678" not in reply and "王科长" not in reply and "内部讨论" not in reply
    assert "答复结果" not in stranger["reply"] and "已答复" in stranger["reply"]
    assert "内部讨论后不公开" in staff and "13812345678" not in staff  # the answer's note replaced the accept note


async def test_status_without_a_number_lists_the_askers_own_requests(client: TestClient,
                                                                      gateway_settings: Settings) -> None:
    opened = await (await client.post("/hooks/webhook/open", json=event("驾照怎么换证", "own-1"))).json()
    for i, text in enumerate(["查询", "我的申请到哪了", "我问的问题有回复了吗", "编号多少", "为什么还没人回复我"]):
        body = await (await client.post("/hooks/webhook/open", json=event(text, f"own-q{i}"))).json()
        assert opened["request_id"] in body["reply"] and "驾照怎么换证" in body["reply"], text
        assert body["request_id"] is None
    stranger = await (await client.post("/hooks/webhook/open", json=event("查进度", "own-x", sender="u9"))).json()
    assert "没有找到您登记的问题" in stranger["reply"] and opened["request_id"] not in stranger["reply"]
    assert count(gateway_settings, "requests") == 1  # none of these asks opened a request of its own


@pytest.mark.parametrize("text", ["2013-2014年的抽检结果", "2014-2015抽检结果", "2024-12-01的检查通报"])
async def test_years_and_dates_are_not_request_numbers(client: TestClient, text: str) -> None:
    body = await (await client.post("/hooks/webhook/open", json=event(text))).json()
    assert "编号为" not in body["reply"] and "甄别" not in body["reply"].split("。")[0]


@pytest.mark.parametrize("text", ["帮助", "你能干啥", "你会做什么？", "怎么用", "?", "菜单", "有什么功能"])
async def test_help_command(client: TestClient, text: str) -> None:
    body = await (await client.post("/hooks/webhook/open", json=event(text))).json()
    assert "查询" in body["reply"] and "订阅" in body["reply"]


@pytest.mark.parametrize(
    ("text", "chat", "fragment"),
    [("你好", "chat-1", "您好"), ("您好！", "chat-1", "您好"), ("在吗", "elsewhere", "您好"),
     ("谢谢😊", "chat-1", "不客气"), ("好的", "elsewhere", "随时提问"), ("是的", "chat-1", "随时提问"), ("收到", "chat-1", "暂无需要回复"),
     ("收到", "elsewhere", "暂无需要回复"), ("收到，谢谢", "chat-1", "暂无需要回复"),
     ("我们已经下架了", "elsewhere", "暂无需要回复"), ("1", "elsewhere", "太简短"), ("药", "chat-1", "太简短"),
     ("你是机器人吗", "chat-1", "信息公开助手"), ("大家早上好", "chat-1", "您好"), ("好的好的", "chat-1", "随时提问"),
     ("谢谢领导", "elsewhere", "不客气"), ("謝謝", "chat-1", "不客气"), ("测试", "elsewhere", "您好"), ("再见", "chat-1", "随时提问"),
     ("[图片]", "chat-1", "只能识别文字"), ("转人工", "chat-1", "联系电话"), ("不对", "chat-1", "换个说法"),
     ("666", "chat-1", "随时提问"), ("👍", "chat-1", "随时提问"), ("没有", "elsewhere", "暂无需要回复"),
     ("本店无此批次", "chat-1", "随时提问")],  # no recall was sent to chat-1: 无此批次 answers nothing
)
async def test_small_talk_opens_no_possible_request(client: TestClient, gateway_settings: Settings, text: str,
                                                    chat: str, fragment: str) -> None:
    """A greeting or a thank-you is not a question: staff must not find 你好 among the possible requests."""
    body = await (await client.post("/hooks/webhook/open", json=event(text, chat=chat))).json()
    assert fragment in body["reply"] and body["request_id"] is None
    assert count(gateway_settings, "requests") == 0
    assert count(gateway_settings, "enquiries") == 1  # still logged, as every message is


@pytest.mark.parametrize(
    ("data", "status", "fragment"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[" * 100_000, 400, "nested too deeply"),
        pytest.param(b'{"text": ' + b"1" * 5000 + b"}", 400, "number too long", id="a-5000-digit-number"),
        (b'{"event_id": "s1", "text": "\\ud800"}', 400, "surrogate"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"event_id": "x", "chat_id": "c", "sender": "s"}).encode(), 400, "'text'"),
        (json.dumps({"event_id": 5, "text": "hi"}).encode(), 400, "'event_id'"),
        (b"\xff\xfe", 400, "UTF-8"),
    ],
)
async def test_bad_bodies_are_400_and_write_nothing(
        client: TestClient, gateway_settings: Settings, data: bytes, status: int, fragment: str) -> None:
    resp = await client.post("/hooks/webhook/open", data=data, headers={"Content-Type": "application/json"})
    assert resp.status == status
    assert fragment in (await resp.json())["error"]
    assert count(gateway_settings, "enquiries") == 0 and count(gateway_settings, "requests") == 0


async def test_a_body_that_cannot_be_read_is_400(client: TestClient, gateway_settings: Settings) -> None:
    resp = await client.post("/hooks/webhook/open", data=b"not gzip",
                             headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status == 400 and "gzip" in (await resp.json())["error"]
    assert count(gateway_settings, "enquiries") == 0


async def test_oversized_body_is_413(client: TestClient, gateway_settings: Settings) -> None:
    big = json.dumps(event("问" * (gateway_settings.web.max_body // 3 + 10))).encode()
    resp = await client.post("/hooks/webhook/open", data=big)
    assert resp.status == 413
    assert "error" in await resp.json()
    assert count(gateway_settings, "enquiries") == 0


async def test_a_pasted_page_is_read_from_its_start_and_kept_whole(
        client: TestClient, gateway_settings: Settings) -> None:
    """The bot reads the first READ_LIMIT characters of a long message (here: not the complaint at its end); the
    log and the possible request keep every character. Reading it whole held up the gateway, and every other chat
    with it: the acknowledgement check's time grows with the square of the text (20 s for this one, about half an
    hour for a message near the body limit)."""
    words = random.Random(7).choices("我店于去年取得许可证后按规定经营现将有关情况说明如下请审查", k=30_000)
    text = "驾照怎么换证？以下是我们的情况说明：" + "".join(words) + "我要投诉"
    resp = await client.post("/hooks/webhook/open", json=event(text))
    body = await resp.json()
    assert resp.status == 200 and body["answered"] is False and body["request_id"]
    db = open_db(gateway_settings.db)
    try:
        assert [(r["question"], r["kind"]) for r in db["enquiries"].rows] == [(text, "enquiry")]
        assert db["requests"].get(body["request_id"])["question"] == text
    finally:
        db.close()


@pytest.mark.parametrize("path", ["/hooks/webhook/ghost", "/hooks/dingtalk/open", "/hooks/nothing/open"])
async def test_unknown_bot_is_404(client: TestClient, path: str) -> None:
    resp = await client.post(path, json=event("你好"))
    assert resp.status == 404
    assert "error" in await resp.json()


async def test_signed_webhook(client: TestClient, gateway_settings: Settings) -> None:
    data = json.dumps(event("小饭桌怎么备案", "s1"), ensure_ascii=False).encode()
    missing = await client.post("/hooks/webhook/signed", data=data)
    assert missing.status == 401
    wrong = await client.post("/hooks/webhook/signed", data=data,
                              headers={"X-Gongkai-Signature": sign("other-secret", data)})
    assert wrong.status == 403
    tampered = await client.post("/hooks/webhook/signed", data=data.replace(b"s1", b"s2"),
                                 headers={"X-Gongkai-Signature": sign(SECRET, data)})
    assert tampered.status == 403
    assert count(gateway_settings, "enquiries") == 0
    good = await client.post("/hooks/webhook/signed", data=data,
                             headers={"X-Gongkai-Signature": sign(SECRET, data)})
    assert good.status == 200 and (await good.json())["answered"] is True


async def test_console_hook_answers(client: TestClient) -> None:
    resp = await client.post("/hooks/console/console", json={"text": "你们局的办公电话是多少"})
    body = await resp.json()
    assert resp.status == 200 and body["answered"] is True


async def test_catalog_change_from_another_process_is_picked_up(
        client: TestClient, gateway_settings: Settings) -> None:
    question = "游艇驾驶证怎么考"
    before = await (await client.post("/hooks/webhook/open", json=event(question, "r1"))).json()
    assert before["answered"] is False
    db = open_db(gateway_settings.db)  # as the CLI would: its own connection
    import_items(db, [{
        "id": "new-1", "title": "游艇驾驶证考试报名指南", "category": "办事指南",
        "published": "2014-03-01", "url": "https://example.gov.cn/xxgk/new-1",
        "keywords": ["游艇驾驶证", "考试报名"], "body": "报考游艇驾驶证须年满18周岁，到海事窗口报名。",
    }])
    db.close()
    for attempt in range(100):  # the poll interval is 0.05 s here; give it up to 5 s
        after = await (await client.post("/hooks/webhook/open", json=event(question, f"r{attempt + 2}"))).json()
        if after["answered"]:
            break
        await asyncio.sleep(0.05)
    assert after["answered"] is True and after["matches"][0]["id"] == "new-1"


def test_settings_are_frozen(gateway_settings: Settings) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        gateway_settings.db = "x"  # type: ignore[misc]


def test_a_mention_with_nothing_after_it_asks_for_the_question(tmp_path: Path) -> None:
    """@bot alone reaches the handlers as "": the answer asks what they want to know, and opens nothing."""
    from handlers import Context, handle_inbound, installation_salt, texts
    from knowledge import Knowledge
    from platforms import Inbound
    from store import transaction

    db = open_db(tmp_path / "g.db")
    with transaction(db):
        ctx = Context(knowledge=Knowledge.build([]), salt=installation_salt(db))
        reply, _ = handle_inbound(db, ctx, Inbound("onebot", "qq", "1:1", "", chat="100", sender="200"))
    assert reply.text == texts.NOT_UNDERSTOOD and db["requests"].count == 0
    db.close()


async def test_a_wrong_answer_reported_by_the_asker_goes_to_staff(client: TestClient,
                                                                   gateway_settings: Settings) -> None:
    """答非所问 right after an answer: the question the catalog answered wrongly becomes a possible request."""
    answered = await (await client.post("/hooks/webhook/open", json=event("小饭桌怎么备案", "fb-1"))).json()
    assert answered["answered"] is True and answered["request_id"] is None
    body = await (await client.post("/hooks/webhook/open", json=event("答非所问！", "fb-2"))).json()
    number = body["request_id"]
    assert number and "小饭桌怎么备案" in body["reply"] and number in body["reply"]
    again = await (await client.post("/hooks/webhook/open", json=event("不对", "fb-3"))).json()
    assert again["request_id"] == number  # the same question, the same number
    other = await (await client.post("/hooks/webhook/open", json=event("不对", "fb-4", sender="u2"))).json()
    assert other["request_id"] is None  # someone else's answer is not theirs to report
    db = open_db(gateway_settings.db)
    try:
        assert [r["question"] for r in db["requests"].rows] == ["小饭桌怎么备案"]
        assert [r["question"] for r in list_enquiries(db, kind="feedback")] == ["不对", "不对", "答非所问！"]
    finally:
        db.close()


async def test_subscribe_and_unsubscribe_commands(client: TestClient, gateway_settings: Settings) -> None:
    async def say(text: str, n: int) -> str:
        return (await (await client.post("/hooks/webhook/open", json=event(text, f"sub-{n}"))).json())["reply"]

    assert "当前订阅：全部类别" in await say("本群订阅了什么", 0)
    assert "已包含“预警信息”，无需订阅" in await say("订阅 预警", 1)  # not narrowed to it: nothing else would come
    assert "当前订阅：预警信息。" in await say("只订阅 预警", 11)
    assert "当前订阅：预警信息、问题产品下架通知" in await say("我想订阅召回通知", 2)
    db = open_db(gateway_settings.db)
    assert json.loads(db["groups"].get("餐饮-东区")["subscriptions"]) == ["预警信息", "问题产品下架通知"]
    db.close()
    assert "当前订阅：问题产品下架通知" in await say("退订 预警信息", 3)
    assert "没有订阅“培训通知”" in await say("退订 培训", 4)
    assert "唯一类别" in await say("不要再发下架通知了", 5)  # removing it would leave [], which means every kind
    assert "当前订阅：问题产品下架通知" in await say("订阅", 6)
    assert "没有“天气”这个通知类别" in await say("订阅 天气", 7)
    other = await (await client.post("/hooks/webhook/open", json=event("订阅 预警信息", "sub-8", chat="elsewhere"))).json()
    assert "尚未登记" in other["reply"]
    signup = await (await client.post("/hooks/webhook/open", json=event("报名 王五 某某餐厅", "sub-10", chat="x"))).json()
    assert signup["reply"].startswith("这里无法报名") and signup["request_id"] is None  # a name is no request
    private = await (await client.post("/hooks/webhook/open", json=event("退订 预警信息", "sub-9", chat=""))).json()
    assert "尚未登记" in private["reply"]  # a private chat is no group, whatever a group's chat id
    db = open_db(gateway_settings.db)
    assert json.loads(db["groups"].get("餐饮-东区")["subscriptions"]) == ["问题产品下架通知"]
    db.close()


async def test_leaving_one_kind_keeps_every_other(client: TestClient, gateway_settings: Settings) -> None:
    body = await (await client.post("/hooks/webhook/open", json=event("不要再发培训通知了"))).json()
    assert "已退订“培训通知”" in body["reply"]
    db = open_db(gateway_settings.db)
    assert json.loads(db["groups"].get("餐饮-东区")["subscriptions"]) == [
        "通知公告", "预警信息", "问题产品下架通知", "专项整治", "自查提醒"]
    db.close()


@pytest.mark.parametrize("text", ["订阅号怎么注册", "怎么取消食品经营许可证", "关注食品安全有什么渠道"])
async def test_questions_with_command_words_stay_questions(client: TestClient, text: str) -> None:
    body = await (await client.post("/hooks/webhook/open", json=event(text))).json()
    assert "通知类别" not in body["reply"] and "订阅" not in body["reply"].split("。")[0]


async def test_an_internal_failure_is_a_json_500_and_the_platform_may_retry(
        client: TestClient, gateway_settings: Settings) -> None:
    db = open_db(gateway_settings.db)
    db.execute("ALTER TABLE enquiries RENAME TO enquiries_away")  # the database breaks under the gateway
    db.close()
    resp = await client.post("/hooks/webhook/open", json=event("小饭桌怎么备案", "broken-1"))
    assert resp.status == 500 and "内部错误" in (await resp.json())["error"]
    db = open_db(gateway_settings.db)
    db.execute("ALTER TABLE enquiries_away RENAME TO enquiries")
    db.close()
    retried = await client.post("/hooks/webhook/open", json=event("小饭桌怎么备案", "broken-1"))
    assert retried.status == 200 and (await retried.json())["answered"] is True


async def test_staff_ask_for_their_reminder_in_their_own_group(aiohttp_client: Any, tmp_path: Path) -> None:
    """待办 in a staff group ([reminders] to) lists today's reminder; in a business group it is just a message."""
    path = tmp_path / "staff.toml"
    path.write_text(CONFIG.replace('[[bots]]\nname = "console"', '[reminders]\nto = "内部"\n\n[[bots]]\nname = "console"')
                    + '\n[[groups]]\nname = "局办公室"\nbot = "open"\nchat = "staff-chat"\ntags = ["内部"]\n',
                    encoding="utf-8")
    settings = load_settings(str(path), environ={"HOOK_SECRET": SECRET}, db=str(tmp_path / "s.db"))
    client = await aiohttp_client(create_app(settings))
    quiet = await (await client.post("/hooks/webhook/open", json=event("今日待办", "t0", chat="staff-chat"))).json()
    assert quiet["reply"].endswith("没有需要提醒的事项。") and quiet["request_id"] is None
    lead = await (await client.post("/hooks/webhook/open", json=event("某小区的化粪池谁管", "t1"))).json()
    assert lead["request_id"]
    listed = await (await client.post("/hooks/webhook/open", json=event("有什么待办？", "t2", chat="staff-chat"))).json()
    assert listed["reply"].startswith("今日待办（") and "待甄别的群聊线索：1 件" in listed["reply"]
    assert "化粪池" not in listed["reply"]
    elsewhere = await (await client.post("/hooks/webhook/open", json=event("今日待办", "t3"))).json()
    assert "今日待办（" not in elsewhere["reply"]


async def test_an_answer_from_a_repealed_item_says_so(aiohttp_client: Any, gateway_settings: Settings,
                                                      tmp_path: Path) -> None:
    """Whether 有效性 says 废止 (a whole value, not 未废止) or the 废止日期 has come, the citizen is told."""
    path = tmp_path / "old.jsonl"
    path.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in (
        {"id": "old-1", "title": "小饭桌备案管理暂行办法", "category": "规范性文件", "published": "2013-05-01",
         "keywords": ["小饭桌", "备案"], "body": "小饭桌备案的条件和程序。", "validity": "废止"},
        {"id": "old-2", "title": "集体聚餐申报管理规定", "category": "规范性文件", "published": "2013-05-01",
         "keywords": ["集体聚餐", "申报"], "body": "农村集体聚餐的申报。", "repealed": "2020-01-01"},
        {"id": "old-3", "title": "餐饮油烟管理规定", "category": "规范性文件", "published": "2013-05-01",
         "keywords": ["餐饮油烟"], "body": "餐饮油烟的管理。", "validity": "未废止"},
    )), encoding="utf-8")
    db = open_db(gateway_settings.db)
    import_file(db, str(path), replace=True)
    db.close()
    client = await aiohttp_client(create_app(gateway_settings))
    for n, (question, marked) in enumerate((("小饭桌备案管理暂行办法", True), ("集体聚餐申报管理规定", True),
                                            ("餐饮油烟管理规定", False))):
        reply = await (await client.post("/hooks/webhook/open", json=event(question, f"r{n}"))).json()
        assert reply["answered"] and ("（已废止）" in reply["reply"]) is marked, reply["reply"]


async def test_groups_notices_cannot_reach_as_meant_are_named_at_start(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A Feishu app bot receives and answers, but pushes only through a custom-bot webhook: a group on it without
    one would have every notice die. The admin hears of it when the gateway starts, not from a dead delivery."""
    from config.settings import BotConfig, GroupConfig
    from web.runtime import Gateway

    app_bot = BotConfig("fs-app", "feishu", {"verification_token": "v", "app_id": "cli_a", "app_secret": "s"})
    push = BotConfig("dt", "dingtalk", {"webhook": "https://oapi.dingtalk.com/robot/send?access_token=t"})
    settings = Settings(db=str(tmp_path / "g.db"), bots=(app_bot, push), groups=(GroupConfig("飞书-药店", "fs-app", "oc_1"),))
    db = open_db(settings.db)  # two groups on one DingTalk robot, added by staff before that was refused
    for name in ("钉钉-东区", "钉钉-西区"):
        db["groups"].insert({"name": name, "bot": "dt", "chat": "", "tags": "[]", "subscriptions": "[]",
                             "source": "staff", "created_at": "2026-11-01T09:00:00+08:00"})
    db.close()
    gateway = Gateway(settings)
    await gateway.start()
    try:
        assert "群 飞书-药店 的机器人 fs-app 不能推送（缺少推送所需的 webhook 或 api_base）" in caplog.text
        assert "群 钉钉-西区：机器人 dt 的推送 webhook 只属于一个群，已由群 '钉钉-东区' 使用" in caplog.text
    finally:
        await gateway.stop()
